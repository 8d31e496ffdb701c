import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { PrismaClient, Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type EventLog, type EventResource, withEvents } from '../events/events.js';
import type { MetadataEntryInput } from '../metadata/input.js';
import { addMetadataToNew, mergeMetadata, uniqueKeys } from '../metadata/service.js';
import { applyJsonPatch, type JsonPatchOperation } from '../shared/json-patch.js';
import { authorizeThreatModel } from '../threat-models/access.js';
import { reserveAliases } from '../threat-models/aliases.js';
import { parseId } from '../threat-models/input.js';

/** What every child of a threat model has. */
export interface ChildRow {
  id: string;
  threatModelId: string;
  alias: number;
  createdAt: Date;
  modifiedAt: Date;
}

/** The part of a Prisma model delegate the service uses; every child table's delegate fits it. */
export interface ChildDelegate<Row> {
  findMany(args: { where: { threatModelId: string }; orderBy: object[]; take: number; skip: number }): Promise<Row[]>;
  count(args: { where: { threatModelId: string } }): Promise<number>;
  findFirst(args: { where: { id: string; threatModelId: string } }): Promise<Row | null>;
  findUniqueOrThrow(args: { where: { id: string } }): Promise<Row>;
  createManyAndReturn(args: { data: never }): Promise<ChildRow[]>;
  update(args: { where: { id: string }; data: object }): Promise<Row>;
  deleteMany(args: { where: { id: { in: string[] } } }): Promise<{ count: number }>;
}

/** A list's filter and order, built by the kind from what the client asked for. */
export interface ChildListQuery {
  where: object;
  orderBy: object[];
}

export interface ChildPatch {
  id: string;
  operations: JsonPatchOperation[];
}

/** Everything that differs between kinds of children: a table, its fields and its rules. */
export interface ChildKind<Row extends ChildRow, Fields extends object> {
  resource: Extract<EventResource, 'document' | 'note' | 'repository' | 'threat' | 'asset' | 'diagram'>;
  label: string;
  /** The table, for the row lock (a constant, never input). */
  table: string;
  /** Whether rows carry an optimistic-locking `version`. */
  versioned: boolean;
  delegate(db: PrismaClient | Tx): ChildDelegate<Row>;
  /** The create/replace input (TMI's …Input), parsed and turned into stored fields with defaults. */
  input: z.ZodType<object>;
  /** For kinds whose create takes less than a replace (a diagram starts from its name and type). */
  createInput?: z.ZodType<object>;
  fields(input: object): Fields;
  /** The writable fields a JSON Patch may change. */
  patchable: z.ZodObject;
  /** The client-visible document: what JSON Patch applies to and what events carry. */
  document(row: Row): Record<string, unknown>;
  bulkLimit: number;
  /** Bulk PUT either only replaces existing children or also creates those it names that do not exist. */
  bulkPut: 'update' | 'upsert';
  /** The list's filters and sort, from the client's (untrusted) filter; without it, alias order. */
  listQuery?(filter: unknown): ChildListQuery;
  /** Checks against the database that input cannot express alone (e.g. references to siblings). */
  checkReferences?(tx: Tx, threatModelId: string, fields: Fields[]): Promise<void>;
  /** Runs in the deleting transaction before the rows go, e.g. to let siblings drop their references. */
  beforeDelete?(tx: Tx, events: EventLog, rows: Row[], now: Date): Promise<void>;
  /** For kinds whose input carries metadata: the entries it sets (undefined leaves them as they are). */
  metadataOf?(input: object): MetadataEntryInput[] | undefined;
  /**
   * Extra data for every change of an existing child, computed from the locked row and the new
   * fields (a diagram's update vector goes up by one on every write).
   */
  updateData?(current: Row, next: Fields): object;
}

const defaultListQuery: ChildListQuery = { where: {}, orderBy: [{ alias: 'asc' }] };

/**
 * The operations every child of a threat model offers. Authorization is the threat model's
 * (readers read, writers change); bulk operations are all or nothing; every change is a
 * `{resource}.{action}` event in the same transaction.
 */
export class ChildResourceService<Row extends ChildRow, Fields extends object> {
  constructor(
    protected readonly ctx: ServiceContext,
    private readonly kind: ChildKind<Row, Fields>,
  ) {}

  async list(threatModelId: string, page: { limit: number; offset: number }, filter?: unknown) {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:read');
    const query = this.kind.listQuery?.(filter ?? {}) ?? defaultListQuery;
    const where = { ...query.where, threatModelId: tmId };
    const delegate = this.kind.delegate(this.ctx.db.prisma);
    const [items, total] = await Promise.all([
      delegate.findMany({ where, orderBy: [...query.orderBy, { id: 'asc' }], take: page.limit, skip: page.offset }),
      delegate.count({ where }),
    ]);
    return { items, total, limit: page.limit, offset: page.offset };
  }

