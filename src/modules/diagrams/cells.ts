// A diagram's cells: TMI's Node and Edge schemas (AntV X6 cells), validated and normalized.
//
// The schemas follow TMI's OpenAPI `Node`, `Edge`, `EdgeTerminal`, `Point`, `NodeAttrs`, `EdgeAttrs`,
// `EdgeLabel`, `EdgeRouter`, `EdgeConnector` and `PortConfiguration`: objects the contract closes
// (`additionalProperties: false`) refuse unknown fields; open ones (the cell itself, `data`, port groups,
// router/connector args) keep what X6 sends, bounded in size by CELL_JSON_LIMITS. They are built once, here.

import { z } from 'zod';
import { AppError } from '../../infra/errors/registry.js';
import { metadataEntrySchema } from '../metadata/input.js';

export const NODE_SHAPES = ['actor', 'process', 'store', 'security-boundary', 'text-box'] as const;
export const EDGE_SHAPES = ['flow'] as const;
/** TMI's `maxItems` for a diagram's cells. */
export const MAX_CELLS = 10_000;

export type NodeShape = (typeof NODE_SHAPES)[number];
export type EdgeShape = (typeof EDGE_SHAPES)[number];

/** A validated cell as stored and returned: nodes carry flat x/y/width/height. */
export type Cell = Record<string, unknown> & { id: string; shape: string };

export interface EdgeTerminal {
  cell: string;
  port?: string | null;
}

export type NodeCell = Cell & {
  shape: NodeShape;
  x: number;
  y: number;
  width: number;
  height: number;
  parent?: string | null;
  children?: string[];
};

export type EdgeCell = Cell & {
  shape: EdgeShape;
  source: EdgeTerminal;
  target: EdgeTerminal;
  parent?: string | null;
  children?: string[];
};

const NODE_SHAPE_SET: ReadonlySet<string> = new Set(NODE_SHAPES);

export function isNode(cell: Cell): cell is NodeCell {
  return NODE_SHAPE_SET.has(cell.shape);
}

export function isEdge(cell: Cell): cell is EdgeCell {
  return cell.shape === 'flow';
}

