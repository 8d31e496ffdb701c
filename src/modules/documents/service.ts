import { z } from 'zod';
import type { Document } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type EventLog, withEvents } from '../events/events.js';
import { applyJsonPatch, type JsonPatchOperation } from '../shared/json-patch.js';
import { authorizeThreatModel } from '../threat-models/access.js';
import { reserveAliases } from '../threat-models/aliases.js';
import { parseId } from '../threat-models/input.js';
import {
  DOCUMENT_BULK_LIMIT,
  documentInputSchema,
  type DocumentInput,
  documentPatchableSchema,
  documentUpdateSchema,
  type DocumentUpdateInput,
} from './input.js';

export type { Document };

interface DocumentFields {
  name: string;
  uri: string;
  description: string | null;
  includeInReport: boolean;
  timmyEnabled: boolean;
}

function fields(input: z.output<typeof documentInputSchema>): DocumentFields {
  return {
    name: input.name,
    uri: input.uri,
    description: input.description ?? null,
    includeInReport: input.includeInReport ?? true,
    timmyEnabled: input.timmyEnabled ?? true,
  };
}

function notFound(id: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Document not found', {
    context: { resource_type: 'document', resource_id: id },
  });
}

function bulk<S extends z.ZodType>(item: S) {
  return z.array(item).max(DOCUMENT_BULK_LIMIT, `at most ${DOCUMENT_BULK_LIMIT} documents per request`);
}

/** The client-visible document a JSON Patch is applied to. */
function patchDocument(document: Document): Record<string, unknown> {
  return {
    id: document.id,
    threatModelId: document.threatModelId,
    alias: document.alias,
    name: document.name,
    uri: document.uri,
    description: document.description,
    includeInReport: document.includeInReport,
    timmyEnabled: document.timmyEnabled,
    version: document.version,
    createdAt: document.createdAt.toISOString(),
    modifiedAt: document.modifiedAt.toISOString(),
  };
}

/**
 * Documents linked to a threat model. Authorization is the threat model's: readers read, writers
 * change. Bulk operations are all or nothing; every change is a `document.*` event.
 */
export class DocumentService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(threatModelId: string, page: { limit: number; offset: number }) {
    const id = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:read');
    const where = { threatModelId: id };
    const [items, total] = await Promise.all([
      this.ctx.db.prisma.document.findMany({
        where,
        orderBy: [{ alias: 'asc' }],
        take: page.limit,
        skip: page.offset,
      }),
      this.ctx.db.prisma.document.count({ where }),
    ]);
    return { items, total, limit: page.limit, offset: page.offset };
  }

  async get(threatModelId: string, rawId: string): Promise<Document> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:read');
    const id = parseId(rawId, 'document_id');
    const document = await this.ctx.db.prisma.document.findFirst({ where: { id, threatModelId: tmId } });
    if (!document) throw notFound(id);
    return document;
  }

  async create(threatModelId: string, input: DocumentInput): Promise<Document> {
    const [created] = await this.createMany(threatModelId, [parseInput(documentInputSchema, input)]);
    return created!;
  }

  async createMany(threatModelId: string, rawInputs: DocumentInput[]): Promise<Document[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const inputs = parseInput(bulk(documentInputSchema), rawInputs);
    return withEvents(this.ctx, async (tx, events) => {
      let alias = await reserveAliases(tx, tmId, 'document', inputs.length);
      const now = this.ctx.now();
      const created: Document[] = [];
      for (const input of inputs) {
        const document = await tx.document.create({
          data: { ...fields(input), threatModelId: tmId, alias: alias++, createdAt: now, modifiedAt: now },
        });
        await this.record(events, 'created', document);
        created.push(document);
      }
      return created;
    });
  }

  async update(threatModelId: string, rawId: string, input: DocumentInput, expectedVersion?: number | null) {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = parseId(rawId, 'document_id');
    const parsed = parseInput(documentInputSchema, input);
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      // PUT replaces the document: omitted fields take their defaults.
      return this.write(tx, events, current, fields(parsed));
    });
  }

  /** Bulk PUT: every item names an existing document of this threat model; all change or none. */
  async updateMany(threatModelId: string, rawItems: DocumentUpdateInput[]): Promise<Document[]> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const items = parseInput(bulk(documentUpdateSchema), rawItems);
    const ids = items.map((item) => parseId(item.id, 'id'));
    if (new Set(ids).size !== ids.length) {
      throw new AppError('VALIDATION_FAILED', 'The same document appears more than once in the request');
    }
    return withEvents(this.ctx, async (tx, events) => {
      const updated: Document[] = [];
      for (const [index, { id: _id, ...input }] of items.entries()) {
        const current = await this.lock(tx, tmId, ids[index]!, null);
        updated.push(await this.write(tx, events, current, fields(input)));
      }
      return updated;
    });
  }

  async patch(threatModelId: string, rawId: string, operations: JsonPatchOperation[], expectedVersion?: number | null) {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = parseId(rawId, 'document_id');
    return withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, expectedVersion);
      const next = applyJsonPatch(patchDocument(current), operations, documentPatchableSchema);
      return this.write(tx, events, current, fields(next));
    });
  }

  async delete(threatModelId: string, rawId: string): Promise<void> {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, 'threat_model:write');
    const id = parseId(rawId, 'document_id');
    await withEvents(this.ctx, async (tx, events) => {
      const current = await this.lock(tx, tmId, id, null);
      await tx.document.delete({ where: { id } });
      await this.record(events, 'deleted', current);
    });
  }

  private async lock(tx: Tx, threatModelId: string, id: string, expectedVersion: number | null | undefined) {
    const rows = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM documents WHERE id = ${id}::uuid AND threat_model_id = ${threatModelId}::uuid FOR UPDATE`;
    if (rows.length === 0) throw notFound(id);
    const current = await tx.document.findUniqueOrThrow({ where: { id } });
    if (expectedVersion != null && expectedVersion !== current.version) {
      throw new AppError('VERSION_CONFLICT', undefined, {
        context: { document_id: id, expected_version: expectedVersion, current_version: current.version },
      });
    }
    return current;
  }

  private async write(tx: Tx, events: EventLog, current: Document, next: DocumentFields): Promise<Document> {
    const document = await tx.document.update({
      where: { id: current.id },
      data: { ...next, version: { increment: 1 }, modifiedAt: this.ctx.now() },
    });
    await this.record(events, 'updated', document);
    return document;
  }

  private record(events: EventLog, action: 'created' | 'updated' | 'deleted', document: Document): Promise<void> {
    return events.record({
      resource: 'document',
      action,
      threatModelId: document.threatModelId,
      objectId: document.id,
      data: { ...patchDocument(document) } as Record<string, string | number | boolean | null>,
    });
  }
}
