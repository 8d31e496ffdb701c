import { type Repository, RepositoryService } from '../src/modules/repositories/service.js';
import { builder } from './builder.js';
import { RepositoryRef } from './repository-types.js';
import { JsonPatchOperationInput } from './threat-models.js';

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

const RepositoryPage = builder
  .objectRef<{ items: Repository[]; total: number; limit: number; offset: number }>('RepositoryPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [RepositoryRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

builder.queryFields((t) => ({
  repository: t.field({
    type: RepositoryRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => new RepositoryService(ctx.service).get(String(args.threatModelId), String(args.id)),
  }),
  repositoryPage: t.field({
    type: RepositoryPage,
    description: "Offset pagination, as TMI's REST list serves it",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, args, ctx) =>
      new RepositoryService(ctx.service).list(String(args.threatModelId), {
        limit: args.limit ?? 20,
        offset: args.offset ?? 0,
      }),
  }),
}));

builder.mutationFields((t) => ({
  createRepository: t.field({
    type: RepositoryRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), input: t.arg({ type: RepositoryInput, required: true }) },
    resolve: (_root, args, ctx) => new RepositoryService(ctx.service).create(String(args.threatModelId), args.input),
  }),
  createRepositories: t.field({
    type: [RepositoryRef],
    description: 'Creates every repository or none',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), inputs: t.arg({ type: [RepositoryInput], required: true }) },
    resolve: (_root, args, ctx) =>
      new RepositoryService(ctx.service).createMany(String(args.threatModelId), args.inputs),
  }),
  updateRepository: t.field({
    type: RepositoryRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      input: t.arg({ type: RepositoryInput, required: true }),
    },
    resolve: (_root, args, ctx) =>
      new RepositoryService(ctx.service).update(String(args.threatModelId), String(args.id), args.input),
  }),
  updateRepositories: t.field({
    type: [RepositoryRef],
    description: 'Replaces every listed repository or none',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      inputs: t.arg({ type: [RepositoryUpdateInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new RepositoryService(ctx.service).updateMany(
        String(args.threatModelId),
        args.inputs.map((input) => ({ ...input, id: String(input.id) })),
      ),
  }),
  patchRepository: t.field({
    type: RepositoryRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new RepositoryService(ctx.service).patch(String(args.threatModelId), String(args.id), args.operations),
  }),
  deleteRepository: t.id({
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await new RepositoryService(ctx.service).delete(String(args.threatModelId), String(args.id));
      return String(args.id);
    },
  }),
}));
