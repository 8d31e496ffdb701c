import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { PrismaClient, Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type EventLog, type EventResource, withEvents } from '../events/events.js';
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
  findMany(args: {
    where: { threatModelId: string };
    orderBy: { alias: 'asc' };
    take: number;
    skip: number;
  }): Promise<Row[]>;
  count(args: { where: { threatModelId: string } }): Promise<number>;
  findFirst(args: { where: { id: string; threatModelId: string } }): Promise<Row | null>;
  findUniqueOrThrow(args: { where: { id: string } }): Promise<Row>;
  create(args: { data: object }): Promise<Row>;
  update(args: { where: { id: string }; data: object }): Promise<Row>;
  delete(args: { where: { id: string } }): Promise<Row>;
}

/** Everything that differs between kinds of children: a table, its fields and its rules. */
export interface ChildKind<Row extends ChildRow, Fields extends object> {
  resource: Extract<EventResource, 'document' | 'note' | 'repository'>;
  label: string;
  /** The table, for the row lock (a constant, never input). */
  table: string;
  /** Whether rows carry an optimistic-locking `version`. */
  versioned: boolean;
  delegate(db: PrismaClient | Tx): ChildDelegate<Row>;
  /** The create/replace input (TMI's …Input), parsed and turned into stored fields with defaults. */
  input: z.ZodType<object>;
  fields(input: object): Fields;
  /** The writable fields a JSON Patch may change. */
  patchable: z.ZodObject;
  /** The client-visible document: what JSON Patch applies to and what events carry. */
  document(row: Row): Record<string, unknown>;
  bulkLimit: number;
}

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

  async list(threatModelId: string, page: { limit: number; offset: number }) {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:read');
    const delegate = this.kind.delegate(this.ctx.db.prisma);
    const [items, total] = await Promise.all([
      delegate.findMany({
        where: { threatModelId: tmId },
        orderBy: { alias: 'asc' },
        take: page.limit,
        skip: page.offset,
      }),
      delegate.count({ where: { threatModelId: tmId } }),
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
    const [created] = await this.createMany(threatModelId, [parseInput(this.kind.input, input)]);
    return created!;
  }

  async createMany(threatModelId: string, rawInputs: object[]): Promise<Row[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const inputs = parseInput(this.bulk(this.kind.input), rawInputs);
    return withEvents(this.ctx, async (tx, events) => {
      let alias = await reserveAliases(tx, tmId, this.kind.resource, inputs.length);
      const now = this.ctx.now();
      const created: Row[] = [];
      for (const input of inputs) {
        const row = await this.kind.delegate(tx).create({
          data: { ...this.kind.fields(input), threatModelId: tmId, alias: alias++, createdAt: now, modifiedAt: now },
        });
        await this.record(events, 'created', row);
        created.push(row);
      }
      return created;
    });
  }

  /** PUT replaces the child: omitted fields take their defaults. */
  async update(threatModelId: string, rawId: string, input: object, expectedVersion?: number | null): Promise<Row> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    const parsed = parseInput(this.kind.input, input);
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      return this.write(tx, events, current, this.kind.fields(parsed));
    });
  }

  /** Bulk PUT: every item names an existing child of this threat model; all change or none. */
  async updateMany(threatModelId: string, rawItems: ({ id: string } & object)[]): Promise<Row[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const items = parseInput(this.bulk(z.object({ id: z.string() }).passthrough()), rawItems);
    const ids = items.map((item) => parseId(item.id, 'id'));
    if (new Set(ids).size !== ids.length) {
      throw new AppError('VALIDATION_FAILED', `The same ${this.kind.resource} appears more than once in the request`);
    }
    const inputs = items.map(({ id: _id, ...input }) => parseInput(this.kind.input, input));
    return withEvents(this.ctx, async (tx, events) => {
      const updated: Row[] = [];
      for (const [index, input] of inputs.entries()) {
        const current = await this.lock(tx, tmId, ids[index]!, null);
        updated.push(await this.write(tx, events, current, this.kind.fields(input)));
      }
      return updated;
    });
  }

  async patch(threatModelId: string, rawId: string, operations: JsonPatchOperation[], expectedVersion?: number | null) {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      const next = applyJsonPatch(this.kind.document(current), operations, this.kind.patchable);
      return this.write(tx, events, current, this.kind.fields(next));
    });
  }

  async delete(threatModelId: string, rawId: string): Promise<void> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = this.parseId(rawId);
    await withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, null);
      await this.kind.delegate(tx).delete({ where: { id } });
      await this.record(events, 'deleted', current);
    });
  }

  private parseId(rawId: string): string {
    return parseId(rawId, `${this.kind.resource}_id`);
  }

  private notFound(id: string): AppError {
    return new AppError('RESOURCE_NOT_FOUND', `${this.kind.label} not found`, {
      context: { resource_type: this.kind.resource, resource_id: id },
    });
  }

  private bulk<S extends z.ZodType>(item: S) {
    const limit = this.kind.bulkLimit;
    return z.array(item).max(limit, `at most ${limit} ${this.kind.resource}s per request`);
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

  private async write(tx: Tx, events: EventLog, current: Row, next: Fields): Promise<Row> {
    const row = await this.kind.delegate(tx).update({
      where: { id: current.id },
      data: { ...next, modifiedAt: this.ctx.now(), ...(this.kind.versioned ? { version: { increment: 1 } } : {}) },
    });
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