// ── Building blocks ────────────────────────────────────────────────────────────────────────────────

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UUID_OR_EMPTY = /^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const NO_CONTROL_CHARS = /^[^\x00-\x1F]*$/;
const COLOR = /^(#[0-9a-fA-F]*|rgb\( *[0-9]+ *, *[0-9]+ *, *[0-9]+ *\)|[a-z]+)$/;
// TMI's pattern means numbers separated by commas (its escaping of the dot is broken); SVG also separates
// by blanks, which X6 passes through, so both are accepted.
const DASH_ARRAY = /^$|^[0-9]+(\.[0-9]+)?([ ,]+[0-9]+(\.[0-9]+)?)*$/;
const PERCENT = /^\d+%$/;
const FONT_FAMILY = /^[a-zA-Z0-9 ,'-]*$/;

/** A UUID, any version, normalized to lower case. */
const uuid = z.string().max(36).regex(UUID, 'must be a UUID').toLowerCase();
const optionalParent = z
  .string()
  .max(36)
  .regex(UUID_OR_EMPTY, 'must be a UUID (or empty)')
  .toLowerCase()
  .nullable()
  .optional();

/** Finite number (zod 4 refuses NaN and ±Infinity). */
const num = z.number();
const color = z.string().max(32).regex(COLOR, 'must be a colour: #rrggbb, rgb(r, g, b) or a lower-case name');
const text = (max: number) => z.string().max(max).regex(NO_CONTROL_CHARS, 'must not contain control characters');
const numberOrPercent = z.union([num, z.string().regex(PERCENT, 'must be a number or a percentage like "50%"')], {
  error: 'must be a number or a percentage like "50%"',
});
const dashArray = z
  .string()
  .max(64)
  .regex(DASH_ARRAY, 'must be numbers separated by commas, like "5,5"')
  .nullable()
  .optional();
const fontFamily = z.string().max(64).regex(FONT_FAMILY, "may contain letters, digits, blanks and , ' - only");

/**
 * Bounds on the whole cell, checked once it matches the schemas; they matter for the parts the contract
 * leaves open (X6 properties TMI does not describe, `data`, port and router attributes), which are kept
 * as sent. The described parts have tighter limits of their own.
 */
export const CELL_JSON_LIMITS = { depth: 32, stringLength: 10_000, arrayLength: 1_000, keys: 1_000, values: 50_000 };

interface JsonWalk {
  budget: number;
  path: (string | number)[];
  problem?: string;
}

function walkJson(v: unknown, depth: number, w: JsonWalk): boolean {
  if (--w.budget < 0) {
    w.problem = `is too large (more than ${CELL_JSON_LIMITS.values} values in one cell)`;
    return false;
  }
  switch (typeof v) {
    case 'string':
      if (v.length <= CELL_JSON_LIMITS.stringLength) return true;
      w.problem = `must be at most ${CELL_JSON_LIMITS.stringLength} characters`;
      return false;
    case 'number':
      if (Number.isFinite(v)) return true;
      w.problem = 'must be a finite number';
      return false;
    case 'boolean':
      return true;
    case 'object': {
      if (v === null) return true;
      if (depth >= CELL_JSON_LIMITS.depth) {
        w.problem = `is nested too deeply (more than ${CELL_JSON_LIMITS.depth} levels)`;
        return false;
      }
      if (Array.isArray(v)) {
        if (v.length > CELL_JSON_LIMITS.arrayLength) {
          w.problem = `must contain at most ${CELL_JSON_LIMITS.arrayLength} items`;
          return false;
        }
        for (let i = 0; i < v.length; i++) {
          w.path.push(i);
          if (!walkJson(v[i], depth + 1, w)) return false;
          w.path.pop();
        }
        return true;
      }
      let keys = 0;
      for (const key in v) {
        if (++keys > CELL_JSON_LIMITS.keys) {
          w.problem = `must have at most ${CELL_JSON_LIMITS.keys} properties`;
          return false;
        }
        w.path.push(key);
        if (key.length > 256) {
          w.problem = 'property name must be at most 256 characters';
          return false;
        }
        if (!walkJson((v as Record<string, unknown>)[key], depth + 1, w)) return false;
        w.path.pop();
      }
      return true;
    }
    default:
      w.problem = 'must be a JSON value';
      return false;
  }
}

/** Appends the first breach of CELL_JSON_LIMITS in `value` (a cell) to `out`; true when there is none. */
function checkJsonBounds(value: unknown, base: string, out: FieldError[]): boolean {
  const w: JsonWalk = { budget: CELL_JSON_LIMITS.values, path: [] };
  if (walkJson(value, 0, w)) return true;
  out.push({ field: fieldPath(base, w.path), error: w.problem! });
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Any JSON value the contract leaves open: kept as sent, bounded by CELL_JSON_LIMITS. */
const freeJson = z.unknown();
const freeObject = z.custom<Record<string, unknown>>(isPlainObject, 'must be an object');

const point = z.strictObject({ x: num, y: num });

// ── Node ───────────────────────────────────────────────────────────────────────────────────────────

const nodeAttrs = z.strictObject({
  body: z
    .strictObject({
      fill: color.optional(),
      stroke: color.optional(),
      strokeWidth: num.min(0).optional(),
      strokeDasharray: dashArray,
      rx: num.min(0).optional(),
      ry: num.min(0).optional(),
      lateral: num.optional(),
      refWidth: numberOrPercent.optional(),
      refHeight: numberOrPercent.optional(),
      fillOpacity: num.min(0).max(1).optional(),
    })
    .optional(),
  text: z
    .strictObject({
      text: text(256).optional(),
      fontSize: num.min(1).optional(),
      fill: color.optional(),
      fontFamily: fontFamily.optional(),
      refX: numberOrPercent.optional(),
      refY: numberOrPercent.optional(),
      refDx: num.optional(),
      refDy: num.optional(),
      refX2: numberOrPercent.optional(),
      refY2: numberOrPercent.optional(),
      textAnchor: z.enum(['start', 'middle', 'end']).optional(),
      textVerticalAnchor: z.enum(['top', 'middle', 'bottom']).optional(),
    })
    .optional(),
});

const portSide = z.enum(['top', 'right', 'bottom', 'left']);

const ports = z.strictObject({
  groups: z
    .record(
      z.string().max(64),
      z.object({ position: portSide.optional(), attrs: freeObject.optional() }).catchall(freeJson),
    )
    .optional(),
  items: z
    .array(z.object({ id: text(64), group: text(32), attrs: freeObject.optional() }).catchall(freeJson))
    .max(1000)
    .optional(),
});

const cellData = z
  .object({
    _metadata: z.array(metadataEntrySchema).max(100).optional(),
    security_boundary: z.boolean().optional(),
    // TMI says minItems 1; an empty list is accepted (it means "none", and clients clear lists so).
    data_assets: z
      .array(uuid)
      .max(100)
      .refine((ids) => new Set(ids).size === ids.length, 'must not contain the same asset twice')
      .optional(),
  })
  .catchall(freeJson);

/** Properties every cell may carry (TMI's Cell, plus X6's zIndex/visible and the parent/children links). */
const common = {
  id: uuid,
  data: cellData.optional(),
  parent: optionalParent,
  children: z.array(uuid).max(1000).optional(),
  zIndex: num.optional(),
  visible: z.boolean().optional(),
};

const nodeSchema = z
  .object({
    ...common,
    shape: z.enum(NODE_SHAPES),
    position: z.strictObject({ x: num, y: num }).optional(),
    size: z.strictObject({ width: num.min(40), height: num.min(30) }).optional(),
    x: num.optional(),
    y: num.optional(),
    width: num.min(40).optional(),
    height: num.min(30).optional(),
    angle: num.optional(),
    attrs: nodeAttrs.optional(),
    ports: ports.optional(),
  })
  .catchall(freeJson);

// ── Edge ───────────────────────────────────────────────────────────────────────────────────────────

const terminal = z.strictObject({
  cell: z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'is required: an edge must connect two nodes ({ cell, port }); point terminals are not supported'
          : 'must be the id (UUID) of a node',
    })
    .max(36)
    .regex(UUID, 'must be the id (UUID) of a node')
    .toLowerCase(),
  port: text(64).nullable().optional(),
});

const marker = z.strictObject({
  name: z.enum(['classic', 'block', 'diamond', 'circle']).optional(),
  size: num.min(1).optional(),
});

const edgeAttrs = z.strictObject({
  line: z
    .strictObject({
      stroke: color.optional(),
      strokeWidth: num.min(0).optional(),
      strokeDasharray: dashArray,
      targetMarker: marker.optional(),
      sourceMarker: marker.optional(),
    })
    .optional(),
});

const edgeLabel = z.strictObject({
  attrs: z
    .strictObject({
      text: z
        .strictObject({
          text: text(256).optional(),
          fontSize: num.min(1).optional(),
          fill: color.optional(),
          fontFamily: fontFamily.optional(),
        })
        .optional(),
    })
    .optional(),
  position: z
    .union(
      [
        num,
        z.strictObject({
          distance: num,
          offset: z
            .union([num, z.strictObject({ x: num.optional(), y: num.optional() })], {
              error: 'must be a number or { x, y }',
            })
            .optional(),
          angle: num.optional(),
          options: z
            .strictObject({
              absoluteDistance: z.boolean().optional(),
              reverseDistance: z.boolean().optional(),
              absoluteOffset: z.boolean().optional(),
              keepGradient: z.boolean().optional(),
              ensureLegibility: z.boolean().optional(),
            })
            .optional(),
        }),
      ],
      { error: 'must be a number or { distance, offset?, angle?, options? }' },
    )
    .optional(),
});

const ROUTERS = ['normal', 'orth', 'one_side', 'manhattan', 'metro', 'er'] as const;
const CONNECTORS = ['normal', 'rounded', 'smooth', 'jumpover'] as const;

const router = z.union(
  [
    z.enum(ROUTERS),
    z.strictObject({
      name: z.enum(ROUTERS),
      args: z
        .object({ padding: num.optional(), step: num.optional(), directions: z.array(portSide).max(1000).optional() })
        .catchall(freeJson)
        .optional(),
    }),
  ],
  { error: `must be a router name (${ROUTERS.join(', ')}) or { name, args }` },
);

const connector = z.union(
  [
    z.enum(CONNECTORS),
    z.strictObject({
      name: z.enum(CONNECTORS),
      args: z
        .object({
          radius: num.optional(),
          precision: num.optional(),
          size: num.optional(),
          jump: z.enum(['arc', 'gap', 'cubic']).optional(),
        })
        .catchall(freeJson)
        .optional(),
    }),
  ],
  { error: `must be a connector name (${CONNECTORS.join(', ')}) or { name, args }` },
);

const edgeSchema = z
  .object({
    ...common,
    shape: z.literal('flow'),
    source: terminal,
    target: terminal,
    attrs: edgeAttrs.optional(),
    labels: z.array(edgeLabel).max(1000).optional(),
    vertices: z.array(point).max(1000).optional(),
    router: router.optional(),
    connector: connector.optional(),
    defaultLabel: edgeLabel.optional(),
  })
  .catchall(freeJson);

// ── Errors ─────────────────────────────────────────────────────────────────────────────────────────

export interface FieldError {
  field: string;
  error: string;
}

/** At most this many field errors are reported (and collected) for one request. */
const MAX_FIELD_ERRORS = 100;
/** The cell itself may carry at most this many properties. */
const MAX_CELL_PROPERTIES = 256;

function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a finite number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
};

