import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveWebhookQuota } from '../src/modules/quotas/service.js';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Per-user quotas: the administrators' endpoints (/admin/quotas/addons, /admin/quotas/webhooks) on both
// faces, and the add-on invocation quota enforced on invoke (3 active, 10 an hour by default; 429 with
// Retry-After beyond). The server runs without workers, so invocations stay pending until a test ends them.

const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'access_denied',
  404: 'not_found',
  429: 'rate_limit_exceeded',
};
const ADDON_QUOTA = 'ownerId maxActiveInvocations maxInvocationsPerHour isDefault createdAt modifiedAt';
const WEBHOOK_QUOTA = `ownerId maxSubscriptions maxEventsPerMinute maxSubscriptionRequestsPerMinute
  maxSubscriptionRequestsPerDay isDefault createdAt modifiedAt`;
const OP = {
  addonQuota: `query($user: ID!) { addonQuota(userId: $user) { ${ADDON_QUOTA} } }`,
  addonQuotaPage: `query($limit: Int, $offset: Int) { addonQuotaPage(limit: $limit, offset: $offset) {
    items { ${ADDON_QUOTA} } total limit offset defaults { maxActiveInvocations maxInvocationsPerHour } } }`,
  setAddonQuota: `mutation($user: ID!, $input: AddonQuotaInput!) {
    setAddonQuota(userId: $user, input: $input) { created quota { ${ADDON_QUOTA} } } }`,
  clearAddonQuota: `mutation($user: ID!) { clearAddonQuota(userId: $user) }`,
  webhookQuota: `query($user: ID!) { webhookQuota(userId: $user) { ${WEBHOOK_QUOTA} } }`,
  webhookQuotaPage: `query { webhookQuotaPage { items { ownerId } total limit offset defaults {
    maxSubscriptions maxEventsPerMinute maxSubscriptionRequestsPerMinute maxSubscriptionRequestsPerDay } } }`,
  setWebhookQuota: `mutation($user: ID!, $input: WebhookQuotaInput!) {
    setWebhookQuota(userId: $user, input: $input) { created quota { ${WEBHOOK_QUOTA} } } }`,
  clearWebhookQuota: `mutation($user: ID!) { clearWebhookQuota(userId: $user) }`,
  invoke: `mutation($id: ID!, $input: InvokeAddonInput!) { invokeAddon(id: $id, input: $input) { deliveryId status } }`,
};
const ADDON_DEFAULTS = { max_active_invocations: 3, max_invocations_per_hour: 10 };
const WEBHOOK_DEFAULTS = {
  max_subscriptions: 10,
  max_events_per_minute: 12,
  max_subscription_requests_per_minute: 10,
  max_subscription_requests_per_day: 20,
};

let server: TestServer;
let admin: TestUser;
let member: TestUser;

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const gqlError = (response: GraphQLResponse) => response.errors?.[0]?.extensions as Record<string, any> | undefined;
const prisma = () => server.deps.db.prisma;

function expectError(response: RestResponse, status: number) {
  expect([response.status, response.body?.error], JSON.stringify(response.body)).toEqual([status, TMI_ERROR[status]]);
  expect(typeof response.body.error_description).toBe('string');
}

beforeAll(async () => {
  server = await startTestServer({ TMI_ROLES: 'api' });
  const first = await signIn(server, 'quota-admin');
  await prisma().user.update({ where: { id: first.id }, data: { isAdmin: true } });
  admin = await signIn(server, 'quota-admin');
  member = await signIn(server, 'quota-member');
});
afterAll(async () => server?.close());

