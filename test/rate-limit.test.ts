import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateCounter, type RateCounter, RedisRateCounter, type RateWindow } from '../src/http/rate-limit.js';
import { graphqlClient, restClient, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Rate limits across two instances of one deployment sharing Redis: each user's API quota (requests a
// minute and an hour, set by administrators at /admin/quotas/users) and the per-address limit on the
// sign-in endpoints count once for the deployment; beyond them, 429 with Retry-After and TMI's error body.
// Other test files run with rate limits off (NODE_ENV=test); these servers turn them on.

const RATE_LIMITED = { TMI_RATE_LIMIT_ENABLED: 'true', TMI_RATE_LIMIT_AUTH_PER_MINUTE: '4', TMI_ROLES: 'api' };

let a: TestServer;
let b: TestServer;
let admin: TestUser;

/** A sequence across a minute's turn would see the previous minute's requests slide out: start it early in one. */
async function freshMinute(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
}

function expectRateLimited(response: RestResponse, limit: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(429);
  expect(response.body).toMatchObject({
    error: 'rate_limit_exceeded',
    error_description: expect.stringContaining(`${limit} `),
    details: { code: 'RATE_LIMITED', context: { limit, window: 'minute', retry_after: expect.any(Number) } },
  });
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.body.details.context.retry_after).toBe(retryAfter);
  expect(response.headers.get('x-ratelimit-limit')).toBe(String(limit));
  expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
  expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
}

beforeAll(async () => {
  a = await startTestServer(RATE_LIMITED);
  b = await startTestServer(RATE_LIMITED, { shareDatabaseWith: a });
  const signedIn = await signIn(a, 'limit-admin');
  const row = await a.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: { isAdmin: true } });
  admin = { ...signedIn, token: (await a.deps.tokens.issue(row)).token };
  // The administrator sets quotas all along: a generous one of their own.
  await restClient(a.baseUrl, admin.token).put(`/admin/quotas/users/${admin.id}`, { max_requests_per_minute: 1000 });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

