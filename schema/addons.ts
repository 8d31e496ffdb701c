import { type AddonParameter, parametersFromStored } from '../src/modules/addons/input.js';
import { type AddonInvocation, AddonService, addonListWhere } from '../src/modules/addons/service.js';
import type { AddonObjectType } from '../src/modules/webhooks/event-types.js';
import { builder } from './builder.js';

export const AddonObjectTypeEnum = builder.enumType('AddonObjectType', {
  description: 'The TMI objects an add-on may act on',
  values: {
    THREAT_MODEL: { value: 'threat_model' },
    DIAGRAM: { value: 'diagram' },
    ASSET: { value: 'asset' },
    THREAT: { value: 'threat' },
    DOCUMENT: { value: 'document' },
    NOTE: { value: 'note' },
    REPOSITORY: { value: 'repository' },
    METADATA: { value: 'metadata' },
    SURVEY: { value: 'survey' },
    SURVEY_RESPONSE: { value: 'survey_response' },
  } as const,
});

const AddonParameterTypeEnum = builder.enumType('AddonParameterType', {
  description: 'Which input control a client renders for the parameter',
  values: {
    ENUM: { value: 'enum' },
    BOOLEAN: { value: 'boolean' },
    STRING: { value: 'string' },
    NUMBER: { value: 'number' },
    METADATA_KEY: { value: 'metadata_key' },
  } as const,
});

const AddonInvocationStatusEnum = builder.enumType('AddonInvocationStatus', {
  values: {
    PENDING: { value: 'pending' },
    IN_PROGRESS: { value: 'in_progress' },
    COMPLETED: { value: 'completed' },
    FAILED: { value: 'failed' },
  } as const,
});

const AddonParameterRef = builder.objectRef<AddonParameter>('AddonParameter').implement({
  description: "A typed parameter of an add-on: the key of a value in the invocation's data",
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.field({ type: AddonParameterTypeEnum, resolve: (parameter) => parameter.type }),
    description: t.exposeString('description', { nullable: true }),
    required: t.boolean({ resolve: (parameter) => parameter.required ?? false }),
    enumValues: t.exposeStringList('enumValues', { nullable: true }),
    defaultValue: t.exposeString('defaultValue', { nullable: true }),
    metadataKey: t.exposeString('metadataKey', { nullable: true }),
    numberMin: t.exposeFloat('numberMin', { nullable: true }),
    numberMax: t.exposeFloat('numberMax', { nullable: true }),
    stringMaxLength: t.exposeInt('stringMaxLength', { nullable: true }),
    stringValidationRegex: t.exposeString('stringValidationRegex', { nullable: true }),
  }),
});

export const AddonRef = builder.prismaObject('Addon', {
  description: 'An action users invoke on TMI objects; each invocation is an `addon.invoked` webhook delivery',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    webhookId: t.exposeID('webhookId'),
    description: t.exposeString('description', { nullable: true }),
    icon: t.exposeString('icon', { nullable: true }),
    objects: t.field({ type: [AddonObjectTypeEnum], resolve: (addon) => addon.objects as AddonObjectType[] }),
    threatModelId: t.exposeID('threatModelId', { nullable: true, description: 'The threat model it is scoped to' }),
    parameters: t.field({ type: [AddonParameterRef], resolve: (addon) => parametersFromStored(addon.parameters) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AddonPage = builder
  .objectRef<{ items: object[]; total: number; limit: number; offset: number }>('AddonPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [AddonRef], resolve: (page) => page.items as never }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const AddonInvocationRef = builder.objectRef<AddonInvocation>('AddonInvocation').implement({
  description: 'An accepted invocation: the webhook delivery that carries it',
  fields: (t) => ({
    deliveryId: t.exposeID('deliveryId'),
    status: t.field({ type: AddonInvocationStatusEnum, resolve: (invocation) => invocation.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AddonParameterInput = builder.inputType('AddonParameterInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Starts with a letter; letters, digits, _ and -' }),
    type: t.field({ type: AddonParameterTypeEnum, required: true }),
    description: t.string(),
    required: t.boolean(),
    enumValues: t.stringList({ description: 'Required for ENUM parameters' }),
    defaultValue: t.string({ description: 'A valid value of the parameter, written as a string' }),
    metadataKey: t.string(),
    numberMin: t.float(),
    numberMax: t.float(),
    stringMaxLength: t.int(),
    stringValidationRegex: t.string(),
  }),
});

const AddonInput = builder.inputType('AddonInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    webhookId: t.id({ required: true, description: 'The webhook subscription invocations are delivered to' }),
    description: t.string(),
    icon: t.string({ description: 'material-symbols:name, or FontAwesome such as fa-solid fa-name' }),
    objects: t.field({ type: [AddonObjectTypeEnum] }),
    threatModelId: t.id({ description: 'Scopes the add-on to one threat model' }),
    parameters: t.field({ type: [AddonParameterInput], description: 'At most 20, names unique' }),
  }),
});

const InvokeAddonInput = builder.inputType('InvokeAddonInput', {
  fields: (t) => ({
    threatModelId: t.id({ required: true }),
    objectType: t.field({ type: AddonObjectTypeEnum }),
    objectId: t.id(),
    data: t.field({ type: 'JSON', description: "An object of the add-on's parameters, at most 1 KB as JSON" }),
  }),
});

builder.queryFields((t) => ({
  addon: t.field({
    type: AddonRef,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AddonService(ctx.service).get(String(id)),
  }),
  addons: t.prismaConnection({
    type: 'Addon',
    cursor: 'id',
    description: 'Add-ons, newest first; with a threat model, those scoped to it and the global ones',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id() },
    totalCount: async (_parent, { threatModelId }, ctx) =>
      ctx.service.db.prisma.addon.count({ where: await addonListWhere(ctx.service, threatModelId) }),
    resolve: async (query, _root, { threatModelId }, ctx) =>
      ctx.service.db.prisma.addon.findMany({
        ...query,
        where: await addonListWhere(ctx.service, threatModelId),
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      }),
  }),
  addonPage: t.field({
    type: AddonPage,
    description: "Offset pagination, as TMI's REST list serves it",
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id(),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { threatModelId, limit, offset }, ctx) =>
      new AddonService(ctx.service).list({
        limit: limit ?? 20,
        offset: offset ?? 0,
        threatModelId: threatModelId == null ? null : String(threatModelId),
      }),
  }),
}));

builder.mutationFields((t) => ({
  createAddon: t.field({
    type: AddonRef,
    description: 'Administrators: registers an add-on on a webhook subscription',
    authScopes: { admin: true },
    args: { input: t.arg({ type: AddonInput, required: true }) },
    resolve: (_root, { input }, ctx) => new AddonService(ctx.service).create(input),
  }),
  deleteAddon: t.id({
    description: 'Administrators: deletes an add-on (CONFLICT while invocations are pending or in progress)',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AddonService(ctx.service).delete(String(id)),
  }),
  invokeAddon: t.field({
    type: AddonInvocationRef,
    description:
      'Invokes an add-on on a threat model the caller can read; RATE_LIMITED (with extensions.retryAfter) beyond the quota',
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: InvokeAddonInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => new AddonService(ctx.service).invoke(String(id), input),
  }),
}));
