import { z } from 'zod';
import type { ServiceContext } from '../../infra/context.js';
import type { PrismaClient, Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type EventLog, withEvents } from '../events/events.js';
import { authorizeThreatModel } from '../threat-models/access.js';
import { parseId } from '../threat-models/input.js';
import type { ThreatModelAction } from '../threat-models/policy.js';
import { METADATA_BULK_LIMIT, metadataEntrySchema, metadataKeySchema, type MetadataEntryInput } from './input.js';

/** The entities that carry metadata. */
export type MetadataEntityType = 'threat_model' | 'document' | 'note' | 'repository' | 'threat' | 'asset' | 'diagram';

/** Whose metadata: a threat model, or one of its children (named by `entityId`). */
export interface MetadataTarget {
  threatModelId: string;
  entityType: MetadataEntityType;
  entityId?: string | null;
}

export interface MetadataEntry {
  id: string;
  key: string;
  value: string;
}

type Db = PrismaClient | Tx;

type OwnedEntry = MetadataEntryInput & { ownerId: string };

/** Where each entity's metadata lives: one table per entity, the same operations on each. */
interface MetadataStore {
  /** For a child: whether it exists under the threat model. */
  ownerExists?(db: Db, threatModelId: string, ownerId: string): Promise<boolean>;
  list(db: Db, ownerId: string, keys?: string[]): Promise<MetadataEntry[]>;
  /** Creates entries, possibly for several owners at once (one statement). */
  create(tx: Tx, rows: OwnedEntry[]): Promise<MetadataEntry[]>;
  update(tx: Tx, id: string, value: string): Promise<MetadataEntry>;
  remove(tx: Tx, ids: string[]): Promise<void>;
}

const byKey = { orderBy: { key: 'asc' as const } };
const keyFilter = (keys?: string[]) => (keys ? { key: { in: keys } } : {});

const stores: Record<MetadataEntityType, MetadataStore> = {
  threat_model: {
    list: (db, threatModelId, keys) =>
      db.threatModelMetadata.findMany({ where: { threatModelId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.threatModelMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, threatModelId: ownerId })),
      }),
    update: (tx, id, value) => tx.threatModelMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.threatModelMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  document: {
    ownerExists: async (db, threatModelId, id) => (await db.document.count({ where: { id, threatModelId } })) > 0,
    list: (db, documentId, keys) =>
      db.documentMetadata.findMany({ where: { documentId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.documentMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, documentId: ownerId })),
      }),
    update: (tx, id, value) => tx.documentMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.documentMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  repository: {
    ownerExists: async (db, threatModelId, id) => (await db.repository.count({ where: { id, threatModelId } })) > 0,
    list: (db, repositoryId, keys) =>
      db.repositoryMetadata.findMany({ where: { repositoryId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.repositoryMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, repositoryId: ownerId })),
      }),
    update: (tx, id, value) => tx.repositoryMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.repositoryMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  threat: {
    ownerExists: async (db, threatModelId, id) => (await db.threat.count({ where: { id, threatModelId } })) > 0,
    list: (db, threatId, keys) => db.threatMetadata.findMany({ where: { threatId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.threatMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, threatId: ownerId })),
      }),
    update: (tx, id, value) => tx.threatMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.threatMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  asset: {
    ownerExists: async (db, threatModelId, id) => (await db.asset.count({ where: { id, threatModelId } })) > 0,
    list: (db, assetId, keys) => db.assetMetadata.findMany({ where: { assetId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.assetMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, assetId: ownerId })),
      }),
    update: (tx, id, value) => tx.assetMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.assetMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  diagram: {
    ownerExists: async (db, threatModelId, id) => (await db.diagram.count({ where: { id, threatModelId } })) > 0,
    list: (db, diagramId, keys) => db.diagramMetadata.findMany({ where: { diagramId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.diagramMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, diagramId: ownerId })),
      }),
    update: (tx, id, value) => tx.diagramMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.diagramMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
  note: {
    ownerExists: async (db, threatModelId, id) => (await db.note.count({ where: { id, threatModelId } })) > 0,
    list: (db, noteId, keys) => db.noteMetadata.findMany({ where: { noteId, ...keyFilter(keys) }, ...byKey }),
    create: (tx, rows) =>
      tx.noteMetadata.createManyAndReturn({
        data: rows.map(({ ownerId, key, value }) => ({ key, value, noteId: ownerId })),
      }),
    update: (tx, id, value) => tx.noteMetadata.update({ where: { id }, data: { value } }),
    remove: async (tx, ids) => {
      await tx.noteMetadata.deleteMany({ where: { id: { in: ids } } });
    },
  },
};

