import { withFilter } from 'graphql-subscriptions';
import type { DomainEventMessage } from '../src/infra/pubsub.js';
import { threatModelInclude } from '../src/modules/threat-models/read.js';
import {
  type ThreatModelRecord,
  ThreatModelService,
  threatModelListWhere,
} from '../src/modules/threat-models/service.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';
import { DocumentRef } from './document-types.js';
import { NoteRef } from './note-types.js';
import { RepositoryRef } from './repository-types.js';
import {
  AuthorizationEntryInput,
  MetadataEntry,
  MetadataEntryInput,
  PrincipalTypeEnum,
  RoleEnum,
  UserRef,
} from './principals.js';
import { AssetRef } from './asset-types.js';
import { DiagramRef } from './diagram-types.js';
import { ThreatRef } from './threat-types.js';

const AuthorizationEntry = builder.prismaObject('ThreatModelAccess', {
  name: 'AuthorizationEntry',
  fields: (t) => ({
    principalType: t.field({ type: PrincipalTypeEnum, resolve: (entry) => entry.principalType }),
    provider: t.exposeString('provider'),
    providerId: t.exposeString('providerId'),
    displayName: t.exposeString('displayName', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    role: t.field({ type: RoleEnum, resolve: (entry) => entry.role }),
  }),
});

type ChildList = 'documents' | 'notes' | 'repositories' | 'threats' | 'assets' | 'diagrams';

/** Each list's table, and whether its rows carry metadata. */
const childTables: Record<ChildList, { model: string; metadata: boolean }> = {
  documents: { model: 'document', metadata: false },
  notes: { model: 'note', metadata: false },
  repositories: { model: 'repository', metadata: false },
  threats: { model: 'threat', metadata: true },
  assets: { model: 'asset', metadata: true },
  diagrams: { model: 'diagram', metadata: true },
};

const listed = (what: string) => `All ${what}, as TMI's full representation lists them (the point read loads them)`;

/** A child list: what the point read loaded, else one query in alias order (with metadata where kept). */
const children =
  <L extends ChildList>(list: L) =>
  (tm: { id: string }, _args: object, ctx: GraphQLContext) => {
    const loaded = (tm as ThreatModelRecord)[list];
    if (loaded) return loaded as NonNullable<ThreatModelRecord[L]>;
    const { model, metadata } = childTables[list];
    const table = ctx.service.db.prisma[model as 'document'] as unknown as {
      findMany(args: object): Promise<NonNullable<ThreatModelRecord[L]>>;
    };
    return table.findMany({
      where: { threatModelId: tm.id },
      orderBy: { alias: 'asc' },
      ...(metadata ? { include: { metadata: { orderBy: { key: 'asc' } } } } : {}),
    });
  };

const byAlias = { cursor: 'id', totalCount: true, query: { orderBy: { alias: 'asc' as const } } } as const;

// The aggregate's people, authorization and metadata are always loaded with it (one statement for a
// point read, joined into list queries), so these fields read the loaded record and plan nothing.
export const ThreatModelRef = builder.prismaObject('ThreatModel', {
  include: threatModelInclude,
  fields: (t) => ({
    id: t.exposeID('id'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    threatModelFramework: t.exposeString('threatModelFramework'),
    issueUri: t.exposeString('issueUri', { nullable: true }),
    status: t.exposeString('status'),
    statusUpdated: t.expose('statusUpdated', { type: 'DateTime', nullable: true }),
    isConfidential: t.exposeBoolean('isConfidential'),
    projectId: t.exposeID('projectId', { nullable: true }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
    owner: t.field({ type: UserRef, resolve: (tm) => tm.owner }),
    createdBy: t.field({ type: UserRef, resolve: (tm) => tm.createdBy }),
    securityReviewer: t.field({ type: UserRef, nullable: true, resolve: (tm) => tm.securityReviewer }),
    authorization: t.field({ type: [AuthorizationEntry], resolve: (tm) => tm.authorization }),
    metadata: t.field({ type: [MetadataEntry], resolve: (tm) => tm.metadata }),
    // TMI's full representation lists every child (the point read loads them all in its one statement);
    // the Relay connections page through them; the counts are what list summaries show.
    documentCount: t.int({ resolve: (tm) => tm._count.documents }),
    documentList: t.field({ type: [DocumentRef], description: listed('documents'), resolve: children('documents') }),
    documents: t.relatedConnection('documents', byAlias),
    repoCount: t.int({ resolve: (tm) => tm._count.repositories }),
    repositoryList: t.field({
      type: [RepositoryRef],
      description: listed('repositories'),
      resolve: children('repositories'),
    }),
    repositories: t.relatedConnection('repositories', byAlias),
    diagramCount: t.int({ resolve: (tm) => tm._count.diagrams }),
    diagramList: t.field({
      type: [DiagramRef],
      description: listed('diagrams with their cells'),
      resolve: children('diagrams'),
    }),
    diagrams: t.relatedConnection('diagrams', byAlias),
    threatCount: t.int({ resolve: (tm) => tm._count.threats }),
    threatList: t.field({ type: [ThreatRef], description: listed('threats'), resolve: children('threats') }),
    threats: t.relatedConnection('threats', byAlias),
    assetCount: t.int({ resolve: (tm) => tm._count.assets }),
    assetList: t.field({ type: [AssetRef], description: listed('assets'), resolve: children('assets') }),
    assets: t.relatedConnection('assets', byAlias),
    noteCount: t.int({ resolve: (tm) => tm._count.notes }),
    noteList: t.field({ type: [NoteRef], description: listed('notes'), resolve: children('notes') }),
    notes: t.relatedConnection('notes', byAlias),
  }),
});

const ThreatModelFilter = builder.inputType('ThreatModelFilter', {
  fields: (t) => ({
    name: t.string({ description: 'Case-insensitive substring of the name' }),
    owner: t.string({ description: "Substring of the owner's name or email" }),
    description: t.string(),
    issueUri: t.string({ description: 'Case-insensitive substring of the issue URI' }),
    status: t.stringList(),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
    modifiedAfter: t.field({ type: 'DateTime' }),
    modifiedBefore: t.field({ type: 'DateTime' }),
  }),
});

const ThreatModelInput = builder.inputType('ThreatModelInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    threatModelFramework: t.string(),
    authorization: t.field({ type: [AuthorizationEntryInput] }),
    metadata: t.field({ type: [MetadataEntryInput] }),
    issueUri: t.string(),
    isConfidential: t.boolean(),
  }),
});

