import { z } from 'zod';
import { metadataEntrySchema } from '../metadata/input.js';
import { childName, longDescription } from '../shared/fields.js';

// TMI's rules for a diagram's client-writable fields (CreateDiagramRequest, DfdDiagramInput). Cells are
// checked cell by cell by `parseCells` (cells.ts) when the diagram's fields are built.

export const DIAGRAM_TYPES = ['DFD-1.0.0'] as const;

const type = z.enum(DIAGRAM_TYPES, { message: 'must be DFD-1.0.0' });

/** The thumbnail: base64 SVG and the update vector it was drawn at (filled in by the server when absent). */
export const diagramImageSchema = z.strictObject({
  svg: z
    .string()
    .max(102_400)
    .regex(/^[A-Za-z0-9+/]*=*$/, 'must be base64')
    .nullish(),
  updateVector: z.number().int().min(0).nullish(),
});

/** A palette colour, stored as lower-case #rrggbb. */
const colorPaletteEntrySchema = z.strictObject({
  position: z.number().int().min(1).max(8),
  color: z
    .string()
    .regex(/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/, 'must be #RGB or #RRGGBB')
    .transform((color) =>
      (color.length === 4 ? `#${[...color.slice(1)].map((c) => c + c).join('')}` : color).toLowerCase(),
    ),
});

const fields = {
  name: childName,
  type,
  description: longDescription,
  cells: z.array(z.unknown()).max(10_000),
  image: diagramImageSchema.nullish(),
  colorPalette: z
    .array(colorPaletteEntrySchema)
    .max(8)
    .refine((entries) => new Set(entries.map((entry) => entry.position)).size === entries.length, {
      message: 'positions must be distinct',
    })
    .nullish(),
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
  metadata: z.array(metadataEntrySchema).max(100).nullish(),
};

/** TMI's CreateDiagramRequest: a new diagram starts from its name and type, without cells. */
export const createDiagramSchema = z.strictObject({ name: childName, type });

/** TMI's DfdDiagramInput (PUT): cells are required; omitted optional fields take their defaults. */
export const diagramInputSchema = z.strictObject(fields);
export type DiagramInput = z.output<typeof diagramInputSchema>;

/** What a JSON Patch may change: the same fields; a patched document without metadata means none. */
export const diagramPatchableSchema = z.strictObject({
  ...fields,
  metadata: fields.metadata.transform((entries) => entries ?? []),
});

/** Body of the batch cell patch: JSON Patch operations per cell, named by id. */
export const cellPatchesSchema = z
  .array(z.strictObject({ cellId: z.string().min(1).max(36), operations: z.array(z.any()).min(1) }))
  .min(1, 'name at least one cell')
  .max(1000);
