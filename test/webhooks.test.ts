import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withEvents } from '../src/modules/events/events.js';
import { DeliveryService } from '../src/modules/webhooks/deliveries.js';
import { graphqlClient, restClient } from './helpers/clients.js';
import { collaborationAs } from './helpers/collaboration.js';
import { Receiver } from './helpers/receiver.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Webhook subscriptions and their deliveries, end to end: changes made over the API reach a real HTTP
// receiver on loopback, signed as TMI's extension guide tells receivers to check; failures are retried
// with backoff; async receivers report progress, which dashboards watch live over GraphQL.

const WEBHOOK_ENV = {
  TMI_WEBHOOK_ALLOW_HTTP_TARGETS: 'true',
  TMI_SSRF_WEBHOOK_ALLOWLIST: '127.0.0.1',
  TMI_WEBHOOK_TIMEOUT_MS: '500',
  TMI_WEBHOOK_MAX_ATTEMPTS: '3',
  TMI_WEBHOOK_RETRY_DELAY_SECONDS: '1',
  TMI_WEBHOOK_FAILURE_THRESHOLD: '2',
};

let server: TestServer;
let receiver: Receiver;
let admin: TestUser;
let user: TestUser;
const graphqlClients: Client[] = [];

async function signInAdmin(target: TestServer, hint: string): Promise<TestUser> {
  const signedIn = await signIn(target, hint);
  const row = await target.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: { isAdmin: true } });
  return { ...signedIn, token: (await target.deps.tokens.issue(row)).token };
}

beforeAll(async () => {
  receiver = await new Receiver().start();
  server = await startTestServer(WEBHOOK_ENV);
  admin = await signInAdmin(server, 'hook-admin');
  user = await signIn(server, 'hook-user');
  // This suite's administrator makes more subscriptions than TMI's default quota allows.
  await server.deps.db.prisma.webhookQuota.create({
    data: {
      ownerId: admin.id,
      maxSubscriptions: 100,
      maxEventsPerMinute: 1000,
      maxSubscriptionRequestsPerMinute: 100,
      maxSubscriptionRequestsPerDay: 10_000,
    },
  });
});
afterAll(async () => {
  await Promise.all(graphqlClients.map((client) => client.dispose()));
  await server?.close();
  await receiver?.close();
});

/** The seed's own recipe for checking a delivery (Extending TMI, "Verify HMAC Signature", Node.js). */
function verifySignature(payloadBody: Buffer, signatureHeader: string, secret: string): boolean {
  const hmac = createHmac('sha256', secret);
  hmac.update(payloadBody);
  const expectedSig = `sha256=${hmac.digest('hex')}`;
  return (
    Buffer.from(signatureHeader).length === Buffer.from(expectedSig).length &&
    timingSafeEqual(Buffer.from(signatureHeader), Buffer.from(expectedSig))
  );
}

const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function subscribe(path: string, events: string[], extra: Record<string, unknown> = {}) {
  const secret = `secret-${randomUUID()}`;
  const { status, body } = await restClient(server.baseUrl, admin.token).post('/admin/webhooks/subscriptions', {
    name: `Receiver ${path}`,
    url: `${receiver.url}${path}`,
    events,
    secret,
    ...extra,
  });
  expect(status).toBe(201);
  return { id: body.id as string, secret };
}

async function deliveryRecord(id: string) {
  const { status, body } = await restClient(server.baseUrl, admin.token).get(`/admin/webhooks/deliveries/${id}`);
  expect(status).toBe(200);
  return body;
}

