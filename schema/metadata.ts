import { MetadataService, type MetadataTarget } from '../src/modules/metadata/service.js';
import { builder } from './builder.js';
import { MetadataEntryInput } from './principals.js';
import { MetadataEntry } from './principals.js';

const MetadataEntityType = builder.enumType('MetadataEntityType', {
  values: {
    THREAT_MODEL: { value: 'threat_model' },
    DOCUMENT: { value: 'document' },
    REPOSITORY: { value: 'repository' },
    NOTE: { value: 'note' },
    THREAT: { value: 'threat' },
    ASSET: { value: 'asset' },
    DIAGRAM: { value: 'diagram' },
  } as const,
});

const MetadataTargetInput = builder.inputType('MetadataTarget', {
  description: 'Whose metadata: a threat model, or one of its children named by entityId',
  fields: (t) => ({
    threatModelId: t.id({ required: true }),
    entityType: t.field({ type: MetadataEntityType, required: true }),
    entityId: t.id({ description: 'The child’s id (not used for THREAT_MODEL)' }),
  }),
});

const target = (input: {
  threatModelId: string | number;
  entityType: MetadataTarget['entityType'];
  entityId?: string | number | null;
}) => ({
  threatModelId: String(input.threatModelId),
  entityType: input.entityType,
  entityId: input.entityId == null ? null : String(input.entityId),
});

builder.queryFields((t) => ({
  metadata: t.field({
    type: [MetadataEntry],
    description: 'The metadata of a threat model or of one of its children, ordered by key',
    authScopes: { authenticated: true },
    args: { target: t.arg({ type: MetadataTargetInput, required: true }) },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).list(target(args.target)),
  }),
  metadataEntry: t.field({
    type: MetadataEntry,
    authScopes: { authenticated: true },
    args: { target: t.arg({ type: MetadataTargetInput, required: true }), key: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).get(target(args.target), args.key),
  }),
}));

builder.mutationFields((t) => ({
  createMetadata: t.field({
    type: MetadataEntry,
    description: 'Adds a key; fails with CONFLICT when it exists',
    authScopes: { authenticated: true },
    args: {
      target: t.arg({ type: MetadataTargetInput, required: true }),
      input: t.arg({ type: MetadataEntryInput, required: true }),
    },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).create(target(args.target), args.input),
  }),
  updateMetadata: t.field({
    type: MetadataEntry,
    description: "Changes an existing key's value",
    authScopes: { authenticated: true },
    args: {
      target: t.arg({ type: MetadataTargetInput, required: true }),
      key: t.arg.string({ required: true }),
      value: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).update(target(args.target), args.key, args.value),
  }),
  deleteMetadata: t.string({
    description: 'Removes a key and returns it',
    authScopes: { authenticated: true },
    args: { target: t.arg({ type: MetadataTargetInput, required: true }), key: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await new MetadataService(ctx.service).delete(target(args.target), args.key);
      return args.key;
    },
  }),
  createMetadataBulk: t.field({
    type: [MetadataEntry],
    description: 'Adds every key or none; fails with CONFLICT when any exists',
    authScopes: { authenticated: true },
    args: {
      target: t.arg({ type: MetadataTargetInput, required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).createMany(target(args.target), args.entries),
  }),
  replaceMetadata: t.field({
    type: [MetadataEntry],
    description: 'Makes the given entries the whole metadata (an empty list clears it)',
    authScopes: { authenticated: true },
    args: {
      target: t.arg({ type: MetadataTargetInput, required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).replaceAll(target(args.target), args.entries),
  }),
  upsertMetadata: t.field({
    type: [MetadataEntry],
    description: 'Creates or updates the given keys, leaving the others alone; returns the given keys',
    authScopes: { authenticated: true },
    args: {
      target: t.arg({ type: MetadataTargetInput, required: true }),
      entries: t.arg({ type: [MetadataEntryInput], required: true }),
    },
    resolve: (_root, args, ctx) => new MetadataService(ctx.service).upsertMany(target(args.target), args.entries),
  }),
}));
