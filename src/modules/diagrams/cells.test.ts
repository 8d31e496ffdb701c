import { describe, expect, it } from 'vitest';
import { AppError } from '../../infra/errors/registry.js';
import { assertCellSet, isEdge, isNode, MAX_CELLS, NODE_SHAPES, parseCell, parseCells, type Cell } from './cells.js';

const ID = {
  user: '6b1f2e0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  boundary: '7c2a3f1b-4d5e-4f60-9bac-1d2e3f4a5b6c',
  web: '8d3b4a2c-5e6f-4071-8cbd-2e3f4a5b6c7d',
  db: '9e4c5b3d-6f70-4182-9dce-3f4a5b6c7d8e',
  note: 'af5d6c4e-7081-4293-aedf-4a5b6c7d8e9f',
  flow1: 'b06e7d5f-8192-43a4-bfe0-5b6c7d8e9fa0',
  flow2: 'c17f8e60-92a3-44b5-80f1-6c7d8e9fa0b1',
  asset: 'd2809f71-a3b4-45c6-9102-7d8e9fa0b1c2',
};

/** The field errors of a VALIDATION_FAILED thrown by `fn`. */
function fieldErrors(fn: () => unknown): { field: string; error: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    expect(appError.code).toBe('VALIDATION_FAILED');
    return (appError.details.context as { field_errors: { field: string; error: string }[] }).field_errors;
  }
  return expect.fail('expected a validation failure');
}

function fields(fn: () => unknown): string[] {
  return fieldErrors(fn).map((e) => e.field);
}

const flatNode = (shape: string, id = ID.web) => ({ id, shape, x: 10, y: 20, width: 120, height: 60 });
const edge = (source: string, target: string, id = ID.flow1) => ({
  id,
  shape: 'flow',
  source: { cell: source },
  target: { cell: target },
});

// Four ports, one per side, as the web client registers them on every node shape.
const portCircle = { r: 5, magnet: 'active', stroke: '#000000', strokeWidth: 1, fill: '#ffffff' };
const clientPorts = {
  groups: Object.fromEntries(
    ['top', 'right', 'bottom', 'left'].map((side) => [
      side,
      { position: side, attrs: { circle: { ...portCircle, style: { visibility: 'hidden' } } } },
    ]),
  ),
  items: ['top', 'right', 'bottom', 'left'].map((side) => ({ group: side, id: side })),
};
const label = (text: string) => ({
  text,
  fontSize: 12,
  fill: '#000000',
  fontFamily: "'Roboto Condensed', Arial, sans-serif",
  refX: '50%',
  refY: '50%',
  textAnchor: 'middle',
  textVerticalAnchor: 'middle',
});

