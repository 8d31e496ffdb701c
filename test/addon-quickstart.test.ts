import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { type ReceivedDelivery, Receiver } from './helpers/receiver.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The add-on quick start of TMI's "Extending TMI" guide (seed 000), step by step against this server:
// an administrator registers a webhook and an add-on, a user invokes it, and a receiver written from the
// guide verifies the signature, answers at once with `X-TMI-Callback: async`, and reports its progress
// with signed status callbacks until it completes. A dashboard watches the whole thing live.

const WEBHOOK_SECRET = 'your-hmac-secret-min-16-chars';

let server: TestServer;
let receiver: Receiver;
let admin: TestUser;
let analyst: TestUser;
let dashboard: Client | undefined;
const callbacks: Promise<Response>[] = [];

beforeAll(async () => {
  receiver = await new Receiver().start();
  server = await startTestServer({
    TMI_WEBHOOK_ALLOW_HTTP_TARGETS: 'true',
    TMI_SSRF_WEBHOOK_ALLOWLIST: '127.0.0.1',
  });
  const signedIn = await signIn(server, 'quickstart-admin');
  const row = await server.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: { isAdmin: true } });
  admin = { ...signedIn, token: (await server.deps.tokens.issue(row)).token };
  analyst = await signIn(server, 'quickstart-analyst');
});
afterAll(async () => {
  await dashboard?.dispose();
  await server?.close();
  await receiver?.close();
});

/** "Step 2: Verify HMAC Signature", the guide's Node.js recipe. */
function verifySignature(payloadBody: Buffer, signatureHeader: string, secret: string): boolean {
  const hmac = createHmac('sha256', secret);
  hmac.update(payloadBody);
  const expectedSig = `sha256=${hmac.digest('hex')}`;
  const given = Buffer.from(signatureHeader);
  return given.length === Buffer.from(expectedSig).length && timingSafeEqual(given, Buffer.from(expectedSig));
}

