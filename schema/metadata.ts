import { ThreatModelMetadataService } from '../src/modules/metadata/service.js';
import { builder } from './builder.js';
import { MetadataEntryInput } from './principals.js';
import { MetadataEntry } from './threat-models.js';

builder.queryFields((t) => ({
  threatModelMetadata: t.field({
    type: [MetadataEntry],
    description: "A threat model's metadata, ordered by key",
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => new ThreatModelMetadataService(ctx.service).list(String(args.threatModelId)),
  }),
  threatModelMetadataEntry: t.field({
    type: MetadataEntry,
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), key: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).get(String(args.threatModelId), args.key),
  }),
}));

builder.mutationFields((t) => ({
  createThreatModelMetadata: t.field({
    type: MetadataEntry,
    description: 'Adds a key; fails with CONFLICT when it exists',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), input: t.arg({ type: MetadataEntryInput, required: true }) },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).create(String(args.threatModelId), args.input),
  }),
  updateThreatModelMetadata: t.field({
    type: MetadataEntry,
    description: "Changes an existing key's value",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      key: t.arg.string({ required: true }),
      value: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).update(String(args.threatModelId), args.key, args.value),
  }),
  deleteThreatModelMetadata: t.string({
    description: 'Removes a key and returns it',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), key: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await new ThreatModelMetadataService(ctx.service).delete(String(args.threatModelId), args.key);
      return args.key;
    },
  }),
  createThreatModelMetadataBulk: t.field({
    type: [MetadataEntry],
    description: 'Adds every key or none; fails with CONFLICT when any exists',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).createMany(String(args.threatModelId), args.entries),
  }),
  replaceThreatModelMetadata: t.field({
    type: [MetadataEntry],
    description: 'Makes the given entries the whole metadata (an empty list clears it)',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).replaceAll(String(args.threatModelId), args.entries),
  }),
  upsertThreatModelMetadata: t.field({
    type: [MetadataEntry],
    description: 'Creates or updates the given keys, leaving the others alone; returns the given keys',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id({ required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      new ThreatModelMetadataService(ctx.service).upsertMany(String(args.threatModelId), args.entries),
  }),
}));
