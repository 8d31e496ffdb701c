import type { z } from 'zod';
import type { Document } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import { type ChildKind, ChildResourceService } from '../children/service.js';
import { DOCUMENT_BULK_LIMIT, documentInputSchema, documentPatchableSchema } from './input.js';

export type { Document };

type DocumentFields = Pick<Document, 'name' | 'uri' | 'description' | 'includeInReport' | 'timmyEnabled'>;

export const documentKind: ChildKind<Document, DocumentFields> = {
  resource: 'document',
  label: 'Document',
  table: 'documents',
  versioned: true,
  delegate: (db) => db.document,
  input: documentInputSchema,
  fields: (raw) => {
    const input = raw as z.output<typeof documentInputSchema>;
    return {
      name: input.name,
      uri: input.uri,
      description: input.description ?? null,
      includeInReport: input.includeInReport ?? true,
      timmyEnabled: input.timmyEnabled ?? true,
    };
  },
  patchable: documentPatchableSchema,
  document: (document) => ({
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
  }),
  bulkLimit: DOCUMENT_BULK_LIMIT,
  bulkPut: 'upsert',
};

/** Documents linked to a threat model (by URI). */
export class DocumentService extends ChildResourceService<Document, DocumentFields> {
  constructor(ctx: ServiceContext) {
    super(ctx, documentKind);
  }
}