/** "Step 4: Update Status During Processing": a POST signed over its exact body, no token. */
function updateStatus(deliveryId: string, status: string, percent: number, message: string): Promise<Response> {
  const payload = JSON.stringify({ status, status_percent: percent, status_message: message });
  const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(payload).digest('hex')}`;
  return fetch(`${server.baseUrl}/webhook-deliveries/${deliveryId}/status`, {
    method: 'POST',
    body: payload,
    headers: { 'Content-Type': 'application/json', 'X-Webhook-Signature': signature },
  });
}

/** "Step 3: Respond Quickly" and process asynchronously: progress at 10 and 75, then completed. */
function handleInvocation(delivery: ReceivedDelivery) {
  if (!verifySignature(delivery.rawBody, String(delivery.headers['x-webhook-signature']), WEBHOOK_SECRET)) {
    return { status: 401 };
  }
  const deliveryId = String(delivery.headers['x-webhook-delivery-id']);
  const processing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = await updateStatus(deliveryId, 'in_progress', 10, 'Starting analysis');
    const report = await updateStatus(deliveryId, 'in_progress', 75, 'Generating report');
    const done = await updateStatus(deliveryId, 'completed', 100, 'Analysis complete');
    return [started, report, done].find((response) => response.status !== 200) ?? done;
  })();
  callbacks.push(processing);
  return { status: 200, headers: { 'X-TMI-Callback': 'async' } };
}

it('the add-on quick start works step by step', async () => {
  const asAdmin = restClient(server.baseUrl, admin.token);
  const asAnalyst = restClient(server.baseUrl, analyst.token);
  receiver.answers.set('/webhooks/tmi', handleInvocation);

  // 1. Register Webhook (administrator).
  const webhook = await asAdmin.post('/admin/webhooks/subscriptions', {
    name: 'My Addon Service',
    url: `${receiver.url}/webhooks/tmi`,
    events: ['addon.invoked'],
    secret: WEBHOOK_SECRET,
  });
  expect(webhook.status).toBe(201);
  const webhookId = webhook.body.id as string;

  // 2. Register Addon (administrator).
  const addon = await asAdmin.post('/addons', {
    name: 'STRIDE Analyzer',
    webhook_id: webhookId,
    description: 'Automated STRIDE threat analysis',
    icon: 'material-symbols:security',
    objects: ['threat_model', 'asset'],
  });
  expect(addon.status).toBe(201);
  expect(addon.body).toMatchObject({
    name: 'STRIDE Analyzer',
    webhook_id: webhookId,
    objects: ['threat_model', 'asset'],
  });

  // The user's threat model and the asset the add-on is invoked on; the add-on shows up for them.
  const { body: tm } = await asAnalyst.post('/threat_models', {
    name: 'Payments',
    authorization: [userEntry(admin, 'reader')],
  });
  const { body: asset } = await asAnalyst.post(`/threat_models/${tm.id}/assets`, { name: 'Card vault', type: 'data' });
  const listed = await asAnalyst.get(`/addons?threat_model_id=${tm.id}`);
  expect(listed.body.addons.map((a: { id: string }) => a.id)).toContain(addon.body.id);

  // A dashboard watching this add-on's deliveries live.
  const progress: { status: string; statusPercent: number | null; statusMessage: string | null }[] = [];
  dashboard = createClient({
    url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${analyst.token}` },
  });
  const delivered = new Promise<void>((resolve, reject) => {
    dashboard!.subscribe(
      {
        query: `subscription($filter: DeliveryProgressFilter) {
          deliveryProgress(filter: $filter) { status statusPercent statusMessage } }`,
        variables: { filter: { addonId: addon.body.id } },
      },
      {
        next: (message) => {
          const update = message.data?.deliveryProgress as (typeof progress)[number];
          progress.push(update);
          if (update.status === 'DELIVERED') resolve();
        },
        error: reject,
        complete: () => resolve(),
      },
    );
  });
  await new Promise((resolve) => setTimeout(resolve, 300));

  // The user invokes the add-on on the asset.
  const invoked = await asAnalyst.post(`/addons/${addon.body.id}/invoke`, {
    threat_model_id: tm.id,
    object_type: 'asset',
    object_id: asset.id,
    data: { user_param_1: 'value1', user_param_2: 'value2' },
  });
  expect(invoked.status).toBe(202);
  expect(invoked.body.status).toBe('pending');
  const deliveryId = invoked.body.delivery_id as string;

  // "Step 1: Receive Invocation": the headers and body the guide shows.
  await receiver.waitFor(() => receiver.on('/webhooks/tmi').length >= 1);
  const [invocation] = receiver.on('/webhooks/tmi');
  expect(invocation!.headers).toMatchObject({
    'content-type': 'application/json',
    'x-webhook-event': 'addon.invoked',
    'x-webhook-delivery-id': deliveryId,
    'x-webhook-subscription-id': webhookId,
    'user-agent': 'TMI-Webhook/1.0',
  });
  expect(invocation!.headers['x-webhook-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  expect(invocation!.body).toEqual({
    event_type: 'addon.invoked',
    threat_model_id: tm.id,
    object_type: 'asset',
    object_id: asset.id,
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    data: { addon_id: addon.body.id, user_data: { user_param_1: 'value1', user_param_2: 'value2' } },
  });

  // Steps 4 and 5: every callback was accepted, and the dashboard saw each step.
  const lastCallback = await Promise.all(callbacks).then((responses) => responses.at(-1)!);
  expect(lastCallback.status).toBe(200);
  await delivered;
  // The worker's own "accepted, in progress" may land before or after the first callback.
  expect(progress.filter((p) => p.statusMessage !== null)).toEqual([
    { status: 'IN_PROGRESS', statusPercent: 10, statusMessage: 'Starting analysis' },
    { status: 'IN_PROGRESS', statusPercent: 75, statusMessage: 'Generating report' },
    { status: 'DELIVERED', statusPercent: 100, statusMessage: 'Analysis complete' },
  ]);
  expect(progress.every((p) => p.status === 'IN_PROGRESS' || p.status === 'DELIVERED')).toBe(true);

  // "Checking Delivery Status": the invoker's token, or the HMAC of the delivery id.
  const asInvoker = await asAnalyst.get(`/webhook-deliveries/${deliveryId}`);
  expect(asInvoker.status).toBe(200);
  expect(asInvoker.body).toMatchObject({
    id: deliveryId,
    status: 'delivered',
    status_percent: 100,
    status_message: 'Analysis complete',
    addon_id: addon.body.id,
    invoked_by: { provider_id: analyst.providerId },
  });
  const signedRead = await restClient(server.baseUrl).get(`/webhook-deliveries/${deliveryId}`, {
    'x-webhook-signature': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(deliveryId).digest('hex')}`,
  });
  expect(signedRead.body.status).toBe('delivered');

  // A finished invocation no longer blocks deleting the add-on; deleting the webhook takes its add-ons.
  expect((await asAdmin.delete(`/addons/${addon.body.id}`)).status).toBe(204);
  expect((await asAdmin.delete(`/admin/webhooks/subscriptions/${webhookId}`)).status).toBe(204);
});