async function waitForDelivery(id: string, done: (delivery: any) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const delivery = await deliveryRecord(id);
    if (done(delivery)) return delivery;
    if (Date.now() > deadline) throw new Error(`delivery ${id} stayed ${JSON.stringify(delivery)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('subscriptions', () => {
  it('an administrator creates, reads, lists and deletes a subscription; the secret shows once', async () => {
    const rest = restClient(server.baseUrl, admin.token);
    const created = await rest.post('/admin/webhooks/subscriptions', {
      name: 'Issue tracker',
      url: `${receiver.url}/crud`,
      events: ['threat.created', 'threat.updated', 'threat.created'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      owner_id: admin.id,
      name: 'Issue tracker',
      url: `${receiver.url}/crud`,
      events: ['threat.created', 'threat.updated'],
      status: 'active',
      challenges_sent: 0,
      publication_failures: 0,
    });
    expect(created.body.secret).toMatch(/^[\w-]{43}$/);

    const read = await rest.get(`/admin/webhooks/subscriptions/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    expect(read.body.name).toBe('Issue tracker');

    const listed = await rest.get('/admin/webhooks/subscriptions?limit=100');
    expect(listed.body).toMatchObject({ limit: 100, offset: 0 });
    expect(listed.body.subscriptions.map((s: { id: string }) => s.id)).toContain(created.body.id);
    expect(listed.body.total).toBeGreaterThanOrEqual(1);

    expect((await rest.delete(`/admin/webhooks/subscriptions/${created.body.id}`)).status).toBe(204);
    expect((await rest.get(`/admin/webhooks/subscriptions/${created.body.id}`)).status).toBe(404);
    expect((await rest.delete(`/admin/webhooks/subscriptions/${created.body.id}`)).status).toBe(404);
  });

  it('is for administrators only, on both faces', async () => {
    const input = { name: 'x', url: `${receiver.url}/x`, events: ['threat.created'] };
    const rest = restClient(server.baseUrl, user.token);
    const refused = await rest.post('/admin/webhooks/subscriptions', input);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('access_denied');
    // Reads answer with what the caller owns: nothing, for someone who may not create subscriptions.
    await subscribe('/admins-only', ['threat.created']);
    expect((await rest.get('/admin/webhooks/subscriptions')).body).toMatchObject({ subscriptions: [], total: 0 });
    expect((await rest.get('/admin/webhooks/deliveries')).body).toMatchObject({ deliveries: [], total: 0 });
    const [someone] = (await restClient(server.baseUrl, admin.token).get('/admin/webhooks/subscriptions')).body
      .subscriptions;
    expect((await rest.get(`/admin/webhooks/subscriptions/${someone.id}`)).status).toBe(404);
    expect((await rest.delete(`/admin/webhooks/subscriptions/${someone.id}`)).status).toBe(403);
    expect((await rest.post(`/admin/webhooks/subscriptions/${someone.id}/test`, {})).status).toBe(403);
    expect((await restClient(server.baseUrl).post('/admin/webhooks/subscriptions', input)).status).toBe(401);

    const gql = graphqlClient(server.baseUrl, user.token);
    const { errors } = await gql(
      'mutation($input: WebhookSubscriptionInput!) { createWebhookSubscription(input: $input) { id } }',
      { input },
    );
    expect(errors?.[0]?.extensions?.code).toBe('ADMIN_REQUIRED');
    expect(await server.deps.db.prisma.webhookSubscription.count({ where: { url: input.url } })).toBe(0);
  });

  it('refuses bad input with TMI error bodies and stores nothing', async () => {
    const rest = restClient(server.baseUrl, admin.token);
    const before = await server.deps.db.prisma.webhookSubscription.count();
    const base = { name: 'Bad', url: `${receiver.url}/bad`, events: ['threat.created'] };
    for (const [body, field] of [
      [{ ...base, events: [] }, 'events'],
      [{ ...base, events: ['threat.exploded'] }, 'events.0'],
      [{ ...base, secret: 'too-short' }, 'secret'],
      [{ ...base, secret: 'x'.repeat(129) }, 'secret'],
      [{ ...base, name: '' }, 'name'],
      [{ ...base, name: 'line\nbreak' }, 'name'],
      [{ ...base, threat_model_id: 'not-a-uuid' }, 'threat_model_id'],
      [{ ...base, extra: true }, 'extra'],
      [{ name: 'No events', url: base.url }, 'events'],
    ] as const) {
      const { status, body: error } = await rest.post('/admin/webhooks/subscriptions', body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(error.error).toBe('invalid_input');
      expect(error.details.context.field_errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const unknownModel = await rest.post('/admin/webhooks/subscriptions', { ...base, threat_model_id: randomUUID() });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.details.context.field_errors[0].field).toBe('threat_model_id');
    expect(await server.deps.db.prisma.webhookSubscription.count()).toBe(before);
  });

  it('refuses private, loopback, link-local and metadata targets outside the allow-list', async () => {
    const rest = restClient(server.baseUrl, admin.token);
    const port = new URL(receiver.url).port;
    for (const url of [
      `http://127.0.0.2:${port}/hook`,
      `http://localhost:${port}/hook`,
      `http://[::1]:${port}/hook`,
      'http://10.0.0.8/hook',
      'http://192.168.1.20/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://[::ffff:127.0.0.1]/hook',
      'ftp://127.0.0.1/hook',
      'http://user:pw@127.0.0.1/hook',
    ]) {
      const { status, body } = await rest.post('/admin/webhooks/subscriptions', {
        name: 'SSRF',
        url,
        events: ['threat.created'],
      });
      expect(status, url).toBe(400);
      expect(body.error).toBe('invalid_input');
    }
  });

  it('per-owner quotas: subscriptions held, and requests per minute', async () => {
    const limited = await signInAdmin(server, 'hook-limited-admin');
    await server.deps.db.prisma.webhookQuota.create({
      data: {
        ownerId: limited.id,
        maxSubscriptions: 2,
        maxEventsPerMinute: 100,
        maxSubscriptionRequestsPerMinute: 3,
        maxSubscriptionRequestsPerDay: 1000,
      },
    });
    const rest = restClient(server.baseUrl, limited.token);
    const create = (name: string) =>
      rest.post('/admin/webhooks/subscriptions', { name, url: `${receiver.url}/quota`, events: ['note.created'] });
    const first = await create('one');
    expect((await create('two')).status).toBe(201);
    const full = await create('three');
    expect(full.status).toBe(429);
    expect(full.body.error).toBe('rate_limit_exceeded');
    expect(full.body.error_description).toContain('at most 2');

    expect((await rest.delete(`/admin/webhooks/subscriptions/${first.body.id}`)).status).toBe(204);
    const third = await create('three');
    expect(third.status).toBe(201);
    expect((await rest.delete(`/admin/webhooks/subscriptions/${third.body.id}`)).status).toBe(204);
    const tooFast = await create('four');
    expect(tooFast.status).toBe(429);
    expect(tooFast.body.error_description).toContain('at most 3 per 60 s');
    const retryAfter = Number(tooFast.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await server.deps.db.prisma.webhookSubscription.count({ where: { ownerId: limited.id } })).toBe(1);
  });

  it('https only unless plain http is allowed by configuration', async () => {
    const strict = await startTestServer({ TMI_SSRF_WEBHOOK_ALLOWLIST: '127.0.0.1' });
    try {
      const strictAdmin = await signInAdmin(strict, 'strict-admin');
      const { status, body } = await restClient(strict.baseUrl, strictAdmin.token).post(
        '/admin/webhooks/subscriptions',
        { name: 'Plain', url: `${receiver.url}/plain`, events: ['threat.created'] },
      );
      expect(status).toBe(400);
      expect(body.error_description).toContain('https');
    } finally {
      await strict.close();
    }
  });
});