/** A diagram as the X6-based web client saves it: X6 v2 nested geometry, ports, styling, embedding. */
const clientCells = () => [
  {
    id: ID.boundary.toUpperCase(),
    shape: 'security-boundary',
    position: { x: 300, y: 40 },
    size: { width: 500, height: 360 },
    angle: 0,
    attrs: {
      body: { fill: '#fafafa', stroke: '#333333', strokeWidth: 2, strokeDasharray: '5,5', rx: 10, ry: 10 },
      text: { ...label('DMZ'), refY: 15, textVerticalAnchor: 'top' },
    },
    ports: clientPorts,
    zIndex: -1,
    visible: true,
    children: [ID.web, ID.db],
    data: { _metadata: [{ key: 'zone', value: 'dmz' }], security_boundary: true },
  },
  {
    id: ID.user,
    shape: 'actor',
    position: { x: 40, y: 160 },
    size: { width: 120, height: 60 },
    angle: 0,
    attrs: { body: { fill: '#ffffff', stroke: '#000000', strokeWidth: 2 }, text: label('Customer') },
    ports: clientPorts,
    zIndex: 1,
    data: { _metadata: [] },
  },
  {
    id: ID.web,
    shape: 'process',
    position: { x: 360, y: 140 },
    size: { width: 140, height: 70 },
    attrs: { body: { fill: '#ffffff', stroke: '#000000', strokeWidth: 2, rx: 35, ry: 35 }, text: label('Web app') },
    ports: clientPorts,
    zIndex: 2,
    parent: ID.boundary,
    data: { _metadata: [{ key: 'technology', value: 'Node.js' }], data_assets: [ID.asset] },
  },
  {
    id: ID.db,
    shape: 'store',
    position: { x: 600, y: 140 },
    size: { width: 140, height: 80 },
    attrs: {
      body: { fill: '#ffffff', stroke: '#000000', strokeWidth: 2, lateral: 10, refWidth: '100%', refHeight: '100%' },
      text: label('Orders DB'),
    },
    ports: clientPorts,
    zIndex: 3,
    parent: ID.boundary,
    data: { _metadata: [] },
  },
  {
    id: ID.note,
    shape: 'text-box',
    position: { x: 40, y: 420 },
    size: { width: 200, height: 40 },
    attrs: { text: { ...label('Customers sign in with OIDC'), textAnchor: 'start', refX2: 8 } },
    zIndex: 4,
    data: { _metadata: [] },
  },
  {
    id: ID.flow1,
    shape: 'flow',
    source: { cell: ID.user, port: 'right' },
    target: { cell: ID.web, port: 'left' },
    vertices: [{ x: 250, y: 190 }],
    attrs: {
      line: { stroke: '#000000', strokeWidth: 2, targetMarker: { name: 'classic', size: 8 }, strokeDasharray: null },
    },
    labels: [{ attrs: { text: { text: 'HTTPS', fontSize: 12, fill: '#333333' } }, position: 0.5 }],
    router: { name: 'normal' },
    connector: { name: 'smooth' },
    zIndex: 5,
    data: { _metadata: [] },
  },
  {
    id: ID.flow2,
    shape: 'flow',
    source: { cell: ID.web, port: 'right' },
    target: { cell: ID.db, port: 'left' },
    attrs: { line: { stroke: '#000000', strokeWidth: 2, targetMarker: { name: 'block', size: 8 } } },
    labels: [
      {
        attrs: { text: { text: 'SQL' } },
        position: { distance: 0.5, offset: { x: 0, y: -10 }, angle: 0, options: { keepGradient: true } },
      },
    ],
    router: 'manhattan',
    connector: { name: 'rounded', args: { radius: 8 } },
    parent: ID.boundary,
    zIndex: 6,
    data: { _metadata: [] },
  },
];

describe('parseCell: nodes', () => {
  it.each(NODE_SHAPES)('accepts a %s node in flat form, unchanged', (shape) => {
    expect(parseCell(flatNode(shape))).toEqual({ id: ID.web, shape, x: 10, y: 20, width: 120, height: 60 });
  });

  it.each(NODE_SHAPES)('accepts a %s node in X6 nested form and returns it flat', (shape) => {
    const cell = parseCell({
      id: ID.web,
      shape,
      position: { x: -15.5, y: 0 },
      size: { width: 40, height: 30 },
      zIndex: 2,
    });
    expect(cell).toEqual({ id: ID.web, shape, x: -15.5, y: 0, width: 40, height: 30, zIndex: 2 });
    expect(Object.keys(cell)).toEqual(['id', 'shape', 'x', 'y', 'width', 'height', 'zIndex']);
  });

  it('lower-cases ids and links', () => {
    const cell = parseCell({
      ...flatNode('process', ID.web.toUpperCase()),
      parent: ID.boundary.toUpperCase(),
      children: [ID.note.toUpperCase()],
      data: { data_assets: [ID.asset.toUpperCase()] },
    });
    expect(cell).toMatchObject({
      id: ID.web,
      parent: ID.boundary,
      children: [ID.note],
      data: { data_assets: [ID.asset] },
    });
  });

  it('keeps properties X6 sends that TMI does not describe, and an empty or null parent', () => {
    const extra = {
      label: 'Authentication Service',
      markup: [{ tagName: 'rect', selector: 'body' }],
      tools: { items: ['button-remove'] },
      data: { _metadata: [], type: 'service', nested: { deep: [1, 'two', null, true] } },
    };
    expect(parseCell({ ...flatNode('process'), ...extra, parent: '' })).toEqual({
      ...flatNode('process'),
      ...extra,
      parent: '',
    });
    expect(parseCell({ ...flatNode('actor'), parent: null })).toMatchObject({ parent: null });
  });

  it('accepts the minimum sizes and number-or-percentage references', () => {
    const cell = parseCell({
      ...flatNode('store'),
      width: 40,
      height: 30,
      attrs: { body: { refWidth: 1, refHeight: '100%', fillOpacity: 0.5 }, text: { refX: 0.5, refY2: '10%' } },
    });
    expect(cell).toMatchObject({ width: 40, height: 30 });
  });
});

