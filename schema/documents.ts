import { type Document, DocumentService } from '../src/modules/documents/service.js';
import { builder } from './builder.js';
import { DocumentRef } from './document-types.js';
import { JsonPatchOperationInput } from './threat-models.js';

const DocumentInput = builder.inputType('DocumentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    uri: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

const DocumentUpdateInput = builder.inputType('DocumentUpdateInput', {
  description: 'A document of the bulk update, named by its id',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: true }),
    uri: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

const DocumentPage = builder
  .objectRef<{ items: Document[]; total: number; limit: number; offset: number }>('DocumentPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [DocumentRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

builder.queryFields((t) => ({
  document: t.field({
    type: DocumentRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => new DocumentService(ctx.service).get(String(args.threatModelId), String(args.id)),
  }),
  documentPage: t.field({
    type: DocumentPage,
    description: "Offset pagination, as TMI's REST list serves it",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, args, ctx) =>
      new DocumentService(ctx.service).list(String(args.threatModelId), {
        limit: args.limit ?? 20,
        offset: args.offset ?? 0,
      }),
  }),
}));

builder.mutationFields((t) => ({
  createDocument: t.field({
    type: DocumentRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), input: t.arg({ type: DocumentInput, required: true }) },
    resolve: (_root, args, ctx) => new DocumentService(ctx.service).create(String(args.threatModelId), args.input),
  }),
  createDocuments: t.field({
    type: [DocumentRef],
    description: 'Creates every document or none',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), inputs: t.arg({ type: [DocumentInput], required: true }) },
    resolve: (_root, args, ctx) => new DocumentService(ctx.service).createMany(String(args.threatModelId), args.inputs),
  }),
  updateDocument: t.field({
    type: DocumentRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      input: t.arg({ type: DocumentInput, required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      new DocumentService(ctx.service).update(
        String(args.threatModelId),
        String(args.id),
        args.input,
        args.expectedVersion,
      ),
  }),
  updateDocuments: t.field({
    type: [DocumentRef],
    description: 'Replaces every listed document or none',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      inputs: t.arg({ type: [DocumentUpdateInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new DocumentService(ctx.service).updateMany(
        String(args.threatModelId),
        args.inputs.map((input) => ({ ...input, id: String(input.id) })),
      ),
  }),
  patchDocument: t.field({
    type: DocumentRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      new DocumentService(ctx.service).patch(
        String(args.threatModelId),
        String(args.id),
        args.operations,
        args.expectedVersion,
      ),
  }),
  deleteDocument: t.id({
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await new DocumentService(ctx.service).delete(String(args.threatModelId), String(args.id));
      return String(args.id);
    },
  }),
}));
