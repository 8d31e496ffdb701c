import { z } from 'zod';
import {
  CreateWebhookSubscriptionDocument,
  DeleteWebhookSubscriptionDocument,
  GetWebhookDeliveryDocument,
  ReportWebhookDeliveryStatusDocument,
  GetWebhookSubscriptionDocument,
  ListWebhookDeliveriesDocument,
  ListWebhookSubscriptionsDocument,
  TestWebhookSubscriptionDocument,
} from '../generated/graphql.js';
import { defineRoute, listEnvelope, pageQuery } from '../route-table.js';

const subscriptions = '/admin/webhooks/subscriptions';
const webhookParams = z.object({ webhook_id: z.string() });
const deliveryParams = z.object({ delivery_id: z.string() });
const noQuery = z.object({}).passthrough();

export const webhookRoutes = [
  defineRoute({
    method: 'GET',
    path: subscriptions,
    document: ListWebhookSubscriptionsDocument,
    params: z.object({}),
    query: pageQuery.extend({ threat_model_id: z.string().optional() }),
    variables: ({ query }) => ({ threatModelId: query.threat_model_id, limit: query.limit, offset: query.offset }),
    present: listEnvelope('subscriptions'),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: subscriptions,
    document: CreateWebhookSubscriptionDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ input: body }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: `${subscriptions}/{webhook_id}`,
    document: GetWebhookSubscriptionDocument,
    params: webhookParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.webhook_id }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: `${subscriptions}/{webhook_id}`,
    document: DeleteWebhookSubscriptionDocument,
    params: webhookParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.webhook_id }),
    status: 204,
  }),
  // TMI answers 200 or 202; the test delivery is queued like any other, hence 202.
  defineRoute({
    method: 'POST',
    path: `${subscriptions}/{webhook_id}/test`,
    document: TestWebhookSubscriptionDocument,
    params: webhookParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => {
      const eventType = body && typeof body === 'object' ? (body as { event_type?: unknown }).event_type : undefined;
      return { id: params.webhook_id, eventType };
    },
    status: 202,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/webhooks/deliveries',
    document: ListWebhookDeliveriesDocument,
    params: z.object({}),
    query: pageQuery.extend({ subscription_id: z.string().optional() }),
    variables: ({ query }) => ({ subscriptionId: query.subscription_id, limit: query.limit, offset: query.offset }),
    present: listEnvelope('deliveries'),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/webhooks/deliveries/{delivery_id}',
    document: GetWebhookDeliveryDocument,
    params: deliveryParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.delivery_id }),
    status: 200,
  }),
  // The receiver's side: a token, or the HMAC of the delivery id (GET) or of the exact body (POST).
  defineRoute({
    method: 'GET',
    path: '/webhook-deliveries/{delivery_id}',
    document: GetWebhookDeliveryDocument,
    params: deliveryParams,
    query: noQuery,
    variables: ({ params, headers }) => ({ id: params.delivery_id, signature: signatureOf(headers) }),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/webhook-deliveries/{delivery_id}/status',
    document: ReportWebhookDeliveryStatusDocument,
    params: deliveryParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, headers, rawBody }) => ({
      id: params.delivery_id,
      body: rawBody ?? '',
      signature: signatureOf(headers),
    }),
    status: 200,
  }),
];

function signatureOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers['x-webhook-signature'];
  return Array.isArray(value) ? value[0] : value;
}