export const JsonPatchOperationInput = builder.inputType('JsonPatchOperationInput', {
  description: 'An RFC 6902 operation on the threat model document (camelCase paths, enum values in lower case)',
  fields: (t) => ({
    op: t.string({ required: true }),
    path: t.string({ required: true }),
    from: t.string(),
    value: t.field({ type: 'JSON' }),
  }),
});

const ThreatModelPage = builder
  .objectRef<{ items: ThreatModelRecord[]; total: number; limit: number; offset: number }>('ThreatModelPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [ThreatModelRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const ThreatModelChangeAction = builder.enumType('ThreatModelChangeAction', {
  values: { CREATED: { value: 'created' }, UPDATED: { value: 'updated' }, DELETED: { value: 'deleted' } } as const,
});

const actionOf = (event: DomainEventMessage) => event.eventType.split('.')[1] as 'created' | 'updated' | 'deleted';

/** A change of the threat model itself (its own events, not its children's). */
const ThreatModelChange = builder.objectRef<DomainEventMessage>('ThreatModelChange').implement({
  fields: (t) => ({
    threatModelId: t.exposeID('threatModelId'),
    action: t.field({ type: ThreatModelChangeAction, resolve: actionOf }),
    actorId: t.exposeID('actorId', { nullable: true }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.occurredAt) }),
  }),
});