  async get(threatModelId: string, rawId: string): Promise<Row> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:read');
    const id = this.parseId(rawId);
    const row = await this.kind.delegate(this.ctx.db.prisma).findFirst({ where: { id, threatModelId: tmId } });
    if (!row) throw this.notFound(id);
    return row;
  }

  async create(threatModelId: string, input: object): Promise<Row> {
    const [created] = await this.createMany(threatModelId, [parseInput(this.createInput, input)]);
    return created!;
  }

  async createMany(threatModelId: string, rawInputs: object[]): Promise<Row[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const inputs = parseInput(this.bulk(this.createInput), rawInputs);
    const metadata = inputs.map((input) => this.metadataOf(input));
    return withEvents(this.ctx, (tx, events) =>
      this.insertMany(
        tx,
        events,
        tmId,
        inputs.map((input, index) => ({ fields: this.kind.fields(input), metadata: metadata[index] })),
      ),
    );
  }

  /** PUT replaces the child: omitted fields take their defaults. */
  async update(threatModelId: string, rawId: string, input: object, expectedVersion?: number | null): Promise<Row> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    const parsed = parseInput(this.kind.input, input);
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      return this.write(tx, events, current, this.kind.fields(parsed), this.metadataOf(parsed));
    });
  }

  /**
   * Bulk PUT: every item names a child by id and replaces it; all change or none. Kinds with
   * `bulkPut: 'upsert'` create the children that do not exist yet (with the given id); otherwise a
   * missing one is 404.
   */
  async updateMany(threatModelId: string, rawItems: ({ id: string } & object)[]): Promise<Row[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const items = parseInput(this.bulk(z.object({ id: z.string() }).passthrough()), rawItems);
    const ids = this.distinctIds(items.map((item) => item.id));
    const inputs = items.map(({ id: _id, ...input }) => parseInput(this.kind.input, input));
    const metadata = inputs.map((input) => this.metadataOf(input));
    return withEvents(this.ctx, async (tx, events) => {
      const existing = await this.lockMany(tx, tmId, ids, this.kind.bulkPut === 'update');
      const written = new Map<string, Row>();
      for (const [index, input] of inputs.entries()) {
        const current = existing.get(ids[index]!);
        if (current)
          written.set(current.id, await this.write(tx, events, current, this.kind.fields(input), metadata[index]));
      }
      const missing = inputs.flatMap((input, index) =>
        existing.has(ids[index]!)
          ? []
          : [{ id: ids[index], fields: this.kind.fields(input), metadata: metadata[index] }],
      );
      for (const row of await this.insertMany(tx, events, tmId, missing)) written.set(row.id, row);
      return ids.map((id) => written.get(id)!);
    });
  }

  /** Bulk PATCH: JSON Patch operations per child; all apply or none. */
  async patchMany(threatModelId: string, rawPatches: ChildPatch[]): Promise<Row[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const patches = parseInput(
      this.bulk(z.object({ id: z.string(), operations: z.array(z.any()) }), 1),
      rawPatches,
    ) as ChildPatch[];
    const ids = this.distinctIds(patches.map((patch) => patch.id));
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lockMany(tx, tmId, ids, true);
      const patched: Row[] = [];
      for (const [index, patch] of patches.entries()) {
        const row = current.get(ids[index]!)!;
        const next = applyJsonPatch(this.kind.document(row), patch.operations, this.kind.patchable);
        patched.push(await this.write(tx, events, row, this.kind.fields(next), this.metadataOf(next)));
      }
      return patched;
    });
  }

  /** Bulk DELETE: every named child exists (404 otherwise) and all go, or none. */
  async deleteMany(threatModelId: string, rawIds: string[]): Promise<string[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const ids = this.distinctIds(parseInput(this.bulk(z.string(), 1), rawIds));
    await withEvents(this.ctx, async (tx, events) => {
      const current = await this.lockMany(tx, tmId, ids, true);
      await this.kind.beforeDelete?.(tx, events, [...current.values()], this.ctx.now());
      await this.kind.delegate(tx).deleteMany({ where: { id: { in: ids } } });
      for (const id of ids) await this.record(events, 'deleted', current.get(id)!);
    });
    return ids;
  }

  patch(threatModelId: string, rawId: string, operations: JsonPatchOperation[], expectedVersion?: number | null) {
    return this.modify(threatModelId, rawId, () => operations, expectedVersion);
  }

  /**
   * A JSON Patch computed from the child's current document, under its row lock: for changes that
   * depend on what is stored (e.g. one cell of a diagram).
   */
  protected async modify(
    threatModelId: string,
    rawId: string,
    operations: (document: Record<string, unknown>) => JsonPatchOperation[],
    expectedVersion?: number | null,
  ): Promise<Row> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      const document = this.kind.document(current);
      const next = applyJsonPatch(document, operations(document), this.kind.patchable);
      return this.write(tx, events, current, this.kind.fields(next), this.metadataOf(next));
    });
  }

  async delete(threatModelId: string, rawId: string): Promise<void> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    await withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, null);
      await this.kind.beforeDelete?.(tx, events, [current], this.ctx.now());
      await this.kind.delegate(tx).deleteMany({ where: { id: { in: [id] } } });
      await this.record(events, 'deleted', current);
    });
  }

  private get createInput(): z.ZodType<object> {
    return this.kind.createInput ?? this.kind.input;
  }

  private parseId(rawId: string): string {
    return parseId(rawId, `${this.kind.resource}_id`);
  }

  private notFound(id: string): AppError {
    return new AppError('RESOURCE_NOT_FOUND', `${this.kind.label} not found`, {
      context: { resource_type: this.kind.resource, resource_id: id },
    });
  }

  private bulk<S extends z.ZodType>(item: S, min = 0) {
    const limit = this.kind.bulkLimit;
    return z
      .array(item)
      .min(min, `at least ${min} ${this.kind.resource} per request`)
      .max(limit, `at most ${limit} ${this.kind.resource}s per request`);
  }

  private distinctIds(rawIds: string[]): string[] {
    const ids = rawIds.map((id) => parseId(id, 'id'));
    if (new Set(ids).size !== ids.length) {
      throw new AppError('VALIDATION_FAILED', `The same ${this.kind.resource} appears more than once in the request`);
    }
    return ids;
  }

  private metadataOf(input: object): MetadataEntryInput[] | undefined {
    // The kind's input schema has checked each entry and the count (TMI allows 100 on an entity).
    const entries = this.kind.metadataOf?.(input);
    return entries === undefined ? undefined : uniqueKeys(entries);
  }

  /**
   * Locks the named children of the threat model (in id order, so concurrent bulk requests cannot
   * deadlock) and returns them by id; with `requireAll`, a missing one is 404. An id that names a
   * child of another threat model is a conflict, never a new child.
   */
  private async lockMany(tx: Tx, threatModelId: string, ids: string[], requireAll: boolean): Promise<Map<string, Row>> {
    const rows = await tx.$queryRawUnsafe<{ id: string; threat_model_id: string }[]>(
      `SELECT id, threat_model_id FROM ${this.kind.table} WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      ids,
    );
    const foreign = rows.filter((row) => row.threat_model_id !== threatModelId);
    const missing = ids.filter((id) => !rows.some((row) => row.id === id && row.threat_model_id === threatModelId));
    if (requireAll && missing.length > 0) throw this.notFound(missing[0]!);
    if (foreign.length > 0) {
      throw new AppError(
        'CONFLICT',
        `The id ${foreign[0]!.id} is already used by another ${this.kind.label.toLowerCase()}`,
        {
          context: { resource_type: this.kind.resource, resource_id: foreign[0]!.id },
        },
      );
    }
    const found = await this.kind.delegate(tx).findMany({
      where: { threatModelId, id: { in: ids } } as { threatModelId: string },
      orderBy: [{ alias: 'asc' }],
      take: ids.length,
      skip: 0,
    });
    return new Map(found.map((row) => [row.id, row]));
  }

  /**
   * Creates children in a few statements however many there are: the rows, then all their metadata,
   * then one read of the rows as the kind returns them. Returns them in the order given.
   */
  private async insertMany(
    tx: Tx,
    events: EventLog,
    threatModelId: string,
    items: { fields: Fields; metadata: MetadataEntryInput[] | undefined; id?: string }[],
  ): Promise<Row[]> {
    if (items.length === 0) return [];
    await this.kind.checkReferences?.(
      tx,
      threatModelId,
      items.map((item) => item.fields),
    );
    const firstAlias = await reserveAliases(tx, threatModelId, this.kind.resource, items.length);
    const now = this.ctx.now();
    const inserted = await this.kind.delegate(tx).createManyAndReturn({
      data: items.map<object>((item, index) => ({
        ...item.fields,
        ...(item.id ? { id: item.id } : {}),
        threatModelId,
        alias: firstAlias + index,
        createdAt: now,
        modifiedAt: now,
      })) as never,
    });
    const idOfAlias = new Map(inserted.map((row) => [row.alias, row.id]));
    const ids = items.map((_item, index) => idOfAlias.get(firstAlias + index)!);
    const rows = await this.kind.delegate(tx).findMany({
      where: { threatModelId, id: { in: ids } } as { threatModelId: string },
      orderBy: [{ alias: 'asc' }],
      take: ids.length,
      skip: 0,
    });
    for (const row of rows) await this.record(events, 'created', row);
    await addMetadataToNew(
      tx,
      events,
      { threatModelId, entityType: this.kind.resource },
      items.map((item, index) => ({ entityId: ids[index]!, entries: item.metadata ?? [] })),
    );
    if (!items.some((item) => item.metadata?.length)) return rows;
    const withMetadata = await this.kind.delegate(tx).findMany({
      where: { threatModelId, id: { in: ids } } as { threatModelId: string },
      orderBy: [{ alias: 'asc' }],
      take: ids.length,
      skip: 0,
    });
    return withMetadata;
  }

  private async setMetadata(tx: Tx, events: EventLog, row: Row, entries: MetadataEntryInput[]): Promise<Row> {
    const target = { threatModelId: row.threatModelId, entityType: this.kind.resource, entityId: row.id };
    await mergeMetadata(tx, events, target, entries, { removeOthers: true });
    return this.kind.delegate(tx).findUniqueOrThrow({ where: { id: row.id } });
  }

  private async lock(tx: Tx, threatModelId: string, id: string, expectedVersion: number | null | undefined) {
    const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM ${this.kind.table} WHERE id = $1::uuid AND threat_model_id = $2::uuid FOR UPDATE`,
      id,
      threatModelId,
    );
    if (rows.length === 0) throw this.notFound(id);
    const current = await this.kind.delegate(tx).findUniqueOrThrow({ where: { id } });
    const version = (current as { version?: number }).version;
    if (this.kind.versioned && expectedVersion != null && expectedVersion !== version) {
      throw new AppError('VERSION_CONFLICT', undefined, {
        context: { [`${this.kind.resource}_id`]: id, expected_version: expectedVersion, current_version: version },
      });
    }
    return current;
  }

  private async write(
    tx: Tx,
    events: EventLog,
    current: Row,
    next: Fields,
    metadata: MetadataEntryInput[] | undefined,
  ): Promise<Row> {
    await this.kind.checkReferences?.(tx, current.threatModelId, [next]);
    let row = await this.kind.delegate(tx).update({
      where: { id: current.id },
      data: {
        ...next,
        modifiedAt: this.ctx.now(),
        ...(this.kind.versioned ? { version: { increment: 1 } } : {}),
        ...this.kind.updateData?.(current, next),
      },
    });
    if (metadata) row = await this.setMetadata(tx, events, row, metadata);
    await this.record(events, 'updated', row);
    return row;
  }

  private record(events: EventLog, action: 'created' | 'updated' | 'deleted', row: Row): Promise<void> {
    return events.record({
      resource: this.kind.resource,
      action,
      threatModelId: row.threatModelId,
      objectId: row.id,
      data: this.kind.document(row) as Prisma.InputJsonObject,
    });
  }
}

