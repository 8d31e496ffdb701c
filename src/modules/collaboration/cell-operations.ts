import { z } from 'zod';
import { AppError } from '../../infra/errors/registry.js';
import { assertCellSet, type Cell, parseCell } from '../diagrams/cells.js';

// TMI's CellPatchOperation: a batch of cell operations (add, update, remove) applied as one change.

/** One cell operation as clients send it; `data` is the whole cell for add and update. */
export interface CellOperation {
  id: string;
  operation: 'add' | 'update' | 'remove';
  data?: Cell;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const cellOperationSchema = z.strictObject({
  id: z.string().regex(UUID, 'must be a UUID'),
  operation: z.enum(['add', 'update', 'remove']),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** The whole request (TMI's `{type: "patch", cells: [...]}`), at most 1,000 cells at once. */
export const cellPatchSchema = z.strictObject({
  type: z.literal('patch'),
  cells: z.array(cellOperationSchema).min(1, 'must name at least one cell').max(1000),
});

/** Why an operation cannot apply, in TMI's `operation_rejected` reasons. */
export type RejectionReason =
  | 'validation_failed'
  | 'conflict_detected'
  | 'no_state_change'
  | 'diagram_not_found'
  | 'permission_denied'
  | 'invalid_operation_type'
  | 'empty_operation';

export class OperationRejected extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string,
    readonly affectedCells: string[] = [],
    readonly details?: string,
  ) {
    super(message);
  }
}

export interface AppliedOperations {
  cells: Cell[];
  /** The operations as applied (ids lower-cased, data validated and normalized). */
  applied: CellOperation[];
  /** The operations that take the result back to the cells before (in the order to apply them). */
  inverse: CellOperation[];
  affectedCells: string[];
}

/** Validates the shape of a batch; cell data is validated as it is applied. */
export function parseCellOperations(raw: unknown): CellOperation[] {
  const parsed = cellPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const empty = issue.path[0] === 'cells' && issue.code === 'too_small';
    throw new OperationRejected(
      empty ? 'empty_operation' : issue.path.includes('operation') ? 'invalid_operation_type' : 'validation_failed',
      `Invalid operation: ${issue.path.join('.') || 'operation'}: ${issue.message}`,
    );
  }
  return parsed.data.cells.map((op) => ({
    id: op.id.toLowerCase(),
    operation: op.operation,
    ...(op.data ? { data: op.data as Cell } : {}),
  }));
}

/**
 * Applies a batch to a diagram's cells: adds need a new id, updates and removes an existing one, and
 * the result must be a valid cell set (edges attached to nodes that exist, …). Throws OperationRejected.
 */
export function applyCellOperations(current: readonly Cell[], operations: CellOperation[]): AppliedOperations {
  const cells = new Map(current.map((cell) => [cell.id, cell]));
  const order = current.map((cell) => cell.id);
  const applied: CellOperation[] = [];
  const inverse: CellOperation[] = [];
  const seen = new Set<string>();
  for (const [index, op] of operations.entries()) {
    if (seen.has(op.id)) {
      throw new OperationRejected('validation_failed', `Cell ${op.id} appears more than once in the operation`, [
        op.id,
      ]);
    }
    seen.add(op.id);
    const before = cells.get(op.id);
    if (op.operation === 'remove') {
      if (!before) throw new OperationRejected('conflict_detected', `Cell ${op.id} does not exist`, [op.id]);
      cells.delete(op.id);
      applied.push({ id: op.id, operation: 'remove' });
      inverse.unshift({ id: op.id, operation: 'add', data: before });
      continue;
    }
    if (!op.data) {
      throw new OperationRejected('validation_failed', `An ${op.operation} needs the cell's data`, [op.id]);
    }
    // The older `diagram_operation` message leaves the id out of the data: it is the operation's.
    const data = parseCellData(op.data.id === undefined ? { ...op.data, id: op.id } : op.data, index);
    if (data.id !== op.id) {
      throw new OperationRejected(
        'validation_failed',
        'The cell data id must match the operation id',
        [op.id],
        `cell data ID (${data.id}) must match operation ID (${op.id})`,
      );
    }
    if (op.operation === 'add') {
      if (before) throw new OperationRejected('conflict_detected', `Cell ${op.id} already exists`, [op.id]);
      order.push(op.id);
      inverse.unshift({ id: op.id, operation: 'remove' });
    } else {
      if (!before) throw new OperationRejected('conflict_detected', `Cell ${op.id} does not exist`, [op.id]);
      inverse.unshift({ id: op.id, operation: 'update', data: before });
    }
    cells.set(op.id, data);
    applied.push({ id: op.id, operation: op.operation, data });
  }
  const next = order.filter((id) => cells.has(id)).map((id) => cells.get(id)!);
  const affectedCells = [...seen];
  if (sameCells(current, next)) {
    throw new OperationRejected('no_state_change', 'The operation changes nothing', affectedCells);
  }
  try {
    assertCellSet(next);
  } catch (error) {
    throw new OperationRejected('validation_failed', describe(error), affectedCells);
  }
  return { cells: next, applied, inverse, affectedCells };
}

function parseCellData(data: Cell, index: number): Cell {
  try {
    return parseCell(data, `cells[${index}].data`);
  } catch (error) {
    throw new OperationRejected('validation_failed', describe(error), [String(data.id ?? '')]);
  }
}

function describe(error: unknown): string {
  return error instanceof AppError || error instanceof Error ? error.message : 'invalid cells';
}

/**
 * Whether two cell lists hold the same cells in the same order. Cells compare by value whatever the order of
 * their keys: read back from the database (jsonb orders keys its own way) or as validated, a cell is the same.
 */
function sameCells(a: readonly Cell[], b: readonly Cell[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((cell, index) => sameValue(cell, b[index]));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => sameValue(item, other[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  if (keys.length !== Object.keys(right).filter((key) => right[key] !== undefined).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameValue(left[key], right[key]));
}