/** Anything that changed under a threat model, named as TMI's webhook events. */
const ThreatModelEvent = builder.objectRef<DomainEventMessage>('ThreatModelEvent').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    sequence: t.exposeString('sequence', { description: 'Position in the global event order' }),
    eventType: t.exposeString('eventType', { description: '`{resource}.{action}`, e.g. `metadata.created`' }),
    threatModelId: t.exposeID('threatModelId'),
    objectType: t.exposeString('objectType'),
    objectId: t.exposeID('objectId'),
    actorId: t.exposeID('actorId', { nullable: true }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.occurredAt) }),
    data: t.field({ type: 'JSON', resolve: (event) => event.data }),
  }),
});

builder.queryFields((t) => ({
  threatModel: t.field({
    type: ThreatModelRef,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new ThreatModelService(ctx.service).get(String(id)),
  }),
  threatModels: t.prismaConnection({
    type: 'ThreatModel',
    cursor: 'id',
    totalCount: (_parent, { filter }, ctx) =>
      ctx.service.db.prisma.threatModel.count({ where: threatModelListWhere(ctx.service.principal!, filter ?? {}) }),
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: ThreatModelFilter }) },
    resolve: (query, _root, { filter }, ctx) =>
      ctx.service.db.prisma.threatModel.findMany({
        ...query,
        where: threatModelListWhere(ctx.service.principal!, filter ?? {}),
      }),
  }),
  threatModelPage: t.field({
    type: ThreatModelPage,
    description: "Offset pagination, as TMI's REST list serves it",
    authScopes: { authenticated: true },
    args: {
      filter: t.arg({ type: ThreatModelFilter }),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { filter, limit, offset }, ctx) =>
      new ThreatModelService(ctx.service).list(filter ?? {}, { limit: limit ?? 20, offset: offset ?? 0 }),
  }),
}));

builder.mutationFields((t) => ({
  createThreatModel: t.field({
    type: ThreatModelRef,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: ThreatModelInput, required: true }) },
    resolve: (_root, { input }, ctx) => new ThreatModelService(ctx.service).create(input),
  }),
  updateThreatModel: t.field({
    type: ThreatModelRef,
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: ThreatModelInput, required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, { id, input, expectedVersion }, ctx) =>
      new ThreatModelService(ctx.service).update(String(id), input, expectedVersion),
  }),
  patchThreatModel: t.field({
    type: ThreatModelRef,
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true }),
      operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
      expectedVersion: t.arg.int(),
    },
    resolve: (_root, { id, operations, expectedVersion }, ctx) =>
      new ThreatModelService(ctx.service).patch(String(id), operations, expectedVersion),
  }),
  deleteThreatModel: t.id({
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await new ThreatModelService(ctx.service).delete(String(id));
      return String(id);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  threatModelEvents: t.field({
    type: ThreatModelEvent,
    description: 'Every change under a threat model (it, its children and their metadata), after it commits',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }) },
    subscribe: async (_root, { threatModelId }, ctx) => {
      // Only someone who may read the threat model may watch it.
      const record = await new ThreatModelService(ctx.service).get(String(threatModelId));
      return ctx.service.pubsub.subscribe('threat_model.events', record.id);
    },
    resolve: (event) => event,
  }),
  threatModelChanged: t.field({
    type: ThreatModelChange,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (root, args, ctx, info) => {
      const record = await new ThreatModelService(ctx.service).get(String(args.id));
      const events = ctx.service.pubsub.subscribe('threat_model.events', record.id);
      const ownChanges = withFilter(
        () => events,
        (event: DomainEventMessage | undefined) => event?.objectType === 'threat_model',
      );
      return ownChanges(root as never, args, ctx, info) as AsyncIterable<DomainEventMessage>;
    },
    resolve: (event: DomainEventMessage) => event,
  }),
}));
