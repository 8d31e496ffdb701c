import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// GET /oauth2/providers/{idp}/groups and GraphQL's providerGroups(idp): the groups known for an identity
// provider (its rows in `groups` and the groups its users carry), by name, each saying whether a threat
// model's authorization names it. Any signed-in user; 401 without a token, 400 for an id TMI would not
// accept, 404 for a provider not configured here.

const PROVIDER_GROUPS = `query ($idp: String!) {
  providerGroups(idp: $idp) { idp groups { name displayName usedInAuthorizations } }
}`;

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let corpUser: TestUser;

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const gqlCode = (response: GraphQLResponse) => response.errors?.[0]?.extensions?.code;
const prisma = () => server.deps.db.prisma;
const groupsOf = (user: TestUser, idp: string) => restAs(user).get(`/oauth2/providers/${idp}/groups`);

function expectStatus(response: RestResponse, status: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  if (status >= 400) expect(typeof response.body.error).toBe('string');
}

/** A user of the configured provider `corp_sso`, as its sign-in would have recorded them. */
async function signInCorp(providerId: string, groups: string[]): Promise<TestUser> {
  const row = await prisma().user.create({
    data: { provider: 'corp_sso', providerId, email: `${providerId}@corp.example`, name: providerId, groups },
  });
  const { token } = await server.deps.tokens.issue(row);
  return { id: row.id, provider: row.provider, providerId, email: row.email, name: row.name, token };
}

beforeAll(async () => {
  server = await startTestServer({
    TMI_ROLES: 'api',
    // Configured only: discovery happens at the first login, which these tests never start.
    TMI_OAUTH_PROVIDERS_CORP_SSO_ISSUER: 'https://sso.corp.example',
    TMI_OAUTH_PROVIDERS_CORP_SSO_CLIENT_ID: 'tmi',
  });
  alice = await signIn(server, 'pg-alice', { groups: ['red-team', 'blue-team'] });
  bob = await signIn(server, 'pg-bob', { groups: ['blue-team', 'Auditors'] });
  corpUser = await signInCorp('corp-1', ['corp-devs', 'red-team']);
  await prisma().group.create({
    data: { provider: 'corp_sso', groupName: 'corp-architects', name: 'Architects' },
  });
});
afterAll(async () => server?.close());

