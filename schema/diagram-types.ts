import type { Diagram } from '../src/modules/diagrams/service.js';
import { cellsInDrawingOrder } from '../src/modules/diagrams/store.js';
import { builder } from './builder.js';
import type { ServiceContext } from '../src/infra/context.js';
import { childMetadata } from './child-metadata.js';
import { MetadataEntry } from './principals.js';

export const DiagramImage = builder
  .objectRef<{ svg?: string | null; updateVector?: number | null }>('DiagramImage')
  .implement({
    description: 'A thumbnail of the diagram and the update vector it was drawn at',
    fields: (t) => ({
      svg: t.string({ nullable: true, description: 'Base64-encoded SVG', resolve: (image) => image.svg ?? null }),
      updateVector: t.int({ nullable: true, resolve: (image) => image.updateVector ?? null }),
    }),
  });

export const ColorPaletteEntry = builder.objectRef<{ position: number; color: string }>('ColorPaletteEntry').implement({
  fields: (t) => ({
    position: t.exposeInt('position', { description: '1 to 8' }),
    color: t.exposeString('color', { description: 'Lower-case #rrggbb' }),
  }),
});

/**
 * A diagram's cells in drawing order. Every service read loads them with the row; diagrams reached through
 * a Relay connection are completed by Prisma's batched `findUnique` (one query per page).
 */
async function diagramCells(ctx: { service: ServiceContext }, row: { id: string; cells?: unknown[] }) {
  if (row.cells) return row.cells;
  const rows = await ctx.service.db.prisma.diagram.findUnique({ where: { id: row.id } }).cellRows(cellsInDrawingOrder);
  return (rows ?? []).map((cell) => cell.cell);
}

export const DiagramRef = builder.prismaObject('Diagram', {
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'DFD-1.0.0' }),
    description: t.exposeString('description', { nullable: true }),
    includeInReport: t.exposeBoolean('includeInReport'),
    timmyEnabled: t.exposeBoolean('timmyEnabled'),
    cells: t.field({
      type: 'JSON',
      description: "TMI's X6 nodes and edges (node geometry flat), with their own field names",
      resolve: (diagram, _args, ctx) => diagramCells(ctx, diagram as Partial<Diagram> & { id: string }),
    }),
    image: t.field({ type: DiagramImage, nullable: true, resolve: (diagram) => diagram.image as never }),
    colorPalette: t.field({
      type: [ColorPaletteEntry],
      nullable: true,
      resolve: (diagram) => diagram.colorPalette as never,
    }),
    updateVector: t.int({
      description: 'Goes up by one with every change of the diagram',
      // A bigint column; the point read hands it over as a JSON number.
      resolve: (diagram) => Number(diagram.updateVector),
    }),
    metadata: t.field({
      type: [MetadataEntry],
      description: 'Ordered by key',
      resolve: (diagram, _args, ctx) => childMetadata(ctx, 'diagram', diagram as Partial<Diagram> & { id: string }),
    }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});
