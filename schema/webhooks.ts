import { withFilter } from 'graphql-subscriptions';
import type { Principal } from '../src/auth/principal.js';
import { DeliveryService } from '../src/modules/webhooks/deliveries.js';
import { type DeliveryProgress, PROGRESS_KEY } from '../src/modules/webhooks/progress.js';
import { SubscriptionService, type SubscriptionView } from '../src/modules/webhooks/subscriptions.js';
import { builder } from './builder.js';
import { UserRef } from './principals.js';

const SubscriptionStatusEnum = builder.enumType('WebhookSubscriptionStatus', {
  values: {
    PENDING_VERIFICATION: { value: 'pending_verification' },
    ACTIVE: { value: 'active', description: 'Receives deliveries' },
    PENDING_DELETE: { value: 'pending_delete', description: 'Stopped after repeated failed deliveries' },
  } as const,
});

export const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Queued, or waiting for its next attempt' },
    IN_PROGRESS: { value: 'in_progress', description: 'Accepted by an async receiver, which reports progress' },
    DELIVERED: { value: 'delivered' },
    FAILED: { value: 'failed' },
  } as const,
});

export const WebhookSubscriptionRef = builder.objectRef<SubscriptionView>('WebhookSubscription').implement({
  description: 'Where TMI posts signed deliveries of which events (administrators manage them)',
  fields: (t) => ({
    id: t.exposeID('id'),
    ownerId: t.exposeID('ownerId'),
    threatModelId: t.exposeID('threatModelId', { nullable: true }),
    name: t.exposeString('name'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: "TMI's event types, `{resource}.{action}`" }),
    secret: t.string({
      nullable: true,
      description: 'The HMAC key: only in the answer to the creation',
      resolve: (subscription) => subscription.secret ?? null,
    }),
    status: t.field({ type: SubscriptionStatusEnum, resolve: (s) => s.status as 'active' }),
    challengesSent: t.exposeInt('challengesSent'),
    publicationFailures: t.exposeInt('publicationFailures', { description: 'Consecutive failed deliveries' }),
    lastSuccessfulUse: t.expose('lastSuccessfulUse', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});

export const WebhookDeliveryRef = builder.prismaObject('WebhookDelivery', {
  description: 'One event posted to one subscription, with its attempts and (async receivers) progress',
  fields: (t) => ({
    id: t.exposeID('id'),
    subscriptionId: t.exposeID('subscriptionId'),
    eventType: t.exposeString('eventType'),
    threatModelId: t.exposeID('threatModelId', { nullable: true }),
    objectType: t.exposeString('objectType', { nullable: true }),
    objectId: t.exposeID('objectId', { nullable: true }),
    payload: t.field({ type: 'JSON', description: 'The body as posted', resolve: (d) => d.payload }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status as 'pending' }),
    attempts: t.exposeInt('attempts'),
    nextRetryAt: t.expose('nextRetryAt', { type: 'DateTime', nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    statusPercent: t.exposeInt('statusPercent', { nullable: true }),
    statusMessage: t.exposeString('statusMessage', { nullable: true }),
    statusUpdatedAt: t.expose('statusUpdatedAt', { type: 'DateTime', nullable: true }),
    lastActivityAt: t.expose('lastActivityAt', { type: 'DateTime', nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    addonId: t.exposeID('addonId', { nullable: true }),
    invokedBy: t.relation('invokedBy', { type: UserRef, nullable: true }),
  }),
});

const WebhookSubscriptionPage = builder
  .objectRef<{ items: SubscriptionView[]; total: number; limit: number; offset: number }>('WebhookSubscriptionPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [WebhookSubscriptionRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const WebhookDeliveryPage = builder
  .objectRef<Awaited<ReturnType<DeliveryService['list']>>>('WebhookDeliveryPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [WebhookDeliveryRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const WebhookTestResult = builder
  .objectRef<{ deliveryId: string; status: string; message: string }>('WebhookTestResult')
  .implement({
    fields: (t) => ({
      deliveryId: t.exposeID('deliveryId'),
      status: t.exposeString('status'),
      message: t.exposeString('message'),
    }),
  });

const WebhookSubscriptionInput = builder.inputType('WebhookSubscriptionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    url: t.string({ required: true, description: 'https (http only where configured); public addresses only' }),
    events: t.stringList({ required: true }),
    secret: t.string({ description: '16 to 128 characters; generated when omitted' }),
    threatModelId: t.id({ description: 'Only events of this threat model' }),
  }),
});

builder.queryFields((t) => ({
  webhookSubscriptions: t.field({
    type: WebhookSubscriptionPage,
    description: 'Every subscription for administrators; for others, those they own',
    authScopes: { authenticated: true },
    args: {
      threatModelId: t.arg.id(),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, args, ctx) =>
      new SubscriptionService(ctx.service).list({
        threatModelId: args.threatModelId ? String(args.threatModelId) : null,
        limit: args.limit ?? 20,
        offset: args.offset ?? 0,
      }),
  }),
  webhookSubscription: t.field({
    type: WebhookSubscriptionRef,
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new SubscriptionService(ctx.service).get(String(id)),
  }),
  webhookDeliveries: t.field({
    type: WebhookDeliveryPage,
    description: 'Newest first: every delivery for administrators; for others, those they own or invoked',
    authScopes: { authenticated: true },
    args: {
      subscriptionId: t.arg.id(),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, args, ctx) =>
      new DeliveryService(ctx.service).list({
        subscriptionId: args.subscriptionId ? String(args.subscriptionId) : null,
        limit: args.limit ?? 20,
        offset: args.offset ?? 0,
      }),
  }),
  webhookDelivery: t.field({
    type: WebhookDeliveryRef,
    description:
      "For administrators, the subscription's owner and the user who invoked it; without a token, for the " +
      "receiver, given `signature`: sha256=<hex HMAC-SHA256 of the delivery id, keyed by the subscription's secret>",
    args: { id: t.arg.id({ required: true }), signature: t.arg.string() },
    resolve: (_root, { id, signature }, ctx) => new DeliveryService(ctx.service).get(String(id), signature),
  }),
}));

builder.mutationFields((t) => ({
  createWebhookSubscription: t.field({
    type: WebhookSubscriptionRef,
    authScopes: { admin: true },
    args: { input: t.arg({ type: WebhookSubscriptionInput, required: true }) },
    resolve: (_root, { input }, ctx) => new SubscriptionService(ctx.service).create(input),
  }),
  deleteWebhookSubscription: t.id({
    description: 'Deletes the subscription with its deliveries and add-ons; returns its id',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await new SubscriptionService(ctx.service).delete(String(id));
      return String(id).toLowerCase();
    },
  }),
  testWebhookSubscription: t.field({
    type: WebhookTestResult,
    description: 'Queues a delivery of a test event (threat_model.created unless named)',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), eventType: t.arg.string() },
    resolve: (_root, { id, eventType }, ctx) => new SubscriptionService(ctx.service).test(String(id), eventType),
  }),
}));

const DeliveryStatusReport = builder
  .objectRef<Awaited<ReturnType<DeliveryService['updateStatus']>>>('WebhookDeliveryStatusReport')
  .implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      status: t.field({ type: DeliveryStatusEnum, resolve: (report) => report.status }),
      statusPercent: t.exposeInt('statusPercent'),
      statusUpdatedAt: t.expose('statusUpdatedAt', { type: 'DateTime' }),
    }),
  });

