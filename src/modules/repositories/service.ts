import { z } from 'zod';
import { Prisma, type Repository } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import { type ChildKind, ChildResourceService } from '../children/service.js';
import { absoluteUri, childName, longDescription } from '../shared/fields.js';

export type { Repository };

// TMI's rules for a repository's client-writable fields (RepositoryBase).

const parametersSchema = z.strictObject({
  refType: z.enum(['branch', 'tag', 'commit']),
  refValue: z
    .string()
    .max(256)
    .regex(/^[^\x00-\x1F]*$/, 'must not contain control characters'),
  subPath: z
    .string()
    .max(256)
    .regex(/^[^\x00-\x1F]*$/, 'must not contain control characters')
    .optional(),
});

const fieldsSchema = {
  name: childName.nullish(),
  description: longDescription,
  type: z.enum(['git', 'svn', 'mercurial', 'other']).nullish(),
  parameters: parametersSchema.nullish(),
  uri: absoluteUri,
};

export const repositoryInputSchema = z.strictObject({
  ...fieldsSchema,
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
});

const repositoryPatchableSchema = z.strictObject({
  ...fieldsSchema,
  includeInReport: z.boolean(),
  timmyEnabled: z.boolean(),
});

type RepositoryFields = {
  name: string | null;
  description: string | null;
  type: string | null;
  parameters: Prisma.InputJsonValue | typeof Prisma.DbNull;
  uri: string;
  includeInReport: boolean;
  timmyEnabled: boolean;
};

export const repositoryKind: ChildKind<Repository, RepositoryFields> = {
  resource: 'repository',
  label: 'Repository',
  table: 'repositories',
  versioned: false,
  delegate: (db) => db.repository,
  input: repositoryInputSchema,
  fields: (raw) => {
    const input = raw as z.output<typeof repositoryInputSchema>;
    return {
      name: input.name ?? null,
      description: input.description ?? null,
      type: input.type ?? null,
      parameters: input.parameters ?? Prisma.DbNull,
      uri: input.uri,
      includeInReport: input.includeInReport ?? true,
      timmyEnabled: input.timmyEnabled ?? true,
    };
  },
  patchable: repositoryPatchableSchema,
  document: (repository) => ({
    id: repository.id,
    threatModelId: repository.threatModelId,
    alias: repository.alias,
    name: repository.name,
    description: repository.description,
    type: repository.type,
    parameters: repository.parameters as never,
    uri: repository.uri,
    includeInReport: repository.includeInReport,
    timmyEnabled: repository.timmyEnabled,
    createdAt: repository.createdAt.toISOString(),
    modifiedAt: repository.modifiedAt.toISOString(),
  }),
  bulkLimit: 20,
  bulkPut: 'upsert',
};

/** Source code repositories referenced by a threat model. */
export class RepositoryService extends ChildResourceService<Repository, RepositoryFields> {
  constructor(ctx: ServiceContext) {
    super(ctx, repositoryKind);
  }
}