describe('add-on invocation quotas (/admin/quotas/addons)', () => {
  it('a user without a quota of their own has the defaults; PUT creates (201) then updates (200); DELETE restores the defaults', async () => {
    const user = await signIn(server, 'quota-addon-user');
    const path = `/admin/quotas/addons/${user.id}`;
    const initial = await restAs(admin).get(path);
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual({ owner_id: user.id, ...ADDON_DEFAULTS, created_at: ISO, modified_at: ISO });

    const created = await restAs(admin).put(path, { max_active_invocations: 5, max_invocations_per_hour: 100 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      owner_id: user.id,
      max_active_invocations: 5,
      max_invocations_per_hour: 100,
      created_at: ISO,
      modified_at: ISO,
    });
    const updated = await restAs(admin).put(path, { max_active_invocations: 10, max_invocations_per_hour: 1000 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ max_active_invocations: 10, max_invocations_per_hour: 1000 });
    expect(updated.body.created_at).toBe(created.body.created_at);
    expect((await restAs(admin).get(path)).body).toEqual(updated.body);

    const gql = await gqlAs(admin)(OP.addonQuota, { user: user.id });
    expect(gql.data.addonQuota).toMatchObject({
      maxActiveInvocations: 10,
      maxInvocationsPerHour: 1000,
      isDefault: false,
    });

    expect((await restAs(admin).delete(path)).status).toBe(204);
    expect((await restAs(admin).get(path)).body).toMatchObject(ADDON_DEFAULTS);
    expect((await gqlAs(admin)(OP.addonQuota, { user: user.id })).data.addonQuota.isDefault).toBe(true);
    expectError(await restAs(admin).delete(path), 404);
  });

  it('lists the quotas set, with the defaults', async () => {
    const listed = await startTestServer({ TMI_ROLES: 'api' });
    try {
      const seed = await signIn(listed, 'list-admin');
      await listed.deps.db.prisma.user.update({ where: { id: seed.id }, data: { isAdmin: true } });
      const localAdmin = await signIn(listed, 'list-admin');
      const rest = restClient(listed.baseUrl, localAdmin.token);
      const empty = await rest.get('/admin/quotas/addons');
      expect(empty.body).toEqual({ quotas: [], total: 0, limit: 50, offset: 0, defaults: ADDON_DEFAULTS });
      const users = [await signIn(listed, 'list-a'), await signIn(listed, 'list-b'), await signIn(listed, 'list-c')];
      for (const [i, user] of users.entries()) {
        expect(
          (
            await rest.put(`/admin/quotas/addons/${user.id}`, {
              max_active_invocations: i + 1,
              max_invocations_per_hour: 5,
            })
          ).status,
        ).toBe(201);
      }
      const all = await rest.get('/admin/quotas/addons');
      expect(all.status).toBe(200);
      expect(all.body).toMatchObject({ total: 3, limit: 50, offset: 0, defaults: ADDON_DEFAULTS });
      expect(all.body.quotas.map((q: any) => q.owner_id)).toEqual(users.map((u) => u.id));
      const page = await rest.get('/admin/quotas/addons?limit=1&offset=1');
      expect(page.body).toMatchObject({ total: 3, limit: 1, offset: 1 });
      expect(page.body.quotas).toEqual([all.body.quotas[1]]);
      expectError(await rest.get('/admin/quotas/addons?limit=1001'), 400);

      const gql = await graphqlClient(listed.baseUrl, localAdmin.token)(OP.addonQuotaPage, { limit: 2 });
      expect(gql.data.addonQuotaPage).toMatchObject({
        total: 3,
        limit: 2,
        offset: 0,
        defaults: { maxActiveInvocations: 3, maxInvocationsPerHour: 10 },
      });
      expect(gql.data.addonQuotaPage.items).toHaveLength(2);
    } finally {
      await listed.close();
    }
  });

  it.each([
    ['zero active invocations', { max_active_invocations: 0, max_invocations_per_hour: 10 }],
    ['more than 10 active invocations', { max_active_invocations: 11, max_invocations_per_hour: 10 }],
    ['more than 1000 an hour', { max_active_invocations: 1, max_invocations_per_hour: 1001 }],
    ['a fraction', { max_active_invocations: 1.5, max_invocations_per_hour: 10 }],
    ['a missing limit', { max_active_invocations: 1 }],
    ['an unknown field', { max_active_invocations: 1, max_invocations_per_hour: 10, burst: 2 }],
  ])('refuses %s (400)', async (_case, body) => {
    expectError(await restAs(admin).put(`/admin/quotas/addons/${member.id}`, body), 400);
  });

  it('404 for users that do not exist, 400 for ids that are no UUID', async () => {
    expectError(await restAs(admin).get(`/admin/quotas/addons/${UNKNOWN}`), 404);
    const body = { max_active_invocations: 1, max_invocations_per_hour: 1 };
    expectError(await restAs(admin).put(`/admin/quotas/addons/${UNKNOWN}`, body), 404);
    expectError(await restAs(admin).get('/admin/quotas/addons/not-a-uuid'), 400);
    expect(gqlError(await gqlAs(admin)(OP.addonQuota, { user: UNKNOWN }))).toMatchObject({
      code: 'RESOURCE_NOT_FOUND',
      status: 404,
    });
  });

  it('administrators only: 403 for others and 401 without credentials, on both faces', async () => {
    const path = `/admin/quotas/addons/${member.id}`;
    const body = { max_active_invocations: 10, max_invocations_per_hour: 1000 };
    expectError(await restAs(member).get('/admin/quotas/addons'), 403);
    expectError(await restAs(member).get(path), 403);
    expectError(await restAs(member).put(path, body), 403);
    expectError(await restAs(member).delete(path), 403);
    expectError(await restAs().get(path), 401);
    for (const [op, variables] of [
      [OP.addonQuotaPage, {}],
      [OP.addonQuota, { user: member.id }],
      [OP.setAddonQuota, { user: member.id, input: { maxActiveInvocations: 10, maxInvocationsPerHour: 1000 } }],
      [OP.clearAddonQuota, { user: member.id }],
    ] as const) {
      expect(gqlError(await gqlAs(member)(op, variables))).toMatchObject({ code: 'ADMIN_REQUIRED', status: 403 });
    }
    expect(gqlError(await gqlAs()(OP.addonQuota, { user: member.id }))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await prisma().addonInvocationQuota.count({ where: { ownerId: member.id } })).toBe(0);
  });

  it('GraphQL setAddonQuota tells whether it created the quota; clearAddonQuota returns the user id', async () => {
    const user = await signIn(server, 'quota-gql-user');
    const input = { maxActiveInvocations: 2, maxInvocationsPerHour: 20 };
    const first = await gqlAs(admin)(OP.setAddonQuota, { user: user.id, input });
    expect(first.data.setAddonQuota).toMatchObject({ created: true, quota: { ownerId: user.id, ...input } });
    const second = await gqlAs(admin)(OP.setAddonQuota, { user: user.id, input });
    expect(second.data.setAddonQuota.created).toBe(false);
    const invalid = await gqlAs(admin)(OP.setAddonQuota, {
      user: user.id,
      input: { ...input, maxActiveInvocations: 0 },
    });
    expect(gqlError(invalid)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect((await gqlAs(admin)(OP.clearAddonQuota, { user: user.id })).data.clearAddonQuota).toBe(user.id);
    expect(gqlError(await gqlAs(admin)(OP.clearAddonQuota, { user: user.id }))).toMatchObject({
      code: 'RESOURCE_NOT_FOUND',
    });
  });
});

describe('webhook quotas (/admin/quotas/webhooks)', () => {
  it('defaults, PUT 201/200, GET, list with defaults, DELETE back to the defaults, and effectiveWebhookQuota', async () => {
    const user = await signIn(server, 'quota-webhook-user');
    const path = `/admin/quotas/webhooks/${user.id}`;
    const initial = await restAs(admin).get(path);
    expect(initial.body).toEqual({ owner_id: user.id, ...WEBHOOK_DEFAULTS, created_at: ISO, modified_at: ISO });
    expect(await effectiveWebhookQuota(prisma(), user.id)).toEqual({
      maxSubscriptions: 10,
      maxEventsPerMinute: 12,
      maxSubscriptionRequestsPerMinute: 10,
      maxSubscriptionRequestsPerDay: 20,
    });

    const limits = {
      max_subscriptions: 20,
      max_events_per_minute: 100,
      max_subscription_requests_per_minute: 30,
      max_subscription_requests_per_day: 1000,
    };
    const created = await restAs(admin).put(path, limits);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ owner_id: user.id, ...limits, created_at: ISO, modified_at: ISO });
    const updated = await restAs(admin).put(path, { ...limits, max_subscriptions: 100 });
    expect(updated.status).toBe(200);
    expect(updated.body.max_subscriptions).toBe(100);
    // The subscription service reads it inside its own transaction.
    expect(await prisma().$transaction((tx) => effectiveWebhookQuota(tx, user.id))).toEqual({
      maxSubscriptions: 100,
      maxEventsPerMinute: 100,
      maxSubscriptionRequestsPerMinute: 30,
      maxSubscriptionRequestsPerDay: 1000,
    });

    const list = await restAs(admin).get('/admin/quotas/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.defaults).toEqual(WEBHOOK_DEFAULTS);
    expect(list.body.quotas).toContainEqual(updated.body);
    const gqlList = await gqlAs(admin)(OP.webhookQuotaPage);
    expect(gqlList.data.webhookQuotaPage.defaults).toEqual({
      maxSubscriptions: 10,
      maxEventsPerMinute: 12,
      maxSubscriptionRequestsPerMinute: 10,
      maxSubscriptionRequestsPerDay: 20,
    });
    const gql = await gqlAs(admin)(OP.webhookQuota, { user: user.id });
    expect(gql.data.webhookQuota).toMatchObject({ maxSubscriptions: 100, isDefault: false });

    expect((await restAs(admin).delete(path)).status).toBe(204);
    expect((await restAs(admin).get(path)).body).toMatchObject(WEBHOOK_DEFAULTS);
    expectError(await restAs(admin).delete(path), 404);
    expect((await effectiveWebhookQuota(prisma(), user.id)).maxSubscriptions).toBe(10);
  });

  it('checks the bounds of WebhookQuotaUpdate (400), unknown users (404) and administrators only (403)', async () => {
    const path = `/admin/quotas/webhooks/${member.id}`;
    const valid = {
      max_subscriptions: 100,
      max_events_per_minute: 1000,
      max_subscription_requests_per_minute: 100,
      max_subscription_requests_per_day: 10000,
    };
    for (const [field, value] of [
      ['max_subscriptions', 101],
      ['max_events_per_minute', 1001],
      ['max_subscription_requests_per_minute', 0],
      ['max_subscription_requests_per_day', 10001],
    ] as const) {
      expectError(await restAs(admin).put(path, { ...valid, [field]: value }), 400);
    }
    expectError(await restAs(admin).put(`/admin/quotas/webhooks/${UNKNOWN}`, valid), 404);
    expectError(await restAs(admin).get(`/admin/quotas/webhooks/${UNKNOWN}`), 404);
    expectError(await restAs(member).put(path, valid), 403);
    expectError(await restAs(member).get('/admin/quotas/webhooks'), 403);
    const gql = await gqlAs(member)(OP.setWebhookQuota, {
      user: member.id,
      input: {
        maxSubscriptions: 1,
        maxEventsPerMinute: 1,
        maxSubscriptionRequestsPerMinute: 1,
        maxSubscriptionRequestsPerDay: 1,
      },
    });
    expect(gqlError(gql)).toMatchObject({ code: 'ADMIN_REQUIRED', status: 403 });
    expect(gqlError(await gqlAs(member)(OP.clearWebhookQuota, { user: member.id }))).toMatchObject({
      code: 'ADMIN_REQUIRED',
    });
  });
});