/** zod's own messages start so; the schemas' custom messages do not and are kept. */
const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too (big|small)|Unrecognized)\b/;

function describe(issue: z.core.$ZodIssue): string {
  if (!ZOD_DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}${issue.input === null ? ', not null' : ''}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `must contain at most ${issue.maximum} items`;
      return `must be at most ${issue.maximum}`;
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must contain at least ${issue.minimum} items`;
      return `must be at least ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

/** Turns zod issues into field errors named like `cells[3].source.cell`. */
function collectIssues(issues: readonly z.core.$ZodIssue[], base: string, out: FieldError[]): void {
  for (const issue of issues) {
    if (out.length >= MAX_FIELD_ERRORS) return;
    const field = fieldPath(base, issue.path);
    if (issue.code === 'unrecognized_keys') {
      out.push({ field, error: `unknown field(s): ${issue.keys.join(', ')}` });
    } else if (issue.code === 'invalid_union') {
      // When exactly one branch took the input itself and failed only inside it (an object given for a
      // router, say), report that branch's problems; otherwise the union's own message.
      const matched = issue.errors.filter(
        (branch) => !branch.some((i) => i.path.length === 0 && i.code !== 'unrecognized_keys'),
      );
      if (matched.length === 1) collectIssues(matched[0]!, field, out);
      else out.push({ field, error: issue.message });
    } else {
      out.push({ field, error: describe(issue) });
    }
  }
}

function fail(errors: readonly FieldError[]): never {
  const shown = errors.slice(0, 10).map((e) => `${e.field}: ${e.error}`);
  const more = errors.length > shown.length ? `; and ${errors.length - shown.length} more` : '';
  throw new AppError('VALIDATION_FAILED', `Invalid input: ${shown.join('; ')}${more}`, {
    context: { field_errors: errors },
    suggestion: 'Correct the validation errors and retry the request',
  });
}

// ── Parsing ────────────────────────────────────────────────────────────────────────────────────────

const SHAPE_LIST = `${NODE_SHAPES.join(', ')} (nodes) or ${EDGE_SHAPES.join(', ')} (edges)`;
const PARSE_OPTIONS = { reportInput: true } as const;

/** A node's geometry: flat (x, y, width, height) or X6's (position, size), never both, never neither. */
function checkGeometry(raw: Record<string, unknown>, path: string, out: FieldError[]): void {
  const nested = raw.position !== undefined || raw.size !== undefined;
  const flat = raw.x !== undefined || raw.y !== undefined || raw.width !== undefined || raw.height !== undefined;
  if (nested && flat) {
    out.push({
      field: path,
      error: 'give the geometry either as x, y, width and height or as position and size, not both',
    });
  } else if (nested) {
    if (raw.position === undefined) out.push({ field: `${path}.position`, error: 'is required with size' });
    if (raw.size === undefined) out.push({ field: `${path}.size`, error: 'is required with position' });
  } else if (flat) {
    for (const key of ['x', 'y', 'width', 'height'] as const) {
      if (raw[key] === undefined) out.push({ field: `${path}.${key}`, error: 'is required' });
    }
  } else {
    out.push({ field: path, error: 'a node needs its geometry: x, y, width and height (or position and size)' });
  }
}

type ParsedNode = z.output<typeof nodeSchema>;

function flattenNode(node: ParsedNode): Cell {
  const { id, shape, position, size, x, y, width, height, ...rest } = node;
  return {
    id,
    shape,
    x: position?.x ?? x,
    y: position?.y ?? y,
    width: size?.width ?? width,
    height: size?.height ?? height,
    ...rest,
  };
}

/** Validates one cell; appends problems to `out` and returns the normalized cell when there are none. */
function parseOne(raw: unknown, path: string, out: FieldError[]): Cell | undefined {
  if (!isPlainObject(raw)) {
    out.push({ field: path, error: 'must be an object (a node or an edge)' });
    return undefined;
  }
  const shape = raw.shape;
  if (shape === undefined) {
    out.push({ field: `${path}.shape`, error: `is required: one of ${SHAPE_LIST}` });
    return undefined;
  }
  const node = typeof shape === 'string' && NODE_SHAPE_SET.has(shape);
  if (!node && shape !== 'flow') {
    const shown = typeof shape === 'string' ? `"${shape.slice(0, 64)}"` : JSON.stringify(shape);
    out.push({ field: `${path}.shape`, error: `unknown shape ${shown}: must be one of ${SHAPE_LIST}` });
    return undefined;
  }
  let properties = 0;
  for (const _key in raw) properties++;
  if (properties > MAX_CELL_PROPERTIES) {
    out.push({ field: path, error: `must have at most ${MAX_CELL_PROPERTIES} properties` });
    return undefined;
  }
  const before = out.length;
  if (node) {
    checkGeometry(raw, path, out);
    const result = nodeSchema.safeParse(raw, PARSE_OPTIONS);
    if (!result.success) collectIssues(result.error.issues, path, out);
    if (out.length !== before || !result.success || !checkJsonBounds(raw, path, out)) return undefined;
    return flattenNode(result.data);
  }
  const result = edgeSchema.safeParse(raw, PARSE_OPTIONS);
  if (!result.success) {
    collectIssues(result.error.issues, path, out);
    return undefined;
  }
  return checkJsonBounds(raw, path, out) ? (result.data as Cell) : undefined;
}

function parentOf(cell: Cell): string | undefined {
  const parent = cell.parent;
  return typeof parent === 'string' && parent !== '' ? parent : undefined;
}

/**
 * The checks on a whole set of (already validated) cells: unique ids; every edge's source and target
 * name a node of the set; `parent` names a node of the set, `children` cells of the set; no cell is its
 * own ancestor. Returns the problems (at most MAX_FIELD_ERRORS).
 */
export function cellSetErrors(cells: readonly Cell[], path = 'cells'): FieldError[] {
  const out: FieldError[] = [];
  const push = (field: string, error: string) => {
    if (out.length < MAX_FIELD_ERRORS) out.push({ field, error });
  };
  const index = new Map<string, number>();
  for (let i = 0; i < cells.length; i++) {
    const id = cells[i]!.id;
    const first = index.get(id);
    if (first === undefined) index.set(id, i);
    else push(`${path}[${i}].id`, `duplicate id ${id}: ${path}[${first}] has the same id`);
  }
  if (out.length) return out;

  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    if (isEdge(cell)) {
      for (const end of ['source', 'target'] as const) {
        const id = cell[end].cell;
        const j = index.get(id);
        if (j === undefined) push(`${path}[${i}].${end}.cell`, `no cell with id ${id} in this diagram`);
        else if (!isNode(cells[j]!)) {
          push(`${path}[${i}].${end}.cell`, `${id} is an edge (${path}[${j}]); an edge must connect nodes`);
        }
      }
    }
    const parent = parentOf(cell);
    if (parent !== undefined) {
      const j = index.get(parent);
      if (j === undefined) push(`${path}[${i}].parent`, `no cell with id ${parent} in this diagram`);
      else if (j === i) push(`${path}[${i}].parent`, 'a cell cannot be its own parent');
      else if (!isNode(cells[j]!))
        push(`${path}[${i}].parent`, `${parent} is an edge (${path}[${j}]); a parent must be a node`);
    }
    const children = cell.children;
    if (Array.isArray(children)) {
      for (let k = 0; k < children.length; k++) {
        const child = children[k] as string;
        const j = index.get(child);
        if (j === undefined) push(`${path}[${i}].children[${k}]`, `no cell with id ${child} in this diagram`);
        else if (j === i) push(`${path}[${i}].children[${k}]`, 'a cell cannot be its own child');
      }
    }
  }
  if (out.length) return out;

  // Parent chains must end: 0 unvisited, 1 on the current chain, 2 known to end.
  const state = new Uint8Array(cells.length);
  for (let i = 0; i < cells.length; i++) {
    const chain: number[] = [];
    let at: number | undefined = i;
    while (at !== undefined && state[at] === 0) {
      state[at] = 1;
      chain.push(at);
      const parent = parentOf(cells[at]!);
      at = parent === undefined ? undefined : index.get(parent);
    }
    if (at !== undefined && state[at] === 1) push(`${path}[${at}].parent`, 'the parent links form a cycle');
    for (const c of chain) state[c] = 2;
  }
  return out;
}