builder.mutationFields((t) => ({
  reportWebhookDeliveryStatus: t.field({
    type: DeliveryStatusReport,
    description:
      "An async receiver's status callback: `body` is the JSON text it signed ({status: in_progress|completed|" +
      'failed, status_percent, status_message}), `signature` sha256=<hex HMAC-SHA256 of body>. No token needed.',
    args: { id: t.arg.id({ required: true }), body: t.arg.string({ required: true }), signature: t.arg.string() },
    resolve: (_root, { id, body, signature }, ctx) =>
      new DeliveryService(ctx.service).updateStatus(String(id), body, signature),
  }),
}));

const DeliveryProgressEvent = builder.objectRef<DeliveryProgress>('DeliveryProgressEvent').implement({
  description: "A delivery's state after a change: an attempt's outcome or a receiver's status callback",
  fields: (t) => ({
    deliveryId: t.exposeID('id'),
    subscriptionId: t.exposeID('subscriptionId'),
    eventType: t.exposeString('eventType'),
    threatModelId: t.exposeID('threatModelId', { nullable: true }),
    addonId: t.exposeID('addonId', { nullable: true }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (p) => p.status }),
    attempts: t.exposeInt('attempts'),
    statusPercent: t.exposeInt('statusPercent', { nullable: true }),
    statusMessage: t.exposeString('statusMessage', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (p) => new Date(p.at) }),
  }),
});

const DeliveryProgressFilter = builder.inputType('DeliveryProgressFilter', {
  fields: (t) => ({
    subscriptionId: t.id(),
    addonId: t.id(),
    threatModelId: t.id(),
    status: t.field({ type: DeliveryStatusEnum }),
  }),
});

/** Administrators see every delivery; others those they invoked or whose subscription they own. */
const mayWatch = (principal: Principal | undefined, progress: DeliveryProgress) =>
  principal !== undefined &&
  (principal.isAdmin || progress.invokedById === principal.userId || progress.subscriptionOwnerId === principal.userId);

builder.subscriptionFields((t) => ({
  webhookDeliveryUpdated: t.field({
    type: DeliveryProgressEvent,
    description: 'Every status change and progress report of one delivery, from any instance',
    authScopes: { authenticated: true },
    args: { deliveryId: t.arg.id({ required: true }) },
    subscribe: async (root, args, ctx, info) => {
      // Only someone who may read the delivery may watch it (404 otherwise).
      const delivery = await new DeliveryService(ctx.service).get(String(args.deliveryId));
      const changes = ctx.service.pubsub.subscribe('webhook.deliveries', PROGRESS_KEY);
      const own = withFilter(
        () => changes,
        (progress: DeliveryProgress | undefined) => progress?.id === delivery.id,
      );
      return own(root as never, args, ctx, info) as AsyncIterable<DeliveryProgress>;
    },
    resolve: (progress: DeliveryProgress) => progress,
  }),
  deliveryProgress: t.field({
    type: DeliveryProgressEvent,
    description: 'Every delivery change the caller may see, narrowed by the filter: a live dashboard',
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: DeliveryProgressFilter }) },
    subscribe: (root, args, ctx, info) => {
      const filter = args.filter ?? {};
      const changes = ctx.service.pubsub.subscribe('webhook.deliveries', PROGRESS_KEY);
      const matching = withFilter(
        () => changes,
        (progress: DeliveryProgress | undefined) =>
          progress !== undefined &&
          mayWatch(ctx.service.principal, progress) &&
          (!filter.subscriptionId || progress.subscriptionId === String(filter.subscriptionId).toLowerCase()) &&
          (!filter.addonId || progress.addonId === String(filter.addonId).toLowerCase()) &&
          (!filter.threatModelId || progress.threatModelId === String(filter.threatModelId).toLowerCase()) &&
          (!filter.status || progress.status === filter.status),
      );
      return matching(root as never, args, ctx, info) as AsyncIterable<DeliveryProgress>;
    },
    resolve: (progress: DeliveryProgress) => progress,
  }),
}));