describe('the invocation quota on POST /addons/{id}/invoke', () => {
  let addonId: string;
  const threatModels = new Map<string, string>();

  beforeAll(async () => {
    const subscription = await prisma().webhookSubscription.create({
      data: {
        ownerId: admin.id,
        name: 'quota hook',
        url: 'http://127.0.0.1:9/quota',
        events: ['addon.invoked'],
        secret: 'q'.repeat(32),
      },
    });
    addonId = (await restAs(admin).post('/addons', { name: 'Counted', webhook_id: subscription.id })).body.id;
  });

  /** A user with a threat model of their own to invoke the add-on on, and no invocations yet. */
  async function invoker(hint: string): Promise<TestUser> {
    const user = await signIn(server, hint);
    threatModels.set(user.id, (await restAs(user).post('/threat_models', { name: `Model of ${hint}` })).body.id);
    return user;
  }
  const invoke = (user: TestUser) =>
    restAs(user).post(`/addons/${addonId}/invoke`, { threat_model_id: threatModels.get(user.id) });

  it('a 4th concurrent active invocation gets 429 with Retry-After, on both faces', async () => {
    const user = await invoker('quota-active');
    const accepted = [];
    for (let i = 0; i < 3; i++) {
      const response = await invoke(user);
      expect(response.status).toBe(202);
      accepted.push(response.body.delivery_id);
    }
    const refused = await invoke(user);
    expectError(refused, 429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.body.details).toMatchObject({
      code: 'RATE_LIMITED',
      context: { limit: 3, window: 'active', current: 3, retry_after: 60 },
    });

    const gql = await gqlAs(user)(OP.invoke, { id: addonId, input: { threatModelId: threatModels.get(user.id) } });
    expect(gql.status).toBe(429);
    expect(gqlError(gql)).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfter: 60 });
    expect(gqlError(gql)?.tmi).toMatchObject({ error: 'rate_limit_exceeded' });

    // One finishes (in progress still counts; delivered and failed do not): room for exactly one more.
    await prisma().webhookDelivery.update({ where: { id: accepted[0] }, data: { status: 'in_progress' } });
    expectError(await invoke(user), 429);
    await prisma().webhookDelivery.update({ where: { id: accepted[1] }, data: { status: 'failed' } });
    expect((await invoke(user)).status).toBe(202);
    expectError(await invoke(user), 429);
  });

  it('concurrent invocations cannot overrun the quota (the check and the insert are serialized per user)', async () => {
    const user = await invoker('quota-race');
    const responses = await Promise.all(Array.from({ length: 8 }, () => invoke(user)));
    expect(responses.map((r) => r.status).sort()).toEqual([202, 202, 202, 429, 429, 429, 429, 429]);
    expect(await prisma().webhookDelivery.count({ where: { invokedById: user.id } })).toBe(3);
  });

  it('the hourly limit is a sliding window: a per-user quota set by PUT, Retry-After until the oldest leaves it', async () => {
    const user = await invoker('quota-hourly');
    const quota = await restAs(admin).put(`/admin/quotas/addons/${user.id}`, {
      max_active_invocations: 10,
      max_invocations_per_hour: 2,
    });
    expect(quota.status).toBe(201);
    const first = await invoke(user);
    const second = await invoke(user);
    expect([first.status, second.status]).toEqual([202, 202]);

    const refused = await invoke(user);
    expectError(refused, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.body.details.context).toMatchObject({
      limit: 2,
      window: 'hour',
      current: 2,
      retry_after: retryAfter,
    });

    // The oldest invocation was made 59 min 30 s ago: the window has room in about 30 seconds.
    const ago = (ms: number) => new Date(Date.now() - ms);
    await prisma().webhookDelivery.update({
      where: { id: first.body.delivery_id },
      data: { createdAt: ago(59 * 60_000 + 30_000), status: 'delivered' },
    });
    const soon = await invoke(user);
    expectError(soon, 429);
    expect(Number(soon.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(Number(soon.headers.get('retry-after'))).toBeLessThanOrEqual(31);

    // Once it has left the window, one more fits.
    await prisma().webhookDelivery.update({
      where: { id: first.body.delivery_id },
      data: { createdAt: ago(3_601_000) },
    });
    expect((await invoke(user)).status).toBe(202);
    expectError(await invoke(user), 429);
  });
});