describe('deliveries', () => {
  it('a change reaches the receiver with TMI headers, its body signed over the exact bytes', async () => {
    const { id: subscriptionId, secret } = await subscribe('/signed', ['threat_model.created', 'threat.created']);
    const rest = restClient(server.baseUrl, user.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Delivered' });
    const { body: threat } = await rest.post(`/threat_models/${tm.id}/threats`, {
      name: 'Spoofing',
      threat_type: ['Spoofing'],
    });

    const received = await receiver.waitFor(() => receiver.on('/signed').length >= 2);
    const [first, second] = received.filter((d) => d.path === '/signed').sort((a, b) => a.at - b.at);
    for (const delivery of [first!, second!]) {
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['user-agent']).toBe('TMI-Webhook/1.0');
      expect(delivery.headers['x-webhook-subscription-id']).toBe(subscriptionId);
      expect(delivery.headers['x-webhook-delivery-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(verifySignature(delivery.rawBody, String(delivery.headers['x-webhook-signature']), secret)).toBe(true);
      expect(verifySignature(delivery.rawBody, String(delivery.headers['x-webhook-signature']), 'wrong')).toBe(false);
      expect(Object.keys(delivery.body).sort()).toEqual(
        ['data', 'event_type', 'object_id', 'object_type', 'threat_model_id', 'timestamp'].sort(),
      );
    }
    const byType = new Map(received.filter((d) => d.path === '/signed').map((d) => [d.body.event_type, d]));
    const created = byType.get('threat_model.created')!;
    expect(created.headers['x-webhook-event']).toBe('threat_model.created');
    expect(created.body).toMatchObject({ threat_model_id: tm.id, object_type: 'threat_model', object_id: tm.id });
    expect(created.body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const threatEvent = byType.get('threat.created')!;
    expect(threatEvent.body).toMatchObject({ object_type: 'threat', object_id: threat.id, threat_model_id: tm.id });
    expect(threatEvent.body.data.name).toBe('Spoofing');

    const record = await waitForDelivery(
      String(threatEvent.headers['x-webhook-delivery-id']),
      (d) => d.status !== 'pending',
    );
    expect(record).toMatchObject({ status: 'delivered', attempts: 1, subscription_id: subscriptionId });
    expect(record.payload).toEqual(threatEvent.body);
    const listed = await restClient(server.baseUrl, admin.token).get(
      `/admin/webhooks/deliveries?subscription_id=${subscriptionId}`,
    );
    expect(listed.body.total).toBe(2);
    expect(listed.body.deliveries).toHaveLength(2);
    const subscription = await restClient(server.baseUrl, admin.token).get(
      `/admin/webhooks/subscriptions/${subscriptionId}`,
    );
    expect(subscription.body.last_successful_use).toBeDefined();
  });

  it('a subscription scoped to a threat model hears only its events; unlisted event types are not sent', async () => {
    const rest = restClient(server.baseUrl, user.token);
    const { body: watched } = await rest.post('/threat_models', { name: 'Watched' });
    const { body: other } = await rest.post('/threat_models', { name: 'Other' });
    await subscribe('/scoped', ['note.created'], { threat_model_id: watched.id });
    await rest.post(`/threat_models/${other.id}/notes`, { name: 'Elsewhere', content: 'x' });
    await rest.post(`/threat_models/${watched.id}/documents`, { name: 'Doc', uri: 'https://example.com/d' });
    const { body: note } = await rest.post(`/threat_models/${watched.id}/notes`, { name: 'Here', content: 'y' });
    await receiver.waitFor(() => receiver.on('/scoped').length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.on('/scoped').map((d) => d.body.object_id)).toEqual([note.id]);
  });

  it('a change whose transaction fails at commit leaves no delivery and no job', async () => {
    await subscribe('/rolled-back', ['threat_model.updated']);
    const { body: tm } = await restClient(server.baseUrl, user.token).post('/threat_models', { name: 'Rollback' });
    const { prisma } = server.deps.db;
    // A deferred constraint trigger that fails at COMMIT: by then the events, their deliveries and the
    // delivery jobs have all been written in the transaction.
    await prisma.$executeRawUnsafe(
      `CREATE OR REPLACE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$`,
    );
    const jobCount = async () =>
      Number(
        (
          await prisma.$queryRawUnsafe<{ n: bigint }[]>(
            `SELECT count(*) AS n FROM pgboss.job WHERE name = 'webhook.deliver'`,
          )
        )[0]!.n,
      );
    const [deliveriesBefore, jobsBefore] = [await prisma.webhookDelivery.count(), await jobCount()];
    const ctx = server.deps.serviceContext({ principal: undefined, requestId: 'rollback-test' });
    await expect(
      withEvents(ctx, async (tx, events) => {
        await tx.$executeRawUnsafe('CREATE TEMP TABLE commit_probe (x int) ON COMMIT DROP');
        await tx.$executeRawUnsafe(
          `CREATE CONSTRAINT TRIGGER commit_probe_fails AFTER INSERT ON commit_probe
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()`,
        );
        await tx.$executeRawUnsafe('INSERT INTO commit_probe VALUES (1)');
        await events.record({
          resource: 'threat_model',
          action: 'updated',
          threatModelId: tm.id,
          objectId: tm.id,
          data: { id: tm.id, name: 'Never committed' },
        });
      }),
    ).rejects.toThrow(/refused at commit/);
    expect(await prisma.webhookDelivery.count()).toBe(deliveriesBefore);
    expect(await jobCount()).toBe(jobsBefore);

    // A change that does commit, to show the subscription was listening all along.
    await restClient(server.baseUrl, user.token).put(`/threat_models/${tm.id}`, { name: 'Rollback 2' });
    await receiver.waitFor(() => receiver.on('/rolled-back').length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.on('/rolled-back').map((d) => d.body.data.name)).toEqual(['Rollback 2']);
  });

  it('a failing receiver is retried with growing delays, then the delivery is failed', async () => {
    receiver.answers.set('/failing', { status: 500 });
    const { id: subscriptionId } = await subscribe('/failing', ['threat_model.created']);
    await restClient(server.baseUrl, user.token).post('/threat_models', { name: 'Retried' });
    await receiver.waitFor(() => receiver.on('/failing').length >= 3, 30_000);
    const attempts = receiver.on('/failing');
    const deliveryId = String(attempts[0]!.headers['x-webhook-delivery-id']);
    expect(new Set(attempts.map((a) => a.headers['x-webhook-delivery-id']))).toEqual(new Set([deliveryId]));
    expect(new Set(attempts.map((a) => a.rawBody.toString()))).toHaveProperty('size', 1);
    const [gap1, gap2] = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
    expect(gap1).toBeGreaterThanOrEqual(900);
    expect(gap2).toBeGreaterThanOrEqual(1900);
    const record = await waitForDelivery(deliveryId, (d) => d.status === 'failed');
    expect(record).toMatchObject({ status: 'failed', attempts: 3 });
    expect(record.last_error).toContain('500');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.on('/failing')).toHaveLength(3);
    const subscription = await server.deps.db.prisma.webhookSubscription.findUniqueOrThrow({
      where: { id: subscriptionId },
    });
    expect(subscription.publicationFailures).toBe(1);
  });

  it('a receiver that does not answer in time counts as a failed attempt', async () => {
    receiver.answers.set('/slow', 'hang');
    await subscribe('/slow', ['threat_model.created']);
    await restClient(server.baseUrl, user.token).post('/threat_models', { name: 'Slow' });
    await receiver.waitFor(() => receiver.on('/slow').length >= 1);
    const deliveryId = String(receiver.on('/slow')[0]!.headers['x-webhook-delivery-id']);
    const record = await waitForDelivery(deliveryId, (d) => d.last_error !== undefined);
    expect(record.last_error).toContain('no answer within 500 ms');
    expect(record.next_retry_at).toBeDefined();
  });

  it('a subscription that keeps failing stops receiving', async () => {
    receiver.answers.set('/broken', { status: 410 });
    const { id } = await subscribe('/broken', ['threat_model.created']);
    const rest = restClient(server.baseUrl, user.token);
    await rest.post('/threat_models', { name: 'Broken 1' });
    await rest.post('/threat_models', { name: 'Broken 2' });
    const deadline = Date.now() + 30_000;
    let status = 'active';
    while (status === 'active' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await restClient(server.baseUrl, admin.token).get(`/admin/webhooks/subscriptions/${id}`)).body.status;
    }
    expect(status).toBe('pending_delete');
    const seen = receiver.on('/broken').length;
    await rest.post('/threat_models', { name: 'Broken 3' });
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(receiver.on('/broken')).toHaveLength(seen);
  });

  it('a collaborative edit (one statement, no transaction) reaches the receiver as diagram.updated', async () => {
    await subscribe('/diagram-edits', ['diagram.updated']);
    const rest = restClient(server.baseUrl, user.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Live edits' });
    const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'DFD', type: 'DFD-1.0.0' });
    const collaboration = await collaborationAs(server, user);
    const session = await collaboration.start(tm.id, diagram.id);
    const cell = randomUUID();
    const applied = await collaboration.applyOperation(session.id, {
      operationId: randomUUID(),
      baseVector: 0,
      operation: {
        type: 'patch',
        cells: [
          { id: cell, operation: 'add', data: { id: cell, shape: 'process', x: 10, y: 10, width: 80, height: 40 } },
        ],
      },
    });
    await receiver.waitFor(() => receiver.on('/diagram-edits').length >= 1);
    const [delivery] = receiver.on('/diagram-edits');
    expect(delivery!.body).toMatchObject({
      event_type: 'diagram.updated',
      object_id: diagram.id,
      data: { updateVector: applied.updateVector },
    });
    await collaboration.end(tm.id, diagram.id);
  });

  it('the sweep enqueues a pending delivery that never got its job', async () => {
    const { id: subscriptionId } = await subscribe('/orphan', ['threat.created']);
    const { prisma } = server.deps.db;
    const created = new Date(Date.now() - 5 * 60_000);
    const orphan = await prisma.webhookDelivery.create({
      data: {
        subscriptionId,
        eventType: 'threat.created',
        payload: { event_type: 'threat.created', data: { orphan: true } },
        createdAt: created,
      },
    });
    const swept = await new DeliveryService(
      server.deps.serviceContext({ principal: undefined, requestId: 'orphan-sweep' }),
    ).sweep();
    expect(swept.requeued).toBe(1);
    await receiver.waitFor(() => receiver.on('/orphan').length >= 1);
    expect(receiver.on('/orphan')[0]!.headers['x-webhook-delivery-id']).toBe(orphan.id);
    await waitForDelivery(orphan.id, (d) => d.status === 'delivered');
    // A delivery that has its job is left alone.
    expect(
      (await new DeliveryService(server.deps.serviceContext({ principal: undefined, requestId: 'again' })).sweep())
        .requeued,
    ).toBe(0);
  });

  it('POST …/test queues a delivery of the named event type', async () => {
    const { id } = await subscribe('/tested', ['threat.created']);
    const rest = restClient(server.baseUrl, admin.token);
    const { status, body } = await rest.post(`/admin/webhooks/subscriptions/${id}/test`, {
      event_type: 'diagram.updated',
    });
    expect(status).toBe(202);
    expect(body.status).toBe('pending');
    const [delivery] = await receiver
      .waitFor(() => receiver.on('/tested').length >= 1)
      .then(() => receiver.on('/tested'));
    expect(delivery!.headers['x-webhook-delivery-id']).toBe(body.delivery_id);
    expect(delivery!.body).toMatchObject({ event_type: 'diagram.updated', data: { test: true } });
    const bad = await rest.post(`/admin/webhooks/subscriptions/${id}/test`, { event_type: 'nope' });
    expect(bad.status).toBe(400);
    expect((await rest.post(`/admin/webhooks/subscriptions/${randomUUID()}/test`, {})).status).toBe(404);
  });
});

