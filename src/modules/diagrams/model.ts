// TMI's MinimalDiagramModel cells: the semantics of a diagram without styling or layout — who contains
// whom, labels, flattened metadata, security boundaries, asset references and the flows between nodes.

export interface EdgeTerminal {
  cell: string;
  port?: string | null;
}

/** A node or an edge (node-only and edge-only members are null on the other). */
export interface MinimalCell {
  id: string;
  shape: string;
  labels: string[];
  metadata: Record<string, string>;
  dataAssetIds: string[];
  parent: string | null;
  children: string[] | null;
  securityBoundary: boolean | null;
  source: EdgeTerminal | null;
  target: EdgeTerminal | null;
}

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw => value !== null && typeof value === 'object' && !Array.isArray(value);
const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;
const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

const EDGE_SHAPES = new Set(['flow']);

/** A node's own label: X6's `attrs.text.text`, or the flat `label` convenience field. */
function nodeLabel(cell: Raw): string | undefined {
  const attrs = isObject(cell.attrs) ? cell.attrs : {};
  const textAttrs = isObject(attrs.text) ? attrs.text : {};
  return text(textAttrs.text) ?? text(cell.label);
}

/** An edge's labels: each X6 label's text (`attrs.text.text` or `attrs.label.text`), or `label`. */
function edgeLabels(cell: Raw): string[] {
  const labels = Array.isArray(cell.labels)
    ? cell.labels.flatMap((label) => {
        if (typeof label === 'string') return text(label) ? [label] : [];
        const attrs = isObject(label) && isObject(label.attrs) ? label.attrs : {};
        const value =
          (isObject(attrs.text) ? text(attrs.text.text) : undefined) ??
          (isObject(attrs.label) ? text(attrs.label.text) : undefined);
        return value ? [value] : [];
      })
    : [];
  const flat = text(cell.label);
  return labels.length === 0 && flat ? [flat] : labels;
}

function metadataOf(data: Raw): Record<string, string> {
  const entries = Array.isArray(data._metadata) ? data._metadata : [];
  return Object.fromEntries(
    entries.flatMap((entry) =>
      isObject(entry) && typeof entry.key === 'string' && typeof entry.value === 'string'
        ? [[entry.key, entry.value]]
        : [],
    ),
  );
}

function terminal(value: unknown): EdgeTerminal {
  const end = isObject(value) ? value : {};
  const port = text(end.port);
  return { cell: String(end.cell ?? ''), ...(port ? { port } : {}) };
}

/** Stored (validated) cells → TMI's minimal cells, with children computed both ways. */
export function minimalCells(stored: unknown): MinimalCell[] {
  const cells = (Array.isArray(stored) ? stored : []).filter(isObject);
  const byId = new Map(cells.map((cell) => [String(cell.id), cell]));
  const childrenOf = new Map<string, Set<string>>();
  for (const cell of cells) {
    if (EDGE_SHAPES.has(String(cell.shape))) continue;
    const id = String(cell.id);
    const children = childrenOf.get(id) ?? new Set<string>();
    for (const child of strings(cell.children)) children.add(child);
    childrenOf.set(id, children);
    const parent = text(cell.parent);
    if (parent) {
      const siblings = childrenOf.get(parent) ?? new Set<string>();
      siblings.add(id);
      childrenOf.set(parent, siblings);
    }
  }
  return cells.map((cell) => {
    const data = isObject(cell.data) ? cell.data : {};
    const common = {
      id: String(cell.id),
      shape: String(cell.shape),
      metadata: metadataOf(data),
      dataAssetIds: strings(data.data_assets),
    };
    if (EDGE_SHAPES.has(common.shape)) {
      return {
        ...common,
        labels: edgeLabels(cell),
        parent: null,
        children: null,
        securityBoundary: null,
        source: terminal(cell.source),
        target: terminal(cell.target),
      };
    }
    const children = [...(childrenOf.get(common.id) ?? [])];
    // Text boxes inside a node label it too.
    const childLabels = children.flatMap((childId) => {
      const child = byId.get(childId);
      const label = child && child.shape === 'text-box' ? nodeLabel(child) : undefined;
      return label ? [label] : [];
    });
    const own = nodeLabel(cell);
    return {
      ...common,
      labels: [...(own ? [own] : []), ...childLabels],
      parent: text(cell.parent) ?? null,
      children,
      securityBoundary: common.shape === 'security-boundary' || data.security_boundary === true,
      source: null,
      target: null,
    };
  });
}
