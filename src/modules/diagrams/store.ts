import type { Diagram as DiagramColumns, DiagramMetadata, PrismaClient } from '../../generated/prisma/client.js';
import type { Tx } from '../../infra/db.js';
import type { ChildDelegate, ChildRow } from '../children/service.js';
import type { Cell } from './cells.js';

/** A diagram as every read returns it: with its metadata and its cells in drawing order. */
export type Diagram = DiagramColumns & { metadata: DiagramMetadata[]; cells: Cell[] };

/** SQL for the cells of the diagram `diagram` (an expression for its id) as a JSON array, in drawing order. */
export const cellsJsonSql = (diagram: string): string =>
  `COALESCE((SELECT jsonb_agg(c.cell ORDER BY c.position) FROM diagram_cells c WHERE c.diagram_id = ${diagram}), '[]'::jsonb)`;

/** How a read selects a diagram's cell rows (`cellRows`): their cells, in drawing order. */
export const cellsInDrawingOrder = { orderBy: { position: 'asc' as const }, select: { cell: true } };

const include = { metadata: { orderBy: { key: 'asc' as const } }, cellRows: cellsInDrawingOrder };

type Loaded = DiagramColumns & { metadata: DiagramMetadata[]; cellRows: { cell: unknown }[] };

const withCells = ({ cellRows, ...diagram }: Loaded): Diagram => ({
  ...diagram,
  cells: cellRows.map((row) => row.cell as Cell),
});

/** Splits a diagram's write into its columns and, when the write sets them, its cells. */
function columnsAndCells(data: object): { columns: object; cells: Cell[] | undefined } {
  const { cells, ...columns } = data as { cells?: Cell[] };
  return { columns, cells };
}

/**
 * Replaces a diagram's cells with `cells`, in their order. Inside the caller's transaction, after the
 * diagram's row is locked or created: every other writer of cells bumps the same row first.
 */
async function replaceCells(db: PrismaClient | Tx, diagramId: string, cells: readonly Cell[]): Promise<void> {
  await db.$executeRawUnsafe(`DELETE FROM diagram_cells WHERE diagram_id = $1::uuid`, diagramId);
  if (cells.length === 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO diagram_cells (diagram_id, id, position, cell)
     SELECT $1::uuid, c.value ->> 'id', c.ordinality, c.value
     FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS c(value, ordinality)`,
    diagramId,
    JSON.stringify(cells),
  );
}

/**
 * The diagrams table as the child service uses it: reads come with metadata and cells, and a write that
 * sets `cells` stores them as the diagram's cell rows. The service writes in a transaction.
 */
export function diagramStore(db: PrismaClient | Tx): ChildDelegate<Diagram> {
  return {
    findMany: async (args) => ((await db.diagram.findMany({ ...args, include })) as Loaded[]).map(withCells),
    count: (args) => db.diagram.count(args),
    findFirst: async (args) => {
      const found = (await db.diagram.findFirst({ ...args, include })) as Loaded | null;
      return found && withCells(found);
    },
    findUniqueOrThrow: async (args) => withCells((await db.diagram.findUniqueOrThrow({ ...args, include })) as Loaded),
    createManyAndReturn: async ({ data }) => {
      const items = (data as object[]).map(columnsAndCells);
      const created = await db.diagram.createManyAndReturn({ data: items.map((item) => item.columns) as never });
      // Matched by alias: each item carries its own.
      const byAlias = new Map(created.map((row) => [row.alias, row]));
      for (const item of items) {
        const row = byAlias.get((item.columns as { alias: number }).alias);
        if (row && item.cells) await replaceCells(db, row.id, item.cells);
      }
      return created as ChildRow[];
    },
    update: async ({ where, data }) => {
      const { columns, cells } = columnsAndCells(data);
      if (!cells) return withCells((await db.diagram.update({ where, data: columns as never, include })) as Loaded);
      // The cells it replaces are not read back.
      const updated = await db.diagram.update({
        where,
        data: columns as never,
        include: { metadata: include.metadata },
      });
      await replaceCells(db, updated.id, cells);
      return { ...updated, cells };
    },
    deleteMany: (args) => db.diagram.deleteMany(args),
  };
}