describe('async receivers', () => {
  async function asyncDelivery(path: string) {
    receiver.answers.set(path, { status: 202, headers: { 'X-TMI-Callback': 'async' } });
    const subscription = await subscribe(path, ['threat_model.created']);
    await restClient(server.baseUrl, user.token).post('/threat_models', { name: `Async ${path}` });
    await receiver.waitFor(() => receiver.on(path).length >= 1);
    const deliveryId = String(receiver.on(path)[0]!.headers['x-webhook-delivery-id']);
    await waitForDelivery(deliveryId, (d) => d.status === 'in_progress');
    return { ...subscription, deliveryId };
  }

  function callback(deliveryId: string, body: string, signature?: string) {
    return restClient(server.baseUrl).request('POST', `/webhook-deliveries/${deliveryId}/status`, {
      rawBody: body,
      headers: signature ? { 'x-webhook-signature': signature } : {},
    });
  }

  it('report progress with signed callbacks, seen live on the GraphQL subscription', async () => {
    const { deliveryId, secret } = await asyncDelivery('/async');
    const seen: any[] = [];
    const client = createClient({
      url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${admin.token}` },
    });
    graphqlClients.push(client);
    const finished = new Promise<void>((resolve, reject) => {
      client.subscribe(
        {
          query: `subscription($id: ID!) { webhookDeliveryUpdated(deliveryId: $id) {
            deliveryId status statusPercent statusMessage } }`,
          variables: { id: deliveryId },
        },
        {
          next: (message) => {
            seen.push(message.data?.webhookDeliveryUpdated);
            if ((message.data?.webhookDeliveryUpdated as { status?: string })?.status === 'DELIVERED') resolve();
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const halfway = JSON.stringify({ status: 'in_progress', status_percent: 50, status_message: 'Analyzing assets' });
    const progress = await callback(deliveryId, halfway, sign(secret, halfway));
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({ id: deliveryId, status: 'in_progress', status_percent: 50 });

    // The same callback again is a replay.
    const replayed = await callback(deliveryId, halfway, sign(secret, halfway));
    expect(replayed.status).toBe(409);
    // A bad signature, a signature of another body, no signature: refused, nothing changes.
    const done = JSON.stringify({ status: 'completed', status_percent: 100, status_message: 'Analysis complete' });
    expect((await callback(deliveryId, done, sign('another-secret-value', done))).status).toBe(401);
    expect((await callback(deliveryId, done, sign(secret, halfway))).status).toBe(401);
    expect((await callback(deliveryId, done)).status).toBe(401);
    expect((await deliveryRecord(deliveryId)).status).toBe('in_progress');

    const completed = await callback(deliveryId, done, sign(secret, done));
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ status: 'delivered', status_percent: 100 });
    await finished;
    expect(seen).toEqual([
      { deliveryId, status: 'IN_PROGRESS', statusPercent: 50, statusMessage: 'Analyzing assets' },
      { deliveryId, status: 'DELIVERED', statusPercent: 100, statusMessage: 'Analysis complete' },
    ]);

    // Terminal: no more changes.
    const late = JSON.stringify({ status: 'failed', status_message: 'too late' });
    const refused = await callback(deliveryId, late, sign(secret, late));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('conflict');
    const record = await deliveryRecord(deliveryId);
    expect(record).toMatchObject({ status: 'delivered', status_percent: 100, status_message: 'Analysis complete' });
    expect(record.delivered_at).toBeDefined();
  });

  it('progress reported to one instance is seen on a dashboard connected to another', async () => {
    const other = await startTestServer(WEBHOOK_ENV, { shareDatabaseWith: server });
    let client: Client | undefined;
    try {
      const { deliveryId, secret } = await asyncDelivery('/async-elsewhere');
      client = createClient({
        url: `${other.baseUrl.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${admin.token}` },
      });
      const seen = new Promise<unknown>((resolve, reject) => {
        client!.subscribe(
          {
            query: `subscription($id: ID!) { webhookDeliveryUpdated(deliveryId: $id) { status statusPercent } }`,
            variables: { id: deliveryId },
          },
          { next: (message) => resolve(message.data?.webhookDeliveryUpdated), error: reject, complete: () => {} },
        );
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const report = JSON.stringify({ status: 'in_progress', status_percent: 30 });
      expect((await callback(deliveryId, report, sign(secret, report))).status).toBe(200);
      expect(await seen).toEqual({ status: 'IN_PROGRESS', statusPercent: 30 });
    } finally {
      await client?.dispose();
      await other.close();
    }
  });

  it('a malformed or invalid callback body is refused', async () => {
    const { deliveryId, secret } = await asyncDelivery('/async-bad');
    for (const body of [
      '{"status": "done"}',
      '{"status": "in_progress", "status_percent": 101}',
      '{"status": "in_progress", "extra": 1}',
    ]) {
      const answer = await callback(deliveryId, body, sign(secret, body));
      expect(answer.status, body).toBe(400);
      expect(answer.body.error).toBe('invalid_input');
    }
    const broken = '{"status": ';
    expect((await callback(deliveryId, broken, sign(secret, broken))).status).toBe(400);
    expect((await callback(randomUUID(), '{}', sign(secret, '{}'))).status).toBe(404);
    expect((await deliveryRecord(deliveryId)).status).toBe('in_progress');
  });

  it('GET /webhook-deliveries/{id}: a token of an allowed user, or the HMAC of the delivery id', async () => {
    const { deliveryId, secret } = await asyncDelivery('/async-read');
    const anonymous = restClient(server.baseUrl);
    const signed = await anonymous.get(`/webhook-deliveries/${deliveryId}`, {
      'x-webhook-signature': sign(secret, deliveryId),
    });
    expect(signed.status).toBe(200);
    expect(signed.body).toMatchObject({ id: deliveryId, status: 'in_progress' });
    expect(
      (
        await anonymous.get(`/webhook-deliveries/${deliveryId}`, {
          'x-webhook-signature': sign('nope-nope-nope', deliveryId),
        })
      ).status,
    ).toBe(401);
    expect((await anonymous.get(`/webhook-deliveries/${deliveryId}`)).status).toBe(401);
    expect((await restClient(server.baseUrl, admin.token).get(`/webhook-deliveries/${deliveryId}`)).status).toBe(200);
    expect((await restClient(server.baseUrl, user.token).get(`/webhook-deliveries/${deliveryId}`)).status).toBe(404);
  });

  it('an async delivery with no final callback fails after the timeout', async () => {
    const { deliveryId } = await asyncDelivery('/async-forgotten');
    const later = new Date(Date.now() + 16 * 60_000);
    const swept = await new DeliveryService({
      ...server.deps.serviceContext({ principal: undefined, requestId: 'sweep' }),
      now: () => later,
    }).sweep();
    expect(swept.timedOut).toBeGreaterThanOrEqual(1);
    const record = await deliveryRecord(deliveryId);
    expect(record.status).toBe('failed');
    expect(record.last_error).toContain('No final status callback');
  });
});

describe('GraphQL', () => {
  it('administrators manage subscriptions and read deliveries; dashboards filter progress', async () => {
    const gql = graphqlClient(server.baseUrl, admin.token);
    const created = await gql(
      `mutation($input: WebhookSubscriptionInput!) {
        createWebhookSubscription(input: $input) { id status events secret }
      }`,
      { input: { name: 'GraphQL', url: `${receiver.url}/graphql-face`, events: ['asset.created'] } },
    );
    expect(created.errors).toBeUndefined();
    const subscription = created.data.createWebhookSubscription;
    expect(subscription).toMatchObject({ status: 'ACTIVE', events: ['asset.created'] });

    const progress: any[] = [];
    const client = createClient({
      url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${admin.token}` },
    });
    graphqlClients.push(client);
    const delivered = new Promise<void>((resolve, reject) => {
      client.subscribe(
        {
          query: `subscription($filter: DeliveryProgressFilter) { deliveryProgress(filter: $filter) {
            deliveryId subscriptionId eventType status attempts } }`,
          variables: { filter: { subscriptionId: subscription.id } },
        },
        {
          next: (message) => {
            progress.push(message.data?.deliveryProgress);
            resolve();
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { body: tm } = await restClient(server.baseUrl, user.token).post('/threat_models', { name: 'Assets' });
    await restClient(server.baseUrl, user.token).post(`/threat_models/${tm.id}/assets`, { name: 'DB', type: 'data' });
    await delivered;
    expect(progress[0]).toMatchObject({
      subscriptionId: subscription.id,
      eventType: 'asset.created',
      status: 'DELIVERED',
      attempts: 1,
    });

    const deliveries = await gql(
      `query($id: ID) { webhookDeliveries(subscriptionId: $id) { total items { id status payload } } }`,
      { id: subscription.id },
    );
    expect(deliveries.data.webhookDeliveries.total).toBe(1);
    expect(deliveries.data.webhookDeliveries.items[0].payload.event_type).toBe('asset.created');

    const deleted = await gql('mutation($id: ID!) { deleteWebhookSubscription(id: $id) }', { id: subscription.id });
    expect(deleted.data.deleteWebhookSubscription).toBe(subscription.id);
    expect(await server.deps.db.prisma.webhookDelivery.count({ where: { subscriptionId: subscription.id } })).toBe(0);
  });
});
