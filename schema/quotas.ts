import {
  type AddonQuota,
  type AddonQuotaLimits,
  AddonQuotaService,
  type QuotaPage,
  type UserApiQuota,
  type UserApiQuotaLimits,
  UserApiQuotaService,
  type WebhookQuota,
  type WebhookQuotaLimits,
  WebhookQuotaService,
} from '../src/modules/quotas/service.js';
import { builder } from './builder.js';

const AddonQuotaLimitsRef = builder.objectRef<AddonQuotaLimits>('AddonQuotaLimits').implement({
  description: 'Limits on add-on invocations',
  fields: (t) => ({
    maxActiveInvocations: t.exposeInt('maxActiveInvocations', { description: 'Pending or in progress at once' }),
    maxInvocationsPerHour: t.exposeInt('maxInvocationsPerHour', { description: 'In any sliding hour' }),
  }),
});

const AddonQuotaRef = builder.objectRef<AddonQuota>('AddonQuota').implement({
  description: "A user's add-on invocation quota",
  fields: (t) => ({
    ownerId: t.exposeID('ownerId'),
    maxActiveInvocations: t.exposeInt('maxActiveInvocations'),
    maxInvocationsPerHour: t.exposeInt('maxInvocationsPerHour'),
    isDefault: t.exposeBoolean('isDefault', {
      description: "The defaults apply: no administrator set this user's own",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});

const WebhookQuotaLimitsRef = builder.objectRef<WebhookQuotaLimits>('WebhookQuotaLimits').implement({
  description: 'Limits on webhook subscriptions',
  fields: (t) => ({
    maxSubscriptions: t.exposeInt('maxSubscriptions'),
    maxEventsPerMinute: t.exposeInt('maxEventsPerMinute'),
    maxSubscriptionRequestsPerMinute: t.exposeInt('maxSubscriptionRequestsPerMinute'),
    maxSubscriptionRequestsPerDay: t.exposeInt('maxSubscriptionRequestsPerDay'),
  }),
});

const WebhookQuotaRef = builder.objectRef<WebhookQuota>('WebhookQuota').implement({
  description: "A user's webhook subscription quota",
  fields: (t) => ({
    ownerId: t.exposeID('ownerId'),
    maxSubscriptions: t.exposeInt('maxSubscriptions'),
    maxEventsPerMinute: t.exposeInt('maxEventsPerMinute'),
    maxSubscriptionRequestsPerMinute: t.exposeInt('maxSubscriptionRequestsPerMinute'),
    maxSubscriptionRequestsPerDay: t.exposeInt('maxSubscriptionRequestsPerDay'),
    isDefault: t.exposeBoolean('isDefault', {
      description: "The defaults apply: no administrator set this user's own",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});

const AddonQuotaPage = builder.objectRef<QuotaPage<AddonQuotaLimits>>('AddonQuotaPage').implement({
  description: 'The users with a quota of their own, and the defaults everyone else has',
  fields: (t) => ({
    items: t.field({ type: [AddonQuotaRef], resolve: (page) => page.items as AddonQuota[] }),
    total: t.exposeInt('total'),
    limit: t.exposeInt('limit'),
    offset: t.exposeInt('offset'),
    defaults: t.field({ type: AddonQuotaLimitsRef, resolve: (page) => page.defaults }),
  }),
});

const WebhookQuotaPage = builder.objectRef<QuotaPage<WebhookQuotaLimits>>('WebhookQuotaPage').implement({
  description: 'The users with a quota of their own, and the defaults everyone else has',
  fields: (t) => ({
    items: t.field({ type: [WebhookQuotaRef], resolve: (page) => page.items as WebhookQuota[] }),
    total: t.exposeInt('total'),
    limit: t.exposeInt('limit'),
    offset: t.exposeInt('offset'),
    defaults: t.field({ type: WebhookQuotaLimitsRef, resolve: (page) => page.defaults }),
  }),
});

const SetAddonQuotaPayload = builder
  .objectRef<{ quota: AddonQuota; created: boolean }>('SetAddonQuotaPayload')
  .implement({
    fields: (t) => ({
      quota: t.field({ type: AddonQuotaRef, resolve: (payload) => payload.quota }),
      created: t.exposeBoolean('created', { description: 'The user had no quota of their own before' }),
    }),
  });

const SetWebhookQuotaPayload = builder
  .objectRef<{ quota: WebhookQuota; created: boolean }>('SetWebhookQuotaPayload')
  .implement({
    fields: (t) => ({
      quota: t.field({ type: WebhookQuotaRef, resolve: (payload) => payload.quota }),
      created: t.exposeBoolean('created', { description: 'The user had no quota of their own before' }),
    }),
  });

const AddonQuotaInput = builder.inputType('AddonQuotaInput', {
  fields: (t) => ({
    maxActiveInvocations: t.int({ required: true, description: '1 to 10' }),
    maxInvocationsPerHour: t.int({ required: true, description: '1 to 1000' }),
  }),
});

const WebhookQuotaInput = builder.inputType('WebhookQuotaInput', {
  fields: (t) => ({
    maxSubscriptions: t.int({ required: true, description: '1 to 100' }),
    maxEventsPerMinute: t.int({ required: true, description: '1 to 1000' }),
    maxSubscriptionRequestsPerMinute: t.int({ required: true, description: '1 to 100' }),
    maxSubscriptionRequestsPerDay: t.int({ required: true, description: '1 to 10000' }),
  }),
});

builder.queryFields((t) => ({
  addonQuotaPage: t.field({
    type: AddonQuotaPage,
    description: 'Administrators: the add-on invocation quotas set per user, and the defaults',
    authScopes: { admin: true },
    args: { limit: t.arg.int({ defaultValue: 50 }), offset: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { limit, offset }, ctx) =>
      new AddonQuotaService(ctx.service).list({ limit: limit ?? 50, offset: offset ?? 0 }),
  }),
  addonQuota: t.field({
    type: AddonQuotaRef,
    description: "Administrators: a user's effective add-on invocation quota (theirs, else the defaults)",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new AddonQuotaService(ctx.service).get(String(userId)),
  }),
  webhookQuotaPage: t.field({
    type: WebhookQuotaPage,
    description: 'Administrators: the webhook quotas set per user, and the defaults',
    authScopes: { admin: true },
    args: { limit: t.arg.int({ defaultValue: 50 }), offset: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { limit, offset }, ctx) =>
      new WebhookQuotaService(ctx.service).list({ limit: limit ?? 50, offset: offset ?? 0 }),
  }),
  webhookQuota: t.field({
    type: WebhookQuotaRef,
    description: "Administrators: a user's effective webhook quota (theirs, else the defaults)",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new WebhookQuotaService(ctx.service).get(String(userId)),
  }),
}));

builder.mutationFields((t) => ({
  setAddonQuota: t.field({
    type: SetAddonQuotaPayload,
    description: "Administrators: sets a user's own add-on invocation quota",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }), input: t.arg({ type: AddonQuotaInput, required: true }) },
    resolve: (_root, { userId, input }, ctx) => new AddonQuotaService(ctx.service).set(String(userId), input),
  }),
  clearAddonQuota: t.id({
    description: "Administrators: the user's add-on invocation quota goes back to the defaults; returns the user id",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new AddonQuotaService(ctx.service).clear(String(userId)),
  }),
  setWebhookQuota: t.field({
    type: SetWebhookQuotaPayload,
    description: "Administrators: sets a user's own webhook quota",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }), input: t.arg({ type: WebhookQuotaInput, required: true }) },
    resolve: (_root, { userId, input }, ctx) => new WebhookQuotaService(ctx.service).set(String(userId), input),
  }),
  clearWebhookQuota: t.id({
    description: "Administrators: the user's webhook quota goes back to the defaults; returns the user id",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new WebhookQuotaService(ctx.service).clear(String(userId)),
  }),
}));

const UserApiQuotaLimitsRef = builder.objectRef<UserApiQuotaLimits>('UserApiQuotaLimits').implement({
  description: 'API rate limits',
  fields: (t) => ({
    maxRequestsPerMinute: t.exposeInt('maxRequestsPerMinute'),
    maxRequestsPerHour: t.exposeInt('maxRequestsPerHour', { nullable: true, description: 'None when null' }),
  }),
});

const UserApiQuotaRef = builder.objectRef<UserApiQuota>('UserApiQuota').implement({
  description: "A user's API rate limits",
  fields: (t) => ({
    userId: t.exposeID('ownerId'),
    maxRequestsPerMinute: t.exposeInt('maxRequestsPerMinute'),
    maxRequestsPerHour: t.exposeInt('maxRequestsPerHour', { nullable: true, description: 'None when null' }),
    isDefault: t.exposeBoolean('isDefault', {
      description: "The defaults apply: no administrator set this user's own",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});

const UserApiQuotaPage = builder.objectRef<QuotaPage<UserApiQuotaLimits>>('UserApiQuotaPage').implement({
  description: 'The users with API rate limits of their own, and the defaults everyone else has',
  fields: (t) => ({
    items: t.field({ type: [UserApiQuotaRef], resolve: (page) => page.items as UserApiQuota[] }),
    total: t.exposeInt('total'),
    limit: t.exposeInt('limit'),
    offset: t.exposeInt('offset'),
    defaults: t.field({ type: UserApiQuotaLimitsRef, resolve: (page) => page.defaults }),
  }),
});

const SetUserApiQuotaPayload = builder
  .objectRef<{ quota: UserApiQuota; created: boolean }>('SetUserApiQuotaPayload')
  .implement({
    fields: (t) => ({
      quota: t.field({ type: UserApiQuotaRef, resolve: (payload) => payload.quota }),
      created: t.exposeBoolean('created', { description: 'The user had no quota of their own before' }),
    }),
  });

const UserApiQuotaInput = builder.inputType('UserApiQuotaInput', {
  fields: (t) => ({
    maxRequestsPerMinute: t.int({ required: true, description: '1 to 10000' }),
    maxRequestsPerHour: t.int({ description: '1 to 600000; none when omitted or null' }),
  }),
});

builder.queryFields((t) => ({
  userApiQuotaPage: t.field({
    type: UserApiQuotaPage,
    description: 'Administrators: the API rate limits set per user, and the defaults',
    authScopes: { admin: true },
    args: { limit: t.arg.int({ defaultValue: 50 }), offset: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { limit, offset }, ctx) =>
      new UserApiQuotaService(ctx.service).list({ limit: limit ?? 50, offset: offset ?? 0 }),
  }),
  userApiQuota: t.field({
    type: UserApiQuotaRef,
    description: "Administrators: a user's effective API rate limits (theirs, else the defaults)",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new UserApiQuotaService(ctx.service).get(String(userId)),
  }),
}));

builder.mutationFields((t) => ({
  setUserApiQuota: t.field({
    type: SetUserApiQuotaPayload,
    description: "Administrators: sets a user's own API rate limits (every instance applies them at once)",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }), input: t.arg({ type: UserApiQuotaInput, required: true }) },
    resolve: (_root, { userId, input }, ctx) => new UserApiQuotaService(ctx.service).set(String(userId), input),
  }),
  clearUserApiQuota: t.id({
    description: "Administrators: the user's API rate limits go back to the defaults; returns the user id",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => new UserApiQuotaService(ctx.service).clear(String(userId)),
  }),
}));