/**
 * Validates cells against TMI's Node/Edge schemas and normalizes them (node geometry accepted flat or
 * as X6 `position`/`size`, returned flat; ids lower-cased). Throws AppError VALIDATION_FAILED with
 * `field_errors` naming the cell (`cells[3].source.cell`) on any problem, including duplicate ids and
 * edges whose source/target is not a node of the same set.
 */
export function parseCells(raw: unknown, path = 'cells'): Cell[] {
  if (!Array.isArray(raw)) fail([{ field: path, error: 'must be an array of cells' }]);
  if (raw.length > MAX_CELLS) {
    fail([{ field: path, error: `must contain at most ${MAX_CELLS} cells (got ${raw.length})` }]);
  }
  const errors: FieldError[] = [];
  const cells: Cell[] = new Array<Cell>(raw.length);
  for (let i = 0; i < raw.length && errors.length < MAX_FIELD_ERRORS; i++) {
    const cell = parseOne(raw[i], `${path}[${i}]`, errors);
    if (cell) cells[i] = cell;
  }
  if (errors.length) fail(errors);
  const setErrors = cellSetErrors(cells, path);
  if (setErrors.length) fail(setErrors);
  return cells;
}

/** Validates and normalizes one cell (for cell-level operations), without the set-level checks. */
export function parseCell(raw: unknown, path = 'cell'): Cell {
  const errors: FieldError[] = [];
  const cell = parseOne(raw, path, errors);
  if (!cell || errors.length) fail(errors);
  return cell;
}

/** Throws VALIDATION_FAILED when a set of validated cells breaks the set-level rules (see cellSetErrors). */
export function assertCellSet(cells: readonly Cell[], path = 'cells'): void {
  const errors = cellSetErrors(cells, path);
  if (errors.length) fail(errors);
}