describe('per-user API quotas', () => {
  it("a user's quota is counted once across both instances; beyond it, 429 with Retry-After on both", async () => {
    const user = await signIn(a, 'limit-user');
    const put = await restClient(b.baseUrl, admin.token).put(`/admin/quotas/users/${user.id}`, {
      max_requests_per_minute: 5,
    });
    expect(put.status).toBe(201);
    await freshMinute();
    const [onA, onB] = [restClient(a.baseUrl, user.token), restClient(b.baseUrl, user.token)];
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await (i % 2 === 0 ? onA : onB).get('/threat_models'));
    expect(answers.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((response) => response.headers.get('x-ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0']);
    expect(answers[0]!.headers.get('x-ratelimit-limit')).toBe('5');

    expectRateLimited(await onA.get('/threat_models'), 5);
    expectRateLimited(await onB.get('/me'), 5);
    // GraphQL is the same API: the same count, and a GraphQL error with the retry delay.
    const gql = await fetch(`${b.baseUrl}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ threatModels(first: 1) { totalCount } }' }),
    });
    expect(gql.status).toBe(429);
    expect(Number(gql.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await gql.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      status: 429,
      retryAfter: expect.any(Number),
    });

    // Others are not affected, nor are requests without a token.
    const other = await signIn(a, 'limit-other');
    expect((await restClient(b.baseUrl, other.token).get('/threat_models')).status).toBe(200);
    expect((await restClient(b.baseUrl).get('/')).status).toBe(200);

    // Raising the quota applies at once on both instances (their cached limits are dropped).
    await restClient(a.baseUrl, admin.token).put(`/admin/quotas/users/${user.id}`, { max_requests_per_minute: 50 });
    await expect.poll(async () => (await onB.get('/threat_models')).status).toBe(200);
    expect((await onA.get('/threat_models')).status).toBe(200);
  });

  it('an hourly limit counts beside the minute one', async () => {
    const now = new Date();
    if (now.getUTCMinutes() === 59) await freshMinute();
    const user = await signIn(a, 'limit-hourly');
    await restClient(a.baseUrl, admin.token).put(`/admin/quotas/users/${user.id}`, {
      max_requests_per_minute: 100,
      max_requests_per_hour: 3,
    });
    const [onA, onB] = [restClient(a.baseUrl, user.token), restClient(b.baseUrl, user.token)];
    expect([(await onA.get('/me')).status, (await onB.get('/me')).status, (await onA.get('/me')).status]).toEqual([
      200, 200, 200,
    ]);
    const refused = await onB.get('/me');
    expect(refused.status).toBe(429);
    expect(refused.body.details.context).toMatchObject({ limit: 3, window: 'hour' });
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
  });

  it('users without a quota of their own have the defaults (100 a minute)', async () => {
    const user = await signIn(a, 'limit-default');
    const first = await restClient(b.baseUrl, user.token).get('/threat_models');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('100');
  });
});

describe('sign-in endpoints', () => {
  it('are limited per client address across both instances, whoever asks', async () => {
    await freshMinute();
    const token = (server: TestServer) =>
      restClient(server.baseUrl).post('/oauth2/token', {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        code_verifier: 'v'.repeat(43),
        redirect_uri: 'http://localhost:8079/',
      });
    const statuses = [];
    for (const server of [a, b, a, b]) statuses.push((await token(server)).status);
    expect(statuses).toEqual([400, 400, 400, 400]);
    expectRateLimited(await token(a), 4);
    const refresh = await restClient(b.baseUrl).post('/oauth2/refresh', { refresh_token: 'nope' });
    expectRateLimited(refresh, 4);
    // The rest of /oauth2/* counts per address too when no user is signed in.
    expectRateLimited(await restClient(a.baseUrl).get('/oauth2/providers'), 4);
    // The rest of the API is not the sign-in tier.
    expect((await restClient(b.baseUrl, admin.token).get('/threat_models')).status).toBe(200);
  });
});

describe('without Redis', () => {
  it('one instance counts in its own process', async () => {
    const single = await startTestServer(RATE_LIMITED, { withoutRedis: true });
    try {
      const user = await signIn(single, 'limit-single');
      await single.deps.db.prisma.userApiQuota.create({ data: { ownerId: user.id, maxRequestsPerMinute: 2 } });
      await freshMinute();
      const rest = restClient(single.baseUrl, user.token);
      expect([(await rest.get('/me')).status, (await rest.get('/me')).status]).toEqual([200, 200]);
      expectRateLimited(await rest.get('/me'), 2);
      const gql = await graphqlClient(single.baseUrl)('{ __typename }');
      expect(gql.status).toBe(200);
    } finally {
      await single.close();
    }
  });
});

describe('sliding windows', () => {
  const minute: RateWindow[] = [{ name: 'minute', seconds: 60, max: 10 }];
  const at = (seconds: number) => Date.UTC(2026, 0, 1, 12, 0, 0) + seconds * 1000;

  async function hits(counter: RateCounter, key: string, count: number, seconds: number) {
    const decisions = [];
    for (let i = 0; i < count; i++) decisions.push(await counter.hit(key, minute, at(seconds)));
    return decisions;
  }

  for (const kind of ['Redis', 'memory'] as const) {
    it(`(${kind}) let no burst across a window's turn through twice the limit, and say when there is room again`, async () => {
      const counter =
        kind === 'Redis' ? new RedisRateCounter(a.deps.redis!, `test-${randomUUID()}`) : new MemoryRateCounter();
      try {
        const key = `user:${randomUUID()}`;
        // The whole limit at the end of one minute: allowed, the last one leaving nothing.
        const first = await hits(counter, key, 10, 59);
        expect(first.map((d) => d.allowed)).toEqual(Array(10).fill(true));
        expect(first.at(-1)).toMatchObject({ remaining: 0 });
        // Two seconds into the next: the previous minute still counts for 58/60 of its requests.
        const burst = await hits(counter, key, 10, 62);
        expect(burst.filter((d) => d.allowed).length).toBeLessThanOrEqual(1);
        const refused = burst.find((d) => !d.allowed)!;
        // Room again once enough of the previous minute has slid out: later, but within this minute.
        expect(refused.resetAt).toBeGreaterThan(at(62) / 1000);
        expect(refused.resetAt).toBeLessThanOrEqual(at(120) / 1000);
        const later = await hits(counter, key, 1, refused.resetAt - at(0) / 1000 + 0.5);
        expect(later[0]!.allowed).toBe(true);
        // Half way through: about half of the previous minute's requests still count.
        const other = `user:${randomUUID()}`;
        await hits(counter, other, 10, 30);
        const half = await hits(counter, other, 10, 90);
        expect(half.filter((d) => d.allowed).length).toBe(5);
        // Two minutes on, nothing of it is left.
        const fresh = await hits(counter, other, 10, 185);
        expect(fresh.every((d) => d.allowed)).toBe(true);
      } finally {
        counter.close();
      }
    });
  }
});
