import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Client credentials (TMI's CCG): created by administrators and security reviewers under
// /me/client_credentials (the secret shown once), exchanged at POST /oauth2/token with
// grant_type=client_credentials for a token acting as their owner, listed without secrets, and
// deleted, which revokes every token issued through them on both faces and on every instance.

const FORM = 'application/x-www-form-urlencoded';
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';

let server: TestServer;
let second: TestServer;
let reviewer: TestUser;
let admin: TestUser;
let user: TestUser;

async function withRole(target: TestServer, hint: string, role: 'isAdmin' | 'isSecurityReviewer'): Promise<TestUser> {
  const signedIn = await signIn(target, hint);
  const row = await target.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: { [role]: true } });
  return { ...signedIn, token: (await target.deps.tokens.issue(row)).token };
}

function tokenRequest(
  baseUrl: string,
  fields: Record<string, string>,
  options: { basic?: [string, string] } = {},
): Promise<RestResponse> {
  return restClient(baseUrl).request('POST', '/oauth2/token', {
    rawBody: new URLSearchParams(fields).toString(),
    contentType: FORM,
    headers: options.basic
      ? { authorization: `Basic ${Buffer.from(`${options.basic[0]}:${options.basic[1]}`).toString('base64')}` }
      : {},
  });
}

async function createCredential(owner: TestUser, body: Record<string, unknown> = { name: 'CI pipeline' }) {
  const response = await restClient(server.baseUrl, owner.token).post('/me/client_credentials', body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; client_id: string; client_secret: string };
}