/**
 * A table's delegate that loads the given relations with every row it returns (e.g. a child's
 * metadata), so every read and write hands back the same shape.
 */
export function includeAlways<Row>(
  delegate: {
    findMany(args: object): Promise<unknown>;
    count(args: object): Promise<number>;
    findFirst(args: object): Promise<unknown>;
    findUniqueOrThrow(args: object): Promise<unknown>;
    createManyAndReturn(args: { data: never }): Promise<unknown>;
    update(args: object): Promise<unknown>;
    deleteMany(args: object): Promise<{ count: number }>;
  },
  include: object,
): ChildDelegate<Row> {
  return {
    findMany: (args) => delegate.findMany({ ...args, include }) as Promise<Row[]>,
    count: (args) => delegate.count(args),
    findFirst: (args) => delegate.findFirst({ ...args, include }) as Promise<Row | null>,
    findUniqueOrThrow: (args) => delegate.findUniqueOrThrow({ ...args, include }) as Promise<Row>,
    // Prisma cannot include to-many relations here; callers read the created rows back.
    createManyAndReturn: (args) => delegate.createManyAndReturn(args) as Promise<ChildRow[]>,
    update: (args) => delegate.update({ ...args, include }) as Promise<Row>,
    deleteMany: (args) => delegate.deleteMany(args),
  };
}