/** An existing entity whose metadata is being read or written. */
export interface MetadataOwner {
  threatModelId: string;
  entityType: MetadataEntityType;
  entityId: string;
}

interface Owner extends MetadataOwner {
  store: MetadataStore;
}

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

/** Validates a set of entries as every bulk operation does: TMI's rules, the bulk limit, unique keys. */
export function parseMetadataEntries(rawEntries: unknown): MetadataEntryInput[] {
  return uniqueKeys(parseInput(bulkSchema, rawEntries));
}

/**
 * Inside the caller's transaction: creates or updates the given keys and, with `removeOthers`, deletes
 * the rest; each change is a `metadata.*` event. Returns the entity's entries (only the given keys
 * without `removeOthers`). Entries must come from `parseMetadataEntries`.
 */
export async function mergeMetadata(
  tx: Tx,
  events: EventLog,
  target: MetadataOwner,
  entries: MetadataEntryInput[],
  options: { removeOthers: boolean },
): Promise<MetadataEntry[]> {
  const owner: Owner = { ...target, store: stores[target.entityType] };
  const current = new Map((await owner.store.list(tx, owner.entityId)).map((entry) => [entry.key, entry]));
  const wanted = new Set(entries.map(({ key }) => key));
  if (options.removeOthers) {
    const removed = [...current.values()].filter(({ key }) => !wanted.has(key));
    if (removed.length > 0)
      await owner.store.remove(
        tx,
        removed.map(({ id }) => id),
      );
    for (const entry of removed) await recordMetadataEvent(events, owner, 'deleted', entry);
  }
  for (const { key, value } of entries) {
    const existing = current.get(key);
    if (existing?.value === value) continue;
    const [entry] = existing
      ? [await owner.store.update(tx, existing.id, value)]
      : await owner.store.create(tx, [{ key, value, ownerId: owner.entityId }]);
    await recordMetadataEvent(events, owner, existing ? 'updated' : 'created', entry!);
  }
  const result = await owner.store.list(tx, owner.entityId);
  return options.removeOthers ? result : result.filter(({ key }) => wanted.has(key));
}

/**
 * Inside the caller's transaction: the first metadata of entities that were just created (so none
 * exists yet), for all of them in one statement; each entry is a `metadata.created` event.
 */
export async function addMetadataToNew(
  tx: Tx,
  events: EventLog,
  target: { threatModelId: string; entityType: MetadataEntityType },
  owned: { entityId: string; entries: MetadataEntryInput[] }[],
): Promise<void> {
  const rows = owned.flatMap(({ entityId, entries }) => entries.map((entry) => ({ ...entry, ownerId: entityId })));
  if (rows.length === 0) return;
  const created = await stores[target.entityType].create(tx, rows);
  const ownerOf = new Map(created.map((entry, index) => [entry.id, rows[index]!.ownerId]));
  for (const entry of created) {
    await recordMetadataEvent(events, { ...target, entityId: ownerOf.get(entry.id)! }, 'created', entry);
  }
}

function recordMetadataEvent(
  events: EventLog,
  owner: MetadataOwner,
  action: 'created' | 'updated' | 'deleted',
  entry: MetadataEntry,
) {
  return events.record({
    resource: 'metadata',
    action,
    threatModelId: owner.threatModelId,
    objectId: entry.id,
    data: { entityType: owner.entityType, entityId: owner.entityId, key: entry.key, value: entry.value },
  });
}