async function exchange(clientId: string, clientSecret: string): Promise<string> {
  const response = await tokenRequest(server.baseUrl, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.access_token as string;
}

beforeAll(async () => {
  server = await startTestServer();
  second = await startTestServer({}, { shareDatabaseWith: server });
  reviewer = await withRole(server, 'cc-reviewer', 'isSecurityReviewer');
  admin = await withRole(server, 'cc-admin', 'isAdmin');
  user = await signIn(server, 'cc-user');
});
afterAll(async () => {
  await second?.close();
  await server?.close();
});

describe('client credentials', () => {
  it('lets a security reviewer create one, shows the secret once and lists it without the secret', async () => {
    const rest = restClient(server.baseUrl, reviewer.token);
    const created = await rest.post('/me/client_credentials', {
      name: 'Nightly scan',
      description: 'Automated security scanning',
      expires_at: '2099-01-01T00:00:00Z',
    });

    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toEqual({
      id: expect.any(String),
      client_id: expect.stringMatching(/^tmi_cc_[A-Za-z0-9_-]+$/),
      client_secret: expect.stringMatching(/^tmi_cs_[A-Za-z0-9_-]{43}$/),
      name: 'Nightly scan',
      description: 'Automated security scanning',
      created_at: ISO,
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    const stored = await server.deps.db.prisma.clientCredential.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(stored.secretHash).not.toContain(created.body.client_secret);

    const listed = await rest.get('/me/client_credentials');
    expect(listed.status).toBe(200);
    const mine = listed.body.credentials.find((c: { id: string }) => c.id === created.body.id);
    expect(mine).toEqual({
      id: created.body.id,
      client_id: created.body.client_id,
      name: 'Nightly scan',
      description: 'Automated security scanning',
      is_active: true,
      created_at: ISO,
      modified_at: ISO,
      expires_at: '2099-01-01T00:00:00.000Z',
    });
    expect(listed.body).toMatchObject({ limit: 20, offset: 0, total: listed.body.credentials.length });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.client_secret);

    const graphql = await graphqlClient(
      server.baseUrl,
      reviewer.token,
    )(`{ myClientCredentials { total credentials { id clientId name isActive lastUsedAt } } }`);
    expect(graphql.errors).toBeUndefined();
    expect(graphql.data.myClientCredentials.credentials).toContainEqual({
      id: created.body.id,
      clientId: created.body.client_id,
      name: 'Nightly scan',
      isActive: true,
      lastUsedAt: null,
    });
  });

  it('refuses users who are neither administrators nor security reviewers, on both faces', async () => {
    const rest = await restClient(server.baseUrl, user.token).post('/me/client_credentials', { name: 'mine' });
    expect(rest.status).toBe(403);
    expect(rest.body.error).toBe('access_denied');

    const graphql = await graphqlClient(
      server.baseUrl,
      user.token,
    )(`mutation { createMyClientCredential(input: { name: "mine" }) { id } }`);
    expect(graphql.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');
    expect(await restClient(server.baseUrl).post('/me/client_credentials', { name: 'x' })).toMatchObject({
      status: 401,
    });
  });

  it('exchanges client id and secret for a token acting as the owner (form body or HTTP Basic)', async () => {
    const credential = await createCredential(reviewer);
    const token = await exchange(credential.client_id, credential.client_secret);

    const me = await restClient(server.baseUrl, token).get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ provider_id: 'cc-reviewer', email: reviewer.email, is_security_reviewer: true });
    const graphql = await graphqlClient(server.baseUrl, token)(`{ me { userId } }`);
    expect(graphql.data?.me.userId).toBe(reviewer.id);
    // It can do what its owner can.
    const created = await restClient(server.baseUrl, token).post('/threat_models', { name: 'From the pipeline' });
    expect(created.status).toBe(201);
    expect(created.body.owner.provider_id).toBe('cc-reviewer');

    const basic = await tokenRequest(
      server.baseUrl,
      { grant_type: 'client_credentials' },
      { basic: [credential.client_id, credential.client_secret] },
    );
    expect(basic.status).toBe(200);
    expect(basic.body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: '',
    });
    expect(basic.headers.get('cache-control')).toBe('no-store');
    expect(basic.headers.get('set-cookie')).toBeNull();

    const listed = await restClient(server.baseUrl, reviewer.token).get('/me/client_credentials');
    const used = listed.body.credentials.find((c: { id: string }) => c.id === credential.id);
    expect(used.last_used_at).toEqual(ISO);
  });

  it('answers a wrong secret, an unknown client and an expired credential with 401 invalid_client', async () => {
    const credential = await createCredential(reviewer);
    const attempts = [
      { client_id: credential.client_id, client_secret: `${credential.client_secret}x` },
      { client_id: 'tmi_cc_unknown', client_secret: credential.client_secret },
    ];
    for (const fields of attempts) {
      const response = await tokenRequest(server.baseUrl, { grant_type: 'client_credentials', ...fields });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_client');
    }
    const wrongBasic = await tokenRequest(
      server.baseUrl,
      { grant_type: 'client_credentials' },
      { basic: [credential.client_id, 'nope'] },
    );
    expect(wrongBasic.status).toBe(401);

    await server.deps.db.prisma.clientCredential.update({
      where: { id: credential.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await tokenRequest(server.baseUrl, {
      grant_type: 'client_credentials',
      client_id: credential.client_id,
      client_secret: credential.client_secret,
    });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('invalid_client');

    const missing = await tokenRequest(server.baseUrl, { grant_type: 'client_credentials', client_id: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('deleting a credential revokes its tokens on REST and GraphQL, on every instance', async () => {
    const credential = await createCredential(reviewer);
    const tokens = [
      await exchange(credential.client_id, credential.client_secret),
      await exchange(credential.client_id, credential.client_secret),
    ];
    for (const token of tokens) {
      expect((await restClient(server.baseUrl, token).get('/me')).status).toBe(200);
      expect((await restClient(second.baseUrl, token).get('/me')).status).toBe(200);
    }

    const deleted = await graphqlClient(server.baseUrl, reviewer.token)(
      `mutation($id: ID!) { deleteMyClientCredential(id: $id) }`,
      { id: credential.id },
    );
    expect(deleted.data?.deleteMyClientCredential).toBe(credential.id);

    for (const token of tokens) {
      const rest = await restClient(server.baseUrl, token).get('/me');
      expect(rest.status).toBe(401);
      const graphql = await graphqlClient(server.baseUrl, token)(`{ me { userId } }`);
      expect(graphql.status).toBe(401);
      expect(graphql.errors?.[0]?.extensions?.code).toBe('INVALID_TOKEN');
      await expect.poll(async () => (await restClient(second.baseUrl, token).get('/me')).status).toBe(401);
    }
    const again = await tokenRequest(server.baseUrl, {
      grant_type: 'client_credentials',
      client_id: credential.client_id,
      client_secret: credential.client_secret,
    });
    expect(again.status).toBe(401);
    // The owner's own sign-in is untouched.
    expect((await restClient(server.baseUrl, reviewer.token).get('/me')).status).toBe(200);
  });

  it('deletes over REST with 204, and answers 404 for a credential that is not the caller’s', async () => {
    const credential = await createCredential(reviewer);
    const other = await createCredential(admin);
    const rest = restClient(server.baseUrl, reviewer.token);

    expect((await rest.delete(`/me/client_credentials/${other.id}`)).status).toBe(404);
    expect((await rest.delete(`/me/client_credentials/${UNKNOWN}`)).status).toBe(404);
    expect((await rest.delete('/me/client_credentials/not-a-uuid')).status).toBe(400);
    const deleted = await rest.delete(`/me/client_credentials/${credential.id}`);
    expect(deleted.status).toBe(204);
    expect((await rest.delete(`/me/client_credentials/${credential.id}`)).status).toBe(404);
    const listed = await rest.get('/me/client_credentials');
    expect(listed.body.credentials.map((c: { id: string }) => c.id)).not.toContain(credential.id);
  });

  it('validates the request', async () => {
    const rest = restClient(server.baseUrl, reviewer.token);
    const invalid = [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'zero\u200bwidth' },
      { name: 'ok', description: 'd'.repeat(501) },
      { name: 'ok', expires_at: '2001-01-01T00:00:00Z' },
      { name: 'ok', expires_at: 'tomorrow' },
      { name: 'ok', owner_id: UNKNOWN },
    ];
    for (const body of invalid) {
      const response = await rest.post('/me/client_credentials', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    const page = await rest.get('/me/client_credentials?limit=101');
    expect(page.status).toBe(400);
  });

  it('tokens from a credential cannot create credentials and are never an administrator’s', async () => {
    const credential = await createCredential(admin);
    const token = await exchange(credential.client_id, credential.client_secret);

    expect(decodeJwt(token)).toMatchObject({ sub: admin.id, is_admin: false });
    expect((await restClient(server.baseUrl, token).get('/admin/quotas/addons')).status).toBe(403);
    const create = await restClient(server.baseUrl, token).post('/me/client_credentials', { name: 'nested' });
    expect(create.status).toBe(403);
  });

  it('limits each user to 10 credentials (403 quota_exceeded)', async () => {
    const busy = await withRole(server, 'cc-busy', 'isSecurityReviewer');
    const created = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        restClient(server.baseUrl, busy.token).post('/me/client_credentials', { name: `c${i}` }),
      ),
    );
    expect(created.filter((r) => r.status === 201)).toHaveLength(10);
    const refused = created.filter((r) => r.status === 403);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.body.error).toBe('quota_exceeded');
    const listed = await restClient(server.baseUrl, busy.token).get('/me/client_credentials?limit=5&offset=8');
    expect(listed.body).toMatchObject({ total: 10, limit: 5, offset: 8 });
    expect(listed.body.credentials).toHaveLength(2);
  });
});

describe('automation accounts', () => {
  it('lets an administrator create one with a first credential, which signs in as the account', async () => {
    const rest = restClient(server.baseUrl, admin.token);
    const created = await rest.post('/admin/users/automation', { name: 'Webhook Analyzer' });

    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toEqual({
      user: {
        internal_uuid: expect.any(String),
        provider: 'tmi',
        provider_user_id: 'tmi-automation-webhook-analyzer',
        email: 'tmi-automation-webhook-analyzer@tmi.local',
        name: 'TMI Automation: Webhook Analyzer',
        email_verified: true,
        created_at: ISO,
        modified_at: ISO,
        is_admin: false,
        groups: ['tmi-automation'],
        active_threat_models: 0,
        automation: true,
      },
      client_credential: {
        id: expect.any(String),
        client_id: expect.stringMatching(/^tmi_cc_/),
        client_secret: expect.stringMatching(/^tmi_cs_/),
        name: 'Webhook Analyzer',
        description: 'Auto-created for automation account TMI Automation: Webhook Analyzer',
        created_at: ISO,
      },
    });
    const { client_id: clientId, client_secret: clientSecret } = created.body.client_credential;
    const token = await exchange(clientId, clientSecret);
    const me = await restClient(server.baseUrl, token).get('/me');
    expect(me.body).toMatchObject({ provider_id: 'tmi-automation-webhook-analyzer', is_admin: false });
    const groups = await restClient(server.baseUrl, token).get('/me/groups');
    expect(groups.body.groups).toEqual([
      { internal_uuid: '00000000-0000-0000-0000-000000000004', group_name: 'tmi-automation', name: 'TMI Automation' },
    ]);

    const duplicate = await rest.post('/admin/users/automation', { name: 'webhook analyzer' });
    expect(duplicate.status).toBe(409);
    const sameEmail = await rest.post('/admin/users/automation', { name: 'Other', email: reviewer.email });
    expect(sameEmail.status).toBe(409);
  });

  it('is for administrators only, and validates the name', async () => {
    for (const caller of [user, reviewer]) {
      const refused = await restClient(server.baseUrl, caller.token).post('/admin/users/automation', { name: 'bot' });
      expect(refused.status).toBe(403);
    }
    const graphql = await graphqlClient(
      server.baseUrl,
      user.token,
    )(`mutation { createAutomationAccount(input: { name: "bot" }) { user { internalUuid } } }`);
    expect(graphql.errors?.[0]?.extensions?.code).toBe('ADMIN_REQUIRED');
    const rest = restClient(server.baseUrl, admin.token);
    for (const body of [{}, { name: 'x' }, { name: '1bot' }, { name: 'bot-' }, { name: 'bot', extra: 1 }]) {
      expect((await rest.post('/admin/users/automation', body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it("lets administrators list, add and delete an automation account's credentials (only those)", async () => {
    const rest = restClient(server.baseUrl, admin.token);
    const account = await rest.post('/admin/users/automation', { name: 'scanner' });
    const userId = account.body.user.internal_uuid as string;
    const first = account.body.client_credential as { id: string; client_id: string; client_secret: string };
    const firstToken = await exchange(first.client_id, first.client_secret);

    const added = await rest.post(`/admin/users/${userId}/client_credentials`, {
      name: 'second',
      expires_at: '2099-06-01T00:00:00Z',
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'second', client_secret: expect.stringMatching(/^tmi_cs_/) });

    const listed = await rest.get(`/admin/users/${userId}/client_credentials`);
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect(listed.body.credentials.map((c: { name: string }) => c.name).sort()).toEqual(['scanner', 'second']);
    expect(JSON.stringify(listed.body)).not.toContain('client_secret');

    expect((await rest.delete(`/admin/users/${userId}/client_credentials/${first.id}`)).status).toBe(204);
    expect((await restClient(server.baseUrl, firstToken).get('/me')).status).toBe(401);
    expect((await rest.delete(`/admin/users/${userId}/client_credentials/${first.id}`)).status).toBe(404);

    // A person's credentials are theirs to manage.
    expect((await rest.get(`/admin/users/${reviewer.id}/client_credentials`)).status).toBe(403);
    expect((await rest.post(`/admin/users/${reviewer.id}/client_credentials`, { name: 'x' })).status).toBe(403);
    expect((await rest.get(`/admin/users/${UNKNOWN}/client_credentials`)).status).toBe(404);
    expect((await restClient(server.baseUrl, user.token).get(`/admin/users/${userId}/client_credentials`)).status).toBe(
      403,
    );
    const graphql = await graphqlClient(server.baseUrl, admin.token)(
      `query($id: ID!) { userClientCredentials(userId: $id) { total credentials { name } } }`,
      { id: userId },
    );
    expect(graphql.data?.userClientCredentials).toEqual({ total: 1, credentials: [{ name: 'second' }] });
  });
});
