import type { DiagramModel } from '../src/modules/diagrams/service.js';
import { DiagramService } from '../src/modules/diagrams/service.js';
import type {
  EdgeTerminal as EdgeTerminalShape,
  MinimalCell as MinimalCellShape,
} from '../src/modules/diagrams/model.js';
import { AssetRef } from './asset-types.js';
import { builder } from './builder.js';
import { addChildOperations } from './children.js';
import { DiagramRef } from './diagram-types.js';
import { MetadataEntryInput } from './principals.js';
import { JsonPatchOperationInput } from './threat-models.js';

const DiagramImageInput = builder.inputType('DiagramImageInput', {
  fields: (t) => ({
    svg: t.string({ description: 'Base64-encoded SVG' }),
    updateVector: t.int({ description: "Defaults to the diagram's update vector after the change" }),
  }),
});

const ColorPaletteEntryInput = builder.inputType('ColorPaletteEntryInput', {
  fields: (t) => ({
    position: t.int({ required: true, description: '1 to 8, each once' }),
    color: t.string({ required: true, description: '#RGB or #RRGGBB' }),
  }),
});

const CreateDiagramInput = builder.inputType('CreateDiagramInput', {
  description: 'A new diagram starts without cells',
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.string({ required: true, description: 'DFD-1.0.0' }),
  }),
});

const DiagramInput = builder.inputType('DiagramInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.string({ required: true, description: 'DFD-1.0.0' }),
    description: t.string(),
    cells: t.field({ type: 'JSON', required: true, description: "TMI's X6 nodes and edges" }),
    image: t.field({ type: DiagramImageInput }),
    colorPalette: t.field({ type: [ColorPaletteEntryInput] }),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
    metadata: t.field({ type: [MetadataEntryInput], description: 'Replaces the metadata when given' }),
  }),
});

// TMI offers no bulk operations on diagrams.
addChildOperations({
  typeName: 'Diagram',
  plural: 'Diagrams',
  ref: DiagramRef as never,
  input: DiagramInput as never,
  createInput: CreateDiagramInput as never,
  versioned: true,
  service: (ctx) => new DiagramService(ctx) as never,
});

const EdgeTerminal = builder.objectRef<EdgeTerminalShape>('EdgeTerminal').implement({
  fields: (t) => ({
    cell: t.exposeID('cell'),
    port: t.exposeString('port', { nullable: true }),
  }),
});

const MinimalCell = builder.objectRef<MinimalCellShape>('MinimalCell').implement({
  description: 'A node or an edge without styling; node-only and edge-only fields are null on the other',
  fields: (t) => ({
    id: t.exposeID('id'),
    shape: t.exposeString('shape'),
    labels: t.exposeStringList('labels'),
    metadata: t.field({ type: 'JSON', description: "The cell's metadata as an object", resolve: (c) => c.metadata }),
    dataAssetIds: t.exposeIDList('dataAssetIds'),
    parent: t.exposeID('parent', { nullable: true }),
    children: t.exposeIDList('children', { nullable: true, description: 'Contained cells, both ways' }),
    securityBoundary: t.exposeBoolean('securityBoundary', { nullable: true }),
    source: t.field({ type: EdgeTerminal, nullable: true, resolve: (c) => c.source }),
    target: t.field({ type: EdgeTerminal, nullable: true, resolve: (c) => c.target }),
  }),
});

const DiagramModelRef = builder.objectRef<DiagramModel>('DiagramModel').implement({
  description: "TMI's minimal diagram model: the threat model's context and the diagram's cells without styling",
  fields: (t) => ({
    id: t.exposeID('id', { description: "The threat model's id" }),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    metadata: t.field({
      type: 'JSON',
      description: "The threat model's metadata as an object",
      resolve: (m) => m.metadata,
    }),
    cells: t.field({ type: [MinimalCell], resolve: (m) => m.cells }),
    assets: t.field({ type: [AssetRef], description: 'The assets the cells name', resolve: (m) => m.assets }),
  }),
});

const DiagramCellPatchInput = builder.inputType('DiagramCellPatchInput', {
  fields: (t) => ({
    cellId: t.id({ required: true }),
    operations: t.field({ type: [JsonPatchOperationInput], required: true }),
  }),
});

builder.queryField('diagramModel', (t) =>
  t.field({
    type: DiagramModelRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => new DiagramService(ctx.service).model(String(args.threatModelId), String(args.id)),
  }),
);

builder.mutationFields((t) => ({
  patchDiagramCell: t.field({
    type: DiagramRef,
    description: "Applies RFC 6902 operations to one cell (the cell's own field names); one change of the diagram",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      cellId: t.arg.id({ required: true }),
      operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      new DiagramService(ctx.service).patchCell(
        String(args.threatModelId),
        String(args.id),
        String(args.cellId),
        args.operations,
        args.expectedVersion,
      ),
  }),
  patchDiagramCells: t.field({
    type: DiagramRef,
    description: 'Applies each cell’s operations, all or none, as one change of the diagram',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      patches: t.arg({ type: [DiagramCellPatchInput], required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      new DiagramService(ctx.service).patchCells(
        String(args.threatModelId),
        String(args.id),
        args.patches.map((patch) => ({ cellId: String(patch.cellId), operations: patch.operations })),
        args.expectedVersion,
      ),
  }),
}));
