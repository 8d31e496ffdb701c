import { RepositoryService } from '../src/modules/repositories/service.js';
import { builder } from './builder.js';
import { addChildOperations } from './children.js';
import { RepositoryRef } from './repository-types.js';

const RepositoryInput = builder.inputType('RepositoryInput', {
  fields: (t) => ({
    name: t.string(),
    uri: t.string({ required: true }),
    description: t.string(),
    type: t.string({ description: 'git, svn, mercurial or other' }),
    parameters: t.field({ type: 'JSON', description: '{refType: branch|tag|commit, refValue, subPath}' }),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

const RepositoryUpdateInput = builder.inputType('RepositoryUpdateInput', {
  description: 'A repository of the bulk update, named by its id',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    uri: t.string({ required: true }),
    description: t.string(),
    type: t.string({ description: 'git, svn, mercurial or other' }),
    parameters: t.field({ type: 'JSON', description: '{refType: branch|tag|commit, refValue, subPath}' }),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

addChildOperations({
  typeName: 'Repository',
  plural: 'Repositories',
  ref: RepositoryRef as never,
  input: RepositoryInput as never,
  updateInput: RepositoryUpdateInput as never,
  versioned: false,
  service: (ctx) => new RepositoryService(ctx) as never,
});
