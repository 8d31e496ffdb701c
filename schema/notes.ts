import { type Note, NoteService } from '../src/modules/notes/service.js';
import { builder } from './builder.js';
import { NoteRef } from './note-types.js';
import { JsonPatchOperationInput } from './threat-models.js';

const NoteInput = builder.inputType('NoteInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    content: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

const NotePage = builder
  .objectRef<{ items: Note[]; total: number; limit: number; offset: number }>('NotePage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [NoteRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

builder.queryFields((t) => ({
  note: t.field({
    type: NoteRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => new NoteService(ctx.service).get(String(args.threatModelId), String(args.id)),
  }),
  notePage: t.field({
    type: NotePage,
    description: "Offset pagination, as TMI's REST list serves it",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, args, ctx) =>
      new NoteService(ctx.service).list(String(args.threatModelId), {
        limit: args.limit ?? 20,
        offset: args.offset ?? 0,
      }),
  }),
}));

builder.mutationFields((t) => ({
  createNote: t.field({
    type: NoteRef,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), input: t.arg({ type: NoteInput, required: true }) },
    resolve: (_root, args, ctx) => new NoteService(ctx.service).create(String(args.threatModelId), args.input),
  }),
  updateNote: t.field({
    type: NoteRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      input: t.arg({ type: NoteInput, required: true }),
    },
    resolve: (_root, args, ctx) =>
      new NoteService(ctx.service).update(String(args.threatModelId), String(args.id), args.input),
  }),
  patchNote: t.field({
    type: NoteRef,
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      id: t.arg.id({ required: true }),
      operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new NoteService(ctx.service).patch(String(args.threatModelId), String(args.id), args.operations),
  }),
  deleteNote: t.id({
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await new NoteService(ctx.service).delete(String(args.threatModelId), String(args.id));
      return String(args.id);
    },
  }),
}));