describe('parseCell: edges', () => {
  it('accepts a minimal edge', () => {
    expect(parseCell(edge(ID.user, ID.web))).toEqual(edge(ID.user, ID.web));
  });

  it('accepts ports, vertices, labels, router and connector', () => {
    const full = clientCells()[5]!;
    expect(parseCell(full)).toEqual(full);
    const other = clientCells()[6]!;
    expect(parseCell(other)).toEqual(other);
  });

  it('lower-cases terminal ids and keeps a null port', () => {
    const cell = parseCell({
      ...edge(ID.user.toUpperCase(), ID.web),
      source: { cell: ID.user.toUpperCase(), port: null },
    });
    expect(cell.source).toEqual({ cell: ID.user, port: null });
  });
});

describe('parseCells', () => {
  it('accepts an empty set', () => {
    expect(parseCells([])).toEqual([]);
  });

  it('accepts and normalizes a diagram as the web client saves it', () => {
    const cells = parseCells(clientCells());
    expect(cells).toHaveLength(7);
    expect(cells.filter(isNode).map((c) => [c.shape, c.x, c.y, c.width, c.height])).toEqual([
      ['security-boundary', 300, 40, 500, 360],
      ['actor', 40, 160, 120, 60],
      ['process', 360, 140, 140, 70],
      ['store', 600, 140, 140, 80],
      ['text-box', 40, 420, 200, 40],
    ]);
    expect(cells.filter(isEdge).map((c) => [c.source.cell, c.target.cell])).toEqual([
      [ID.user, ID.web],
      [ID.web, ID.db],
    ]);
    expect(cells[0]!.id).toBe(ID.boundary);
    for (const cell of cells) {
      expect(cell).not.toHaveProperty('position');
      expect(cell).not.toHaveProperty('size');
    }
    // Everything but the geometry and the id's case is stored as sent.
    const { position: _p, size: _s, ...boundary } = clientCells()[0]!;
    expect(cells[0]).toEqual({ ...boundary, id: ID.boundary, x: 300, y: 40, width: 500, height: 360 });
    expect(cells[5]).toEqual(clientCells()[5]);
  });

  it('reports every invalid cell, named by its index', () => {
    const errors = fieldErrors(() =>
      parseCells([
        flatNode('process'),
        { ...flatNode('actor', ID.user), width: 10 },
        { ...edge(ID.user, ID.web), target: {} },
      ]),
    );
    expect(errors).toEqual([
      { field: 'cells[1].width', error: 'must be at least 40' },
      { field: 'cells[2].target.cell', error: expect.stringContaining('is required') },
    ]);
  });

  it('uses the given path', () => {
    expect(fields(() => parseCells([{ ...flatNode('process'), id: 'x' }], 'input.cells'))).toEqual([
      'input.cells[0].id',
    ]);
  });

  it('refuses what is not an array of objects', () => {
    expect(fieldErrors(() => parseCells({}))).toEqual([{ field: 'cells', error: 'must be an array of cells' }]);
    expect(fieldErrors(() => parseCells([null, 'x', []]))).toEqual([
      { field: 'cells[0]', error: 'must be an object (a node or an edge)' },
      { field: 'cells[1]', error: 'must be an object (a node or an edge)' },
      { field: 'cells[2]', error: 'must be an object (a node or an edge)' },
    ]);
  });

  it(`refuses more than ${MAX_CELLS} cells`, () => {
    const tooMany = new Array(MAX_CELLS + 1).fill(null);
    expect(fieldErrors(() => parseCells(tooMany))).toEqual([
      { field: 'cells', error: `must contain at most ${MAX_CELLS} cells (got ${MAX_CELLS + 1})` },
    ]);
  });

  it(`accepts ${MAX_CELLS} cells`, () => {
    const hex = (i: number) => i.toString(16).padStart(12, '0');
    const many = Array.from({ length: MAX_CELLS }, (_, i) => flatNode('process', `00000000-0000-4000-8000-${hex(i)}`));
    expect(parseCells(many)).toHaveLength(MAX_CELLS);
  });

  it('caps the number of reported errors', () => {
    const bad = Array.from({ length: 500 }, () => ({ shape: 'process' }));
    expect(fieldErrors(() => parseCells(bad)).length).toBeLessThanOrEqual(100);
  });
});