/** Refuses a set of entries that names a key twice (VALIDATION_FAILED). */
export function uniqueKeys(entries: MetadataEntryInput[]): MetadataEntryInput[] {
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
 * Metadata of a threat model or of one of its children: key/value pairs with unique keys.
 * Authorization is the threat model's (readers read, writers change); every change is a
 * `metadata.*` domain event in the same transaction.
 */
export class MetadataService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(target: MetadataTarget): Promise<MetadataEntry[]> {
    const owner = await this.owner(target, 'threat_model:read');
    return owner.store.list(this.ctx.db.prisma, owner.entityId);
  }

  async get(target: MetadataTarget, rawKey: string): Promise<MetadataEntry> {
    const owner = await this.owner(target, 'threat_model:read');
    const key = parseInput(metadataKeySchema, rawKey);
    const [entry] = await owner.store.list(this.ctx.db.prisma, owner.entityId, [key]);
    if (!entry) throw keyNotFound(key);
    return entry;
  }

  async create(target: MetadataTarget, rawEntry: MetadataEntryInput): Promise<MetadataEntry> {
    const [created] = await this.createMany(target, [parseInput(metadataEntrySchema, rawEntry)]);
    return created!;
  }

  /** Creates every entry or none: 409 when any key exists. */
  async createMany(target: MetadataTarget, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    const owner = await this.owner(target, 'threat_model:write');
    const entries = parseMetadataEntries(rawEntries);
    return withEvents(this.ctx, async (tx, events) => {
      const existing = await owner.store.list(
        tx,
        owner.entityId,
        entries.map(({ key }) => key),
      );
      if (existing.length > 0) throw conflict(existing.map(({ key }) => key));
      const created = await owner.store.create(
        tx,
        entries.map((entry) => ({ ...entry, ownerId: owner.entityId })),
      );
      for (const entry of created) await recordMetadataEvent(events, owner, 'created', entry);
      return created.sort((a, b) => a.key.localeCompare(b.key));
    });
  }

  /** Changes the value of an existing key (404 when there is none). */
  async update(target: MetadataTarget, rawKey: string, rawValue: string): Promise<MetadataEntry> {
    const owner = await this.owner(target, 'threat_model:write');
    const key = parseInput(metadataKeySchema, rawKey);
    const value = parseInput(valueSchema, rawValue);
    return withEvents(this.ctx, async (tx, events) => {
      const [existing] = await owner.store.list(tx, owner.entityId, [key]);
      if (!existing) throw keyNotFound(key);
      const entry = await owner.store.update(tx, existing.id, value);
      await recordMetadataEvent(events, owner, 'updated', entry);
      return entry;
    });
  }

  async delete(target: MetadataTarget, rawKey: string): Promise<void> {
    const owner = await this.owner(target, 'threat_model:write');
    const key = parseInput(metadataKeySchema, rawKey);
    await withEvents(this.ctx, async (tx, events) => {
      const [existing] = await owner.store.list(tx, owner.entityId, [key]);
      if (!existing) throw keyNotFound(key);
      await owner.store.remove(tx, [existing.id]);
      await recordMetadataEvent(events, owner, 'deleted', existing);
    });
  }

  /** Bulk PUT: the given set becomes the whole metadata; an empty set clears it. */
  replaceAll(target: MetadataTarget, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    return this.merge(target, rawEntries, { removeOthers: true });
  }

  /** Bulk PATCH: creates or updates the given keys and leaves the others alone. */
  upsertMany(target: MetadataTarget, rawEntries: MetadataEntryInput[]): Promise<MetadataEntry[]> {
    return this.merge(target, rawEntries, { removeOthers: false });
  }

  private async merge(target: MetadataTarget, rawEntries: MetadataEntryInput[], options: { removeOthers: boolean }) {
    const owner = await this.owner(target, 'threat_model:write');
    const entries = parseMetadataEntries(rawEntries);
    return withEvents(this.ctx, (tx, events) => mergeMetadata(tx, events, owner, entries, options));
  }

  /** The threat model must exist and allow the action; a child must exist under it (404). */
  private async owner(target: MetadataTarget, action: ThreatModelAction): Promise<Owner> {
    const threatModelId = await authorizeThreatModel(this.ctx, target.threatModelId, action);
    const store = stores[target.entityType];
    if (target.entityType === 'threat_model') {
      return { threatModelId, entityType: 'threat_model', entityId: threatModelId, store };
    }
    const entityId = parseId(target.entityId ?? '', `${target.entityType}_id`);
    if (!(await store.ownerExists?.(this.ctx.db.prisma, threatModelId, entityId))) {
      throw new AppError('RESOURCE_NOT_FOUND', `The ${target.entityType} does not exist in this threat model`, {
        context: { resource_type: target.entityType, resource_id: entityId },
      });
    }
    return { threatModelId, entityType: target.entityType, entityId, store };
  }
}
