import { z } from 'zod';
import type { ThreatModelMetadata } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type EventLog, withEvents } from '../events/events.js';
import { authorizeThreatModel } from '../threat-models/access.js';
import type { ThreatModelAction } from '../threat-models/policy.js';
import { METADATA_BULK_LIMIT, metadataEntrySchema, metadataKeySchema, type MetadataEntryInput } from './input.js';

export type MetadataEntry = ThreatModelMetadata;

const bulkSchema = z
  .array(metadataEntrySchema)
  .max(METADATA_BULK_LIMIT, `at most ${METADATA_BULK_LIMIT} entries per request`);
const valueSchema = metadataEntrySchema.shape.value;

function conflict(keys: string[]): AppError {
  return new AppError('CONFLICT', `Metadata key(s) already exist: ${keys.join(', ')}`, {
    context: { keys },
    suggestion: 'Use PUT on the key, or the bulk PATCH (upsert), to change an existing entry',
  });
}

function keyNotFound(key: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', `Metadata key not found: ${key}`, {
    context: { resource_type: 'metadata', key },
  });
}

function uniqueKeys(entries: MetadataEntryInput[]): MetadataEntryInput[] {
  const seen = new Set<string>();
  const duplicates = entries.filter(({ key }) => (seen.has(key) ? true : (seen.add(key), false))).map(({ key }) => key);
  if (duplicates.length > 0) {
    throw new AppError('VALIDATION_FAILED', `Duplicate metadata key(s) in the request: ${duplicates.join(', ')}`, {
      context: { field_errors: duplicates.map((key) => ({ field: 'key', error: `duplicate key ${key}` })) },
    });
  }
  return entries;
}

/**
 * A threat model's metadata: key/value pairs with unique keys. Readers read, writers change; every
 * change is a `metadata.*` domain event in the same transaction.
 */
export class ThreatModelMetadataService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(threatModelId: string): Promise<MetadataEntry[]> {
    const id = await this.authorize(threatModelId, 'threat_model:read');
    return this.ctx.db.prisma.threatModelMetadata.findMany({ where: { threatModelId: id }, orderBy: { key: 'asc' } });
  }

  async get(threatModelId: string, rawKey: string): Promise<MetadataEntry> {
    const id = await this.authorize(threatModelId, 'threat_model:read');
    const key = parseInput(metadataKeySchema, rawKey);
    const entry = await this.ctx.db.prisma.threatModelMetadata.findUnique({
      where: { threatModelId_key: { threatModelId: id, key } },
    });
    if (!entry) throw keyNotFound(key);
    return entry;
  }

  async create(threatModelId: string, rawEntry: MetadataEntryInput): Promise<MetadataEntry> {
    const [created] = await this.createMany(threatModelId, [parseInput(metadataEntrySchema, rawEntry)]);
    return created!;
  }

  /** Creates every entry or none: 409 when any key exists. */
  async createMany(threatModelId: string, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    const id = await this.authorize(threatModelId, 'threat_model:write');
    const entries = uniqueKeys(parseInput(bulkSchema, rawEntries));
    return withEvents(this.ctx, async (tx, events) => {
      const existing = await tx.threatModelMetadata.findMany({
        where: { threatModelId: id, key: { in: entries.map(({ key }) => key) } },
        select: { key: true },
      });
      if (existing.length > 0) throw conflict(existing.map(({ key }) => key));
      const created = await tx.threatModelMetadata.createManyAndReturn({
        data: entries.map(({ key, value }) => ({ threatModelId: id, key, value })),
      });
      for (const entry of created) await this.record(events, 'created', entry);
      return created.sort((a, b) => a.key.localeCompare(b.key));
    });
  }

  /** Changes the value of an existing key (404 when there is none). */
  async update(threatModelId: string, rawKey: string, rawValue: string): Promise<MetadataEntry> {
    const id = await this.authorize(threatModelId, 'threat_model:write');
    const key = parseInput(metadataKeySchema, rawKey);
    const value = parseInput(valueSchema, rawValue);
    return withEvents(this.ctx, async (tx, events) => {
      const { count } = await tx.threatModelMetadata.updateMany({ where: { threatModelId: id, key }, data: { value } });
      if (count === 0) throw keyNotFound(key);
      const entry = await tx.threatModelMetadata.findUniqueOrThrow({
        where: { threatModelId_key: { threatModelId: id, key } },
      });
      await this.record(events, 'updated', entry);
      return entry;
    });
  }

  async delete(threatModelId: string, rawKey: string): Promise<void> {
    const id = await this.authorize(threatModelId, 'threat_model:write');
    const key = parseInput(metadataKeySchema, rawKey);
    await withEvents(this.ctx, async (tx, events) => {
      const deleted = await tx.threatModelMetadata.findUnique({
        where: { threatModelId_key: { threatModelId: id, key } },
      });
      if (!deleted) throw keyNotFound(key);
      await tx.threatModelMetadata.delete({ where: { id: deleted.id } });
      await this.record(events, 'deleted', deleted);
    });
  }

  /** Bulk PUT: the given set becomes the whole metadata; an empty set clears it. */
  async replaceAll(threatModelId: string, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    return this.merge(threatModelId, rawEntries, { removeOthers: true });
  }

  /** Bulk PATCH: creates or updates the given keys and leaves the others alone. */
  async upsertMany(threatModelId: string, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    return this.merge(threatModelId, rawEntries, { removeOthers: false });
  }

  private async merge(threatModelId: string, rawEntries: MetadataEntryInput[], options: { removeOthers: boolean }) {
    const id = await this.authorize(threatModelId, 'threat_model:write');
    const entries = uniqueKeys(parseInput(bulkSchema, rawEntries));
    return withEvents(this.ctx, async (tx, events) => {
      const current = new Map(
        (await tx.threatModelMetadata.findMany({ where: { threatModelId: id }, orderBy: { key: 'asc' } })).map(
          (entry) => [entry.key, entry],
        ),
      );
      const wanted = new Set(entries.map(({ key }) => key));
      if (options.removeOthers) {
        const removed = [...current.values()].filter(({ key }) => !wanted.has(key));
        await tx.threatModelMetadata.deleteMany({ where: { id: { in: removed.map((entry) => entry.id) } } });
        for (const entry of removed) await this.record(events, 'deleted', entry);
      }
      for (const { key, value } of entries) {
        const existing = current.get(key);
        if (existing?.value === value) continue;
        const entry = existing
          ? await tx.threatModelMetadata.update({ where: { id: existing.id }, data: { value } })
          : await tx.threatModelMetadata.create({ data: { threatModelId: id, key, value } });
        await this.record(events, existing ? 'updated' : 'created', entry);
      }
      const result = await tx.threatModelMetadata.findMany({ where: { threatModelId: id }, orderBy: { key: 'asc' } });
      return options.removeOthers ? result : result.filter(({ key }) => wanted.has(key));
    });
  }

  private authorize(threatModelId: string, action: ThreatModelAction): Promise<string> {
    return authorizeThreatModel(this.ctx, threatModelId, action);
  }

  private record(events: EventLog, action: 'created' | 'updated' | 'deleted', entry: MetadataEntry): Promise<void> {
    return events.record({
      resource: 'metadata',
      action,
      threatModelId: entry.threatModelId,
      objectId: entry.id,
      data: { entityType: 'threat_model', entityId: entry.threatModelId, key: entry.key, value: entry.value },
    });
  }
}