describe('set-level rules', () => {
  it('refuses duplicate ids, also when they differ only in case', () => {
    expect(
      fieldErrors(() =>
        parseCells([flatNode('process', ID.web), flatNode('actor', ID.user), flatNode('store', ID.web.toUpperCase())]),
      ),
    ).toEqual([{ field: 'cells[2].id', error: `duplicate id ${ID.web}: cells[0] has the same id` }]);
  });

  it('refuses an edge to a missing node', () => {
    expect(fieldErrors(() => parseCells([flatNode('process', ID.web), edge(ID.web, ID.db)]))).toEqual([
      { field: 'cells[1].target.cell', error: `no cell with id ${ID.db} in this diagram` },
    ]);
  });

  it('refuses an edge to an edge', () => {
    const cells = [
      flatNode('process', ID.web),
      flatNode('store', ID.db),
      edge(ID.web, ID.db),
      edge(ID.flow1, ID.db, ID.flow2),
    ];
    expect(fieldErrors(() => parseCells(cells))).toEqual([
      { field: 'cells[3].source.cell', error: `${ID.flow1} is an edge (cells[2]); an edge must connect nodes` },
    ]);
  });

  it('accepts a loop from a node to itself', () => {
    expect(parseCells([flatNode('process', ID.web), edge(ID.web, ID.web)])).toHaveLength(2);
  });

  it('refuses a parent or child that is not in the set', () => {
    const cells = [
      { ...flatNode('process', ID.web), parent: ID.boundary },
      { ...flatNode('security-boundary', ID.db), children: [ID.web, ID.note] },
    ];
    expect(fieldErrors(() => parseCells(cells))).toEqual([
      { field: 'cells[0].parent', error: `no cell with id ${ID.boundary} in this diagram` },
      { field: 'cells[1].children[1]', error: `no cell with id ${ID.note} in this diagram` },
    ]);
  });

  it('refuses an edge or the cell itself as parent, and the cell itself as child', () => {
    const cells = [
      flatNode('process', ID.web),
      flatNode('store', ID.db),
      edge(ID.web, ID.db),
      { ...flatNode('actor', ID.user), parent: ID.flow1 },
      { ...flatNode('security-boundary', ID.boundary), parent: ID.boundary, children: [ID.boundary] },
    ];
    expect(fieldErrors(() => parseCells(cells))).toEqual([
      { field: 'cells[3].parent', error: `${ID.flow1} is an edge (cells[2]); a parent must be a node` },
      { field: 'cells[4].parent', error: 'a cell cannot be its own parent' },
      { field: 'cells[4].children[0]', error: 'a cell cannot be its own child' },
    ]);
  });

  it('refuses parent links that form a cycle', () => {
    const cells = [
      { ...flatNode('security-boundary', ID.boundary), parent: ID.web },
      { ...flatNode('process', ID.web), parent: ID.db },
      { ...flatNode('store', ID.db), parent: ID.boundary },
      { ...flatNode('actor', ID.user), parent: ID.boundary },
    ];
    expect(fieldErrors(() => parseCells(cells))).toEqual([
      { field: 'cells[0].parent', error: 'the parent links form a cycle' },
    ]);
  });

  it('does not check the set in parseCell, and assertCellSet checks validated cells', () => {
    const lone = parseCell(edge(ID.user, ID.web));
    expect(lone.id).toBe(ID.flow1);
    const cells: Cell[] = [parseCell(flatNode('process', ID.web)), lone];
    expect(fields(() => assertCellSet(cells, 'diagram.cells'))).toEqual(['diagram.cells[1].source.cell']);
  });
});

