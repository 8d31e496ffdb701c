import type { ServiceContext } from '../src/infra/context.js';

/**
 * A child's metadata entries, ordered by key. Every service read loads them with the row; rows reached
 * through a Relay connection are completed by Prisma's batched `findUnique` (one query per page).
 */
export async function childMetadata(
  ctx: { service: ServiceContext },
  model: 'threat' | 'asset' | 'diagram',
  row: { id: string; metadata?: { key: string; value: string }[] },
): Promise<{ key: string; value: string }[]> {
  if (row.metadata) return row.metadata;
  const where = { where: { id: row.id } };
  const byKey = { orderBy: { key: 'asc' as const } };
  const { prisma } = ctx.service.db;
  const loaded =
    model === 'threat'
      ? await prisma.threat.findUnique(where).metadata(byKey)
      : model === 'asset'
        ? await prisma.asset.findUnique(where).metadata(byKey)
        : await prisma.diagram.findUnique(where).metadata(byKey);
  return loaded ?? [];
}
