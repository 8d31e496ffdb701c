import { Prisma, type Diagram as DiagramColumns } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import type { Asset } from '../assets/service.js';
import { type ChildKind, ChildResourceService } from '../children/service.js';
import { applyOperations, type JsonPatchOperation } from '../shared/json-patch.js';
import { type Cell, parseCell, parseCells } from './cells.js';
import {
  cellPatchesSchema,
  createDiagramSchema,
  type DiagramInput,
  diagramInputSchema,
  diagramPatchableSchema,
} from './input.js';
import { type MinimalCell, minimalCells } from './model.js';
import { type Diagram, diagramStore } from './store.js';

export type { Diagram } from './store.js';

type Json = Prisma.InputJsonValue;

type DiagramFields = Pick<DiagramColumns, 'name' | 'type' | 'description' | 'includeInReport' | 'timmyEnabled'> & {
  cells: Json;
  image: Json | typeof Prisma.DbNull;
  colorPalette: Json | typeof Prisma.DbNull;
};

interface DiagramImage {
  svg?: string | null;
  updateVector?: number | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Drops null members, so an image is stored as `{svg, updateVector}` with what is known. */
function imageOf(image: DiagramImage | null | undefined): Json | typeof Prisma.DbNull {
  if (!image) return Prisma.DbNull;
  return Object.fromEntries(Object.entries(image).filter(([, value]) => value != null)) as Json;
}

/** The asset ids cells name in `data.data_assets`. */
export function cellAssetIds(cells: unknown): string[] {
  if (!Array.isArray(cells)) return [];
  const ids = cells.flatMap((cell) => {
    const assets = isObject(cell) && isObject(cell.data) ? cell.data.data_assets : undefined;
    return Array.isArray(assets) ? assets.filter((id): id is string => typeof id === 'string') : [];
  });
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

/**
 * The bump every change of a diagram makes, whatever the path (PUT, PATCH, cell operations, and the
 * collaboration session through `DiagramService.changeCells`): the update vector goes up by one, and a
 * new thumbnail without its own update vector is stamped with the diagram's new one.
 */
export function diagramUpdateData(current: { updateVector: bigint | number }, next: { image: unknown }) {
  const updateVector = BigInt(current.updateVector) + 1n;
  const image = next.image;
  const stamp = isObject(image) && image.svg != null && image.updateVector == null;
  return { updateVector, ...(stamp ? { image: { ...image, updateVector: Number(updateVector) } } : {}) };
}

export const diagramKind: ChildKind<Diagram, DiagramFields> = {
  resource: 'diagram',
  label: 'Diagram',
  table: 'diagrams',
  versioned: true,
  delegate: diagramStore,
  input: diagramInputSchema,
  createInput: createDiagramSchema,
  fields: (raw) => {
    const input = raw as Partial<DiagramInput> & Pick<DiagramInput, 'name' | 'type'>;
    return {
      name: input.name,
      type: input.type,
      description: input.description ?? null,
      includeInReport: input.includeInReport ?? true,
      timmyEnabled: input.timmyEnabled ?? true,
      // Every write of cells goes through the cell validator (normalized: node geometry flat).
      cells: parseCells(input.cells ?? []) as unknown as Json,
      image: imageOf(input.image),
      colorPalette: input.colorPalette ?? Prisma.DbNull,
    };
  },
  patchable: diagramPatchableSchema,
  document: (diagram) => ({
    id: diagram.id,
    threatModelId: diagram.threatModelId,
    alias: diagram.alias,
    name: diagram.name,
    type: diagram.type,
    description: diagram.description,
    includeInReport: diagram.includeInReport,
    timmyEnabled: diagram.timmyEnabled,
    cells: diagram.cells,
    image: diagram.image,
    colorPalette: diagram.colorPalette,
    metadata: diagram.metadata.map(({ key, value }) => ({ key, value })),
    updateVector: Number(diagram.updateVector),
    version: diagram.version,
    createdAt: diagram.createdAt.toISOString(),
    modifiedAt: diagram.modifiedAt.toISOString(),
  }),
  // TMI has no bulk diagram endpoints; the GraphQL face keeps the common limit.
  bulkLimit: 20,
  bulkPut: 'update',
  metadataOf: (input) => (input as Partial<DiagramInput>).metadata ?? undefined,
  updateData: diagramUpdateData,
  checkReferences: async (tx: Tx, threatModelId, diagrams) => {
    const assetIds = [...new Set(diagrams.flatMap((diagram) => cellAssetIds(diagram.cells)))];
    if (assetIds.length === 0) return;
    const found = await tx.asset.findMany({ where: { id: { in: assetIds }, threatModelId }, select: { id: true } });
    const missing = assetIds.filter((id) => !found.some((asset) => asset.id === id));
    if (missing.length > 0) {
      throw new AppError(
        'VALIDATION_FAILED',
        `Invalid input: cells: no such asset in this threat model: ${missing[0]}`,
        {
          context: {
            field_errors: [{ field: 'cells', error: `data_assets: no such asset in this threat model: ${missing[0]}` }],
          },
        },
      );
    }
  },
};

export interface CellPatch {
  cellId: string;
  operations: JsonPatchOperation[];
}

/** TMI's minimal model of a diagram for automated analysis. */
export interface DiagramModel {
  id: string;
  name: string;
  description: string;
  metadata: Record<string, string>;
  cells: MinimalCell[];
  assets: Asset[];
}

/** Data flow diagrams of a threat model, their cells, and the minimal model derived from them. */
export class DiagramService extends ChildResourceService<Diagram, DiagramFields> {
  constructor(ctx: ServiceContext) {
    super(ctx, diagramKind);
  }

  /** JSON Patch on one cell (named by id); the diagram changes once (one update-vector step). */
  patchCell(
    threatModelId: string,
    rawId: string,
    cellId: string,
    operations: JsonPatchOperation[],
    expectedVersion?: number | null,
  ): Promise<Diagram> {
    return this.patchCells(threatModelId, rawId, [{ cellId, operations }], expectedVersion);
  }

  /** JSON Patch on several cells, all or nothing, as one change of the diagram. */
  patchCells(
    threatModelId: string,
    rawId: string,
    rawPatches: CellPatch[],
    expectedVersion?: number | null,
  ): Promise<Diagram> {
    const patches = parseInput(cellPatchesSchema, rawPatches) as CellPatch[];
    return this.changeCells(threatModelId, rawId, (cells) => applyCellPatches(cells, patches), expectedVersion);
  }

  /**
   * Replaces the cells with what `change` makes of the stored ones, under the diagram's row lock: one
   * change of the diagram (validated cells, new version and update vector, `diagram.updated`).
   */
  changeCells(
    threatModelId: string,
    rawId: string,
    change: (cells: Cell[]) => unknown[],
    expectedVersion?: number | null,
  ): Promise<Diagram> {
    return this.modify(
      threatModelId,
      rawId,
      (document) => [{ op: 'replace', path: '/cells', value: change(document.cells as Cell[]) }],
      expectedVersion,
    );
  }

  /** The threat model's context and the diagram's cells without styling, with the assets they name. */
  async model(threatModelId: string, rawId: string): Promise<DiagramModel> {
    const diagram = await this.get(threatModelId, rawId);
    const prisma = this.ctx.db.prisma;
    const cells = minimalCells(diagram.cells);
    const assetIds = [...new Set(cells.flatMap((cell) => cell.dataAssetIds))];
    const [threatModel, assets] = await Promise.all([
      prisma.threatModel.findUniqueOrThrow({
        where: { id: diagram.threatModelId },
        select: { id: true, name: true, description: true, metadata: { orderBy: { key: 'asc' } } },
      }),
      assetIds.length === 0
        ? Promise.resolve([])
        : prisma.asset.findMany({
            where: { threatModelId: diagram.threatModelId, id: { in: assetIds } },
            orderBy: { alias: 'asc' },
            include: { metadata: { orderBy: { key: 'asc' } } },
          }),
    ]);
    return {
      id: threatModel.id,
      name: threatModel.name,
      description: threatModel.description ?? '',
      metadata: Object.fromEntries(threatModel.metadata.map(({ key, value }) => [key, value])),
      cells,
      assets,
    };
  }
}

/** Applies each cell's operations to the stored cells; an unknown cell is 404, a changed id refused. */
function applyCellPatches(cells: Cell[], patches: CellPatch[]): Cell[] {
  const next = [...cells];
  for (const patch of patches) {
    const cellId = patch.cellId.toLowerCase();
    const index = next.findIndex((cell) => String(cell.id).toLowerCase() === cellId);
    if (index < 0) {
      throw new AppError('RESOURCE_NOT_FOUND', 'Cell not found', {
        context: { resource_type: 'cell', resource_id: patch.cellId },
      });
    }
    const patched = applyOperations(next[index]!, patch.operations);
    if (!isObject(patched) || String(patched.id).toLowerCase() !== cellId) {
      throw new AppError('INVALID_PATCH', "Read-only field(s) cannot be changed: a cell's id", {
        context: { read_only_fields: ['id'] },
      });
    }
    next[index] = parseCell(patched, `cells[${index}]`);
  }
  return next;
}