describe('invalid cells', () => {
  const cases: [string, unknown, { field: string; error: string | RegExp }[]][] = [
    [
      'unknown shape',
      { ...flatNode('process'), shape: 'database' },
      [
        {
          field: 'cell.shape',
          error: /^unknown shape "database": must be one of actor, process, .* or flow \(edges\)$/,
        },
      ],
    ],
    [
      'missing shape',
      { id: ID.web, x: 1, y: 1, width: 40, height: 30 },
      [{ field: 'cell.shape', error: /^is required/ }],
    ],
    [
      'shape of the wrong type',
      { ...flatNode('process'), shape: 7 },
      [{ field: 'cell.shape', error: /^unknown shape 7/ }],
    ],
    [
      'missing id',
      { shape: 'process', x: 1, y: 1, width: 40, height: 30 },
      [{ field: 'cell.id', error: 'is required' }],
    ],
    ['id not a UUID', { ...flatNode('process'), id: 'node-1' }, [{ field: 'cell.id', error: 'must be a UUID' }]],
    [
      'id too long',
      { ...flatNode('process'), id: `${ID.web}0` },
      [
        { field: 'cell.id', error: 'must be at most 36 characters' },
        { field: 'cell.id', error: 'must be a UUID' },
      ],
    ],
    [
      'non-finite coordinates',
      { ...flatNode('process'), x: Number.NaN, y: Number.POSITIVE_INFINITY },
      [
        { field: 'cell.x', error: 'must be a finite number' },
        { field: 'cell.y', error: 'must be a finite number' },
      ],
    ],
    [
      'non-finite nested position',
      { id: ID.web, shape: 'actor', position: { x: Number.NEGATIVE_INFINITY, y: 0 }, size: { width: 40, height: 30 } },
      [{ field: 'cell.position.x', error: 'must be a finite number' }],
    ],
    [
      'coordinate as a string',
      { ...flatNode('process'), x: '10' },
      [{ field: 'cell.x', error: 'must be a finite number' }],
    ],
    [
      'too small',
      { ...flatNode('process'), width: 39, height: 29.5 },
      [
        { field: 'cell.width', error: 'must be at least 40' },
        { field: 'cell.height', error: 'must be at least 30' },
      ],
    ],
    [
      'too small, nested',
      { id: ID.web, shape: 'store', position: { x: 0, y: 0 }, size: { width: 0, height: 30 } },
      [{ field: 'cell.size.width', error: 'must be at least 40' }],
    ],
    [
      'no geometry',
      { id: ID.web, shape: 'process' },
      [{ field: 'cell', error: 'a node needs its geometry: x, y, width and height (or position and size)' }],
    ],
    [
      'both geometry forms',
      { ...flatNode('process'), position: { x: 10, y: 20 }, size: { width: 120, height: 60 } },
      [{ field: 'cell', error: /either as x, y, width and height or as position and size, not both/ }],
    ],
    [
      'mixed geometry forms',
      { id: ID.web, shape: 'process', position: { x: 10, y: 20 }, width: 120, height: 60 },
      [{ field: 'cell', error: /not both/ }],
    ],
    [
      'incomplete flat geometry',
      { id: ID.web, shape: 'process', x: 1, y: 2 },
      [
        { field: 'cell.width', error: 'is required' },
        { field: 'cell.height', error: 'is required' },
      ],
    ],
    [
      'position without size',
      { id: ID.web, shape: 'process', position: { x: 1, y: 2 } },
      [{ field: 'cell.size', error: 'is required with position' }],
    ],
    [
      'extra field in position',
      { id: ID.web, shape: 'process', position: { x: 1, y: 2, z: 3 }, size: { width: 40, height: 30 } },
      [{ field: 'cell.position', error: 'unknown field(s): z' }],
    ],
    [
      'unknown node attrs selector',
      { ...flatNode('process'), attrs: { body: { fill: '#fff' }, icon: { fill: '#000' } } },
      [{ field: 'cell.attrs', error: 'unknown field(s): icon' }],
    ],
    [
      'unknown body attribute',
      { ...flatNode('process'), attrs: { body: { fill: '#fff', filter: 'drop-shadow' } } },
      [{ field: 'cell.attrs.body', error: 'unknown field(s): filter' }],
    ],
    [
      'bad colour',
      { ...flatNode('process'), attrs: { body: { fill: 'rgba(0,0,0,0.5)' } } },
      [{ field: 'cell.attrs.body.fill', error: /^must be a colour/ }],
    ],
    [
      'too-long label',
      { ...flatNode('process'), attrs: { text: { text: 'x'.repeat(257) } } },
      [{ field: 'cell.attrs.text.text', error: 'must be at most 256 characters' }],
    ],
    [
      'control characters in a label',
      { ...flatNode('process'), attrs: { text: { text: 'two\nlines' } } },
      [{ field: 'cell.attrs.text.text', error: 'must not contain control characters' }],
    ],
    [
      'bad text anchor',
      { ...flatNode('process'), attrs: { text: { textAnchor: 'left' } } },
      [{ field: 'cell.attrs.text.textAnchor', error: 'must be one of: start, middle, end' }],
    ],
    [
      'bad percentage',
      { ...flatNode('process'), attrs: { text: { refX: 'half' } } },
      [{ field: 'cell.attrs.text.refX', error: 'must be a number or a percentage like "50%"' }],
    ],
    [
      'bad port group side',
      { ...flatNode('process'), ports: { groups: { top: { position: 'up' } } } },
      [{ field: 'cell.ports.groups.top.position', error: 'must be one of: top, right, bottom, left' }],
    ],
    [
      'port item without group',
      { ...flatNode('process'), ports: { items: [{ id: 'top' }] } },
      [{ field: 'cell.ports.items[0].group', error: 'is required' }],
    ],
    [
      'unknown ports field',
      { ...flatNode('process'), ports: { items: [], layout: 'auto' } },
      [{ field: 'cell.ports', error: 'unknown field(s): layout' }],
    ],
    [
      'bad metadata entry',
      { ...flatNode('process'), data: { _metadata: [{ key: 'a b', value: 'x' }, { key: 'k' }] } },
      [
        { field: 'cell.data._metadata[0].key', error: /letters, digits/ },
        { field: 'cell.data._metadata[1].value', error: 'is required' },
      ],
    ],
    [
      'too many metadata entries',
      {
        ...flatNode('process'),
        data: { _metadata: Array.from({ length: 101 }, (_, i) => ({ key: `k${i}`, value: 'v' })) },
      },
      [{ field: 'cell.data._metadata', error: 'must contain at most 100 items' }],
    ],
    [
      'duplicate data asset',
      { ...flatNode('process'), data: { data_assets: [ID.asset, ID.asset.toUpperCase()] } },
      [{ field: 'cell.data.data_assets', error: 'must not contain the same asset twice' }],
    ],
    [
      'security_boundary not a boolean',
      { ...flatNode('process'), data: { security_boundary: 'yes' } },
      [{ field: 'cell.data.security_boundary', error: 'must be true or false' }],
    ],
    [
      'bad parent',
      { ...flatNode('process'), parent: 'root' },
      [{ field: 'cell.parent', error: 'must be a UUID (or empty)' }],
    ],
    [
      'bad child',
      { ...flatNode('process'), children: [ID.db, 'x'] },
      [{ field: 'cell.children[1]', error: 'must be a UUID' }],
    ],
    [
      'zIndex not a number',
      { ...flatNode('process'), zIndex: 'top' },
      [{ field: 'cell.zIndex', error: 'must be a finite number' }],
    ],
    [
      'too-long string in an undescribed property',
      { ...flatNode('process'), label: 'x'.repeat(10_001) },
      [{ field: 'cell.label', error: 'must be at most 10000 characters' }],
    ],
    [
      'too-long array deep in data',
      { ...flatNode('process'), data: { list: [{ items: new Array(1001).fill(0) }] } },
      [{ field: 'cell.data.list[0].items', error: 'must contain at most 1000 items' }],
    ],
    [
      'too deeply nested undescribed property',
      { ...flatNode('process'), markup: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown },
      [{ field: expect.stringMatching(/^cell\.markup(\[0\])+$/) as unknown as string, error: /nested too deeply/ }],
    ],
    [
      'too many properties on the cell',
      { ...flatNode('process'), ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, i])) },
      [{ field: 'cell', error: 'must have at most 256 properties' }],
    ],
    [
      'edge terminal as a point',
      { ...edge(ID.user, ID.web), target: { x: 10, y: 20 } },
      [
        { field: 'cell.target.cell', error: /^is required: an edge must connect two nodes/ },
        { field: 'cell.target', error: 'unknown field(s): x, y' },
      ],
    ],
    [
      'missing source',
      { id: ID.flow1, shape: 'flow', target: { cell: ID.web } },
      [{ field: 'cell.source', error: 'is required' }],
    ],
    [
      'terminal cell not a UUID',
      { ...edge(ID.user, ID.web), source: { cell: 'user' } },
      [{ field: 'cell.source.cell', error: 'must be the id (UUID) of a node' }],
    ],
    [
      'terminal with anchor',
      { ...edge(ID.user, ID.web), source: { cell: ID.user, anchor: 'center' } },
      [{ field: 'cell.source', error: 'unknown field(s): anchor' }],
    ],
    [
      'too-long port',
      { ...edge(ID.user, ID.web), source: { cell: ID.user, port: 'p'.repeat(65) } },
      [{ field: 'cell.source.port', error: 'must be at most 64 characters' }],
    ],
    [
      'bad vertex',
      { ...edge(ID.user, ID.web), vertices: [{ x: 1, y: 2 }, { x: 1 }, { x: 1, y: 2, z: 0 }] },
      [
        { field: 'cell.vertices[1].y', error: 'is required' },
        { field: 'cell.vertices[2]', error: 'unknown field(s): z' },
      ],
    ],
    [
      'too many vertices',
      { ...edge(ID.user, ID.web), vertices: Array.from({ length: 1001 }, () => ({ x: 0, y: 0 })) },
      [{ field: 'cell.vertices', error: 'must contain at most 1000 items' }],
    ],
    [
      'unknown edge attrs',
      { ...edge(ID.user, ID.web), attrs: { line: { stroke: '#000', targetMarker: { name: 'arrow' } }, wrap: {} } },
      [
        { field: 'cell.attrs.line.targetMarker.name', error: 'must be one of: classic, block, diamond, circle' },
        { field: 'cell.attrs', error: 'unknown field(s): wrap' },
      ],
    ],
    [
      'label with unknown attrs and a bad position',
      { ...edge(ID.user, ID.web), labels: [{ attrs: { label: { text: 'x' } } }, { position: { offset: 3 } }] },
      [
        { field: 'cell.labels[0].attrs', error: 'unknown field(s): label' },
        { field: 'cell.labels[1].position.distance', error: 'is required' },
      ],
    ],
    [
      'label position of the wrong type',
      { ...edge(ID.user, ID.web), labels: [{ position: 'middle' }] },
      [{ field: 'cell.labels[0].position', error: 'must be a number or { distance, offset?, angle?, options? }' }],
    ],
    [
      'unknown router',
      { ...edge(ID.user, ID.web), router: 'astar' },
      [{ field: 'cell.router', error: /^must be a router name \(normal, orth/ }],
    ],
    [
      'router object with an unknown name',
      { ...edge(ID.user, ID.web), router: { name: 'astar', args: { padding: 10 } } },
      [{ field: 'cell.router.name', error: /^must be one of: normal, orth/ }],
    ],
    [
      'connector object with bad args',
      { ...edge(ID.user, ID.web), connector: { name: 'jumpover', args: { jump: 'hop' } } },
      [{ field: 'cell.connector.args.jump', error: 'must be one of: arc, gap, cubic' }],
    ],
  ];

  it.each(cases)('%s', (_name, raw, expected) => {
    const errors = fieldErrors(() => parseCell(raw));
    expect(errors).toEqual(
      expected.map(({ field, error }) => ({
        field,
        error: typeof error === 'string' ? error : expect.stringMatching(error),
      })),
    );
  });

  it('says what went wrong in the error message', () => {
    try {
      parseCells([{ ...flatNode('process'), shape: 'database' }]);
      expect.fail('expected a validation failure');
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).message).toMatch(/^Invalid input: cells\[0\]\.shape: unknown shape "database"/);
    }
  });
});