describe('the groups of a provider', () => {
  it("lists the tmi provider's groups by name, used_in_authorizations once a threat model authorizes one", async () => {
    const before = await groupsOf(bob, 'tmi');
    expectStatus(before, 200);
    expect(before.body.idp).toBe('tmi');
    const names = before.body.groups.map((group: { name: string }) => group.name);
    expect(names).toEqual([...names].sort((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)));
    // The groups users carry, and TMI's own groups (rows of provider tmi, with their display names).
    expect(before.body.groups).toEqual(
      expect.arrayContaining([
        { name: 'Auditors', used_in_authorizations: false },
        { name: 'blue-team', used_in_authorizations: false },
        { name: 'red-team', used_in_authorizations: false },
        { name: 'administrators', display_name: 'Administrators', used_in_authorizations: false },
      ]),
    );
    // Another provider's users' groups are not the tmi provider's.
    expect(names).not.toContain('corp-devs');
    expect(names.filter((name: string) => name === 'red-team')).toHaveLength(1);

    // Authorizing blue-team (tmi) and red-team for another provider: only blue-team is used for tmi.
    const tm = await restAs(alice).post('/threat_models', {
      name: 'Shared with teams',
      authorization: [
        { principal_type: 'group', provider: 'tmi', provider_id: 'blue-team', role: 'reader' },
        { principal_type: 'group', provider: 'corp_sso', provider_id: 'red-team', role: 'reader' },
      ],
    });
    expectStatus(tm, 201);
    const after = await groupsOf(bob, 'tmi');
    expectStatus(after, 200);
    const used = Object.fromEntries(
      after.body.groups.map((group: { name: string; used_in_authorizations: boolean }) => [
        group.name,
        group.used_in_authorizations,
      ]),
    );
    expect(used).toMatchObject({ 'blue-team': true, 'red-team': false, Auditors: false });

    const corp = await groupsOf(alice, 'corp_sso');
    expectStatus(corp, 200);
    expect(corp.body).toEqual({
      idp: 'corp_sso',
      groups: [
        { name: 'corp-architects', display_name: 'Architects', used_in_authorizations: false },
        { name: 'corp-devs', used_in_authorizations: false },
        { name: 'red-team', used_in_authorizations: true },
      ],
    });
  });

  it("a group authorized for every provider ('*') is used for each", async () => {
    expectStatus(
      await restAs(corpUser).post('/threat_models', {
        name: 'Shared with every provider',
        authorization: [{ principal_type: 'group', provider: '*', provider_id: 'corp-devs', role: 'reader' }],
      }),
      201,
    );
    const corp = await groupsOf(corpUser, 'corp_sso');
    expect(corp.body.groups).toContainEqual({ name: 'corp-devs', used_in_authorizations: true });
  });

  it('GraphQL: providerGroups(idp) answers the same', async () => {
    const rest = await groupsOf(alice, 'corp_sso');
    const gql = await gqlAs(alice)(PROVIDER_GROUPS, { idp: 'corp_sso' });
    expect(gql.errors).toBeUndefined();
    expect(gql.data.providerGroups).toEqual({
      idp: 'corp_sso',
      groups: rest.body.groups.map(
        (group: { name: string; display_name?: string; used_in_authorizations: boolean }) => ({
          name: group.name,
          displayName: group.display_name ?? null,
          usedInAuthorizations: group.used_in_authorizations,
        }),
      ),
    });
  });

  it('at most 1000, by name; names the contract cannot carry are left out', async () => {
    const names = Array.from({ length: 1005 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
    await signInCorp('corp-bulk', [...names, 'bad\u0001name', `a${'x'.repeat(256)}`]);
    const listed = await groupsOf(corpUser, 'corp_sso');
    expectStatus(listed, 200);
    expect(listed.body.groups).toHaveLength(1000);
    const listedNames = listed.body.groups.map((group: { name: string }) => group.name);
    expect(listedNames.slice(0, 3)).toEqual(['bulk-0000', 'bulk-0001', 'bulk-0002']);
    expect(listedNames).not.toContain('bad\u0001name');
    expect(listedNames.some((name: string) => name.length > 256)).toBe(false);
    await prisma().user.deleteMany({ where: { provider: 'corp_sso', providerId: 'corp-bulk' } });
  });
});

describe('refusals', () => {
  it('401 without a token (REST and GraphQL)', async () => {
    const anonymous = await restAs().get('/oauth2/providers/tmi/groups');
    expectStatus(anonymous, 401);
    expect(anonymous.body.error).toBe('unauthorized');
    const gql = await gqlAs()(PROVIDER_GROUPS, { idp: 'tmi' });
    expect(gqlCode(gql)).toBe('UNAUTHENTICATED');
  });

  it('400 for an idp TMI would not accept', async () => {
    for (const idp of ['9tmi', '_tmi', 'tmi.sso', 'x'.repeat(101)]) {
      const refused = await groupsOf(alice, encodeURIComponent(idp));
      expectStatus(refused, 400);
      expect(refused.body.error).toBe('invalid_input');
      const gql = await gqlAs(alice)(PROVIDER_GROUPS, { idp });
      expect(gql.errors?.[0]?.extensions?.status).toBe(400);
    }
  });

  it('404 for a provider not configured here', async () => {
    const unknown = await groupsOf(alice, 'google');
    expectStatus(unknown, 404);
    expect(unknown.body.error).toBe('not_found');
    const gql = await gqlAs(alice)(PROVIDER_GROUPS, { idp: 'google' });
    expect(gqlCode(gql)).toBe('RESOURCE_NOT_FOUND');
    expect(gql.errors?.[0]?.extensions?.status).toBe(404);
  });

  it('the tmi provider is unknown when the test provider is off', async () => {
    const other = await startTestServer({ TMI_ROLES: 'api', TMI_TEST_PROVIDER_ENABLED: 'false' });
    try {
      const user = await signIn(other, 'pg-carol', { groups: ['red-team'] });
      const refused = await restClient(other.baseUrl, user.token).get('/oauth2/providers/tmi/groups');
      expectStatus(refused, 404);
    } finally {
      await other.close();
    }
  });
});
