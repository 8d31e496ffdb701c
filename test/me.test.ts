import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The rest of /me: preferences (TMI's UserPreferences, 1 KB, 20 clients), the caller's groups and their
// members, and account deletion with TMI's challenge, on both faces.

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const SECURITY_REVIEWERS = '00000000-0000-0000-0000-000000000001';
const ADMINISTRATORS = '00000000-0000-0000-0000-000000000002';
const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const FORM = 'application/x-www-form-urlencoded';

let server: TestServer;

async function withFlags(hint: string, flags: { isAdmin?: boolean; isSecurityReviewer?: boolean }): Promise<TestUser> {
  const signedIn = await signIn(server, hint);
  const row = await server.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: flags });
  return { ...signedIn, token: (await server.deps.tokens.issue(row)).token };
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('/me/preferences', () => {
  it('is {} until created, then 409 on a second POST; PUT replaces it whole', async () => {
    const user = await signIn(server, 'prefs-owner');
    const rest = restClient(server.baseUrl, user.token);

    expect(await rest.get('/me/preferences')).toMatchObject({ status: 200, body: {} });
    const prefs = { 'tmi-ux': { theme: 'dark', pageSize: 25, snake_case_key: { nested: [1, 2] } } };
    const created = await rest.post('/me/preferences', prefs);
    expect(created).toMatchObject({ status: 201, body: prefs });
    expect(await rest.get('/me/preferences')).toMatchObject({ status: 200, body: prefs });

    const again = await rest.post('/me/preferences', { other: {} });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');

    const replaced = await rest.put('/me/preferences', { cli: { color: false } });
    expect(replaced).toMatchObject({ status: 200, body: { cli: { color: false } } });
    expect((await rest.get('/me/preferences')).body).toEqual({ cli: { color: false } });

    const graphql = graphqlClient(server.baseUrl, user.token);
    expect(
      (
        await graphql(`
          {
            myPreferences
          }
        `)
      ).data?.myPreferences,
    ).toEqual({ cli: { color: false } });
    const set = await graphql(
      `
        mutation ($p: JSON!) {
          setMyPreferences(preferences: $p)
        }
      `,
      { p: { web: { a: 1 } } },
    );
    expect(set.data?.setMyPreferences).toEqual({ web: { a: 1 } });
    const conflict = await graphql(`
      mutation {
        createMyPreferences(preferences: { web: {} })
      }
    `);
    expect(conflict.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('PUT creates preferences when there are none', async () => {
    const user = await signIn(server, 'prefs-put');
    const rest = restClient(server.baseUrl, user.token);
    expect(await rest.put('/me/preferences', { app: { x: 'y' } })).toMatchObject({ status: 200 });
    expect((await rest.get('/me/preferences')).body).toEqual({ app: { x: 'y' } });
  });

  it('refuses what is not an object of up to 20 client objects within 1 KB', async () => {
    const user = await signIn(server, 'prefs-invalid');
    const rest = restClient(server.baseUrl, user.token);
    const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, {}]));
    const invalid: unknown[] = [
      [],
      { app: 'not an object' },
      { app: [1, 2] },
      { 'bad key!': {} },
      { ['k'.repeat(65)]: {} },
      tooMany,
      { app: { blob: 'x'.repeat(1100) } },
    ];
    for (const body of invalid) {
      for (const method of ['POST', 'PUT'] as const) {
        const response = await rest.request(method, '/me/preferences', { body });
        expect(response.status, `${method} ${JSON.stringify(body).slice(0, 60)}`).toBe(400);
      }
    }
    expect((await rest.get('/me/preferences')).body).toEqual({});
    const exactly20 = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, {}]));
    expect((await rest.put('/me/preferences', exactly20)).status).toBe(200);
    expect((await restClient(server.baseUrl).get('/me/preferences')).status).toBe(401);
  });
});

describe('/me/groups', () => {
  it('lists the built-in groups by role and TMI groups by membership, never everyone', async () => {
    const reviewer = await withFlags('groups-reviewer', { isSecurityReviewer: true });
    const plain = await signIn(server, 'groups-plain');
    const team = await server.deps.db.prisma.group.create({
      data: { provider: 'tmi', groupName: 'appsec-team', name: 'AppSec team' },
    });
    await server.deps.db.prisma.groupMember.create({
      data: { groupId: team.id, subjectType: 'user', userId: reviewer.id, notes: 'admin-only note' },
    });

    const mine = await restClient(server.baseUrl, reviewer.token).get('/me/groups');
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({
      groups: [
        { internal_uuid: SECURITY_REVIEWERS, group_name: 'security-reviewers', name: 'Security Reviewers' },
        { internal_uuid: team.id, group_name: 'appsec-team', name: 'AppSec team' },
      ],
      total: 2,
    });
    expect(await restClient(server.baseUrl, plain.token).get('/me/groups')).toMatchObject({
      status: 200,
      body: { groups: [], total: 0 },
    });
    const graphql = await graphqlClient(server.baseUrl, reviewer.token)(`{ myGroups { groupName } }`);
    expect(graphql.data?.myGroups).toEqual([{ groupName: 'security-reviewers' }, { groupName: 'appsec-team' }]);
  });

  it("lists a group's members to its effective members only, without the administrators' fields", async () => {
    const member = await signIn(server, 'members-direct');
    const nestedMember = await signIn(server, 'members-nested');
    const outsider = await signIn(server, 'members-outsider');
    const admin = await withFlags('members-admin', { isAdmin: true });
    const prisma = server.deps.db.prisma;
    const parent = await prisma.group.create({ data: { provider: 'tmi', groupName: 'parent-team' } });
    const child = await prisma.group.create({ data: { provider: 'tmi', groupName: 'child-team', name: 'Child' } });
    await prisma.groupMember.create({
      data: { groupId: parent.id, subjectType: 'user', userId: member.id, addedById: admin.id, notes: 'secret' },
    });
    await prisma.groupMember.create({ data: { groupId: parent.id, subjectType: 'group', memberGroupId: child.id } });
    await prisma.groupMember.create({ data: { groupId: child.id, subjectType: 'user', userId: nestedMember.id } });

    for (const caller of [member, nestedMember]) {
      const listed = await restClient(server.baseUrl, caller.token).get(`/me/groups/${parent.id}/members`);
      expect(listed.status).toBe(200);
      expect(listed.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
      expect(listed.body.members).toEqual([
        {
          id: expect.any(String),
          group_internal_uuid: parent.id,
          subject_type: 'user',
          user_internal_uuid: member.id,
          user_email: member.email,
          user_name: member.name,
          user_provider: 'tmi',
          user_provider_user_id: 'members-direct',
          added_at: ISO,
        },
        {
          id: expect.any(String),
          group_internal_uuid: parent.id,
          subject_type: 'group',
          member_group_internal_uuid: child.id,
          member_group_name: 'Child',
          added_at: ISO,
        },
      ]);
    }
    const refused = await restClient(server.baseUrl, outsider.token).get(`/me/groups/${parent.id}/members`);
    expect(refused.status).toBe(403);
    expect((await restClient(server.baseUrl, member.token).get(`/me/groups/${UNKNOWN}/members`)).status).toBe(404);
    expect((await restClient(server.baseUrl, member.token).get('/me/groups/nope/members')).status).toBe(400);

    const graphql = await graphqlClient(server.baseUrl, outsider.token)(
      `query($id: ID!) { myGroupMembers(groupId: $id) { total } }`,
      { id: parent.id },
    );
    expect(graphql.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');
  });

  it('lists the members of a built-in group: the users with its role', async () => {
    const admin = await withFlags('builtin-admin', { isAdmin: true });
    const plain = await signIn(server, 'builtin-plain');
    const listed = await restClient(server.baseUrl, admin.token).get(`/me/groups/${ADMINISTRATORS}/members?limit=1000`);
    expect(listed.status).toBe(200);
    expect(listed.body.members.map((m: { user_internal_uuid: string }) => m.user_internal_uuid)).toContain(admin.id);
    expect(listed.body.members.every((m: { subject_type: string }) => m.subject_type === 'user')).toBe(true);
    expect((await restClient(server.baseUrl, plain.token).get(`/me/groups/${ADMINISTRATORS}/members`)).status).toBe(
      403,
    );
  });
});

describe('DELETE /me', () => {
  it('issues a challenge, refuses a wrong one, then deletes the account, its unshared threat models and its tokens', async () => {
    const leaving = await signIn(server, 'leaving-user');
    const coOwner = await signIn(server, 'leaving-coowner');
    const rest = restClient(server.baseUrl, leaving.token);
    const alone = await rest.post('/threat_models', { name: 'Only mine' });
    const shared = await rest.post('/threat_models', {
      name: 'Shared',
      authorization: [userEntry(coOwner, 'owner')],
    });
    const theirs = await restClient(server.baseUrl, coOwner.token).post('/threat_models', {
      name: 'Theirs',
      authorization: [userEntry(leaving, 'writer')],
    });
    expect([alone.status, shared.status, theirs.status]).toEqual([201, 201, 201]);

    const challenge = await rest.delete('/me');
    expect(challenge.status).toBe(200);
    expect(challenge.body).toEqual({ challenge_text: expect.stringContaining(leaving.email), expires_at: ISO });
    const ttl = Date.parse(challenge.body.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(170_000);
    expect(ttl).toBeLessThanOrEqual(180_000);

    const wrong = await rest.delete(`/me?challenge=${encodeURIComponent(`${challenge.body.challenge_text}x`)}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_challenge');

    const deleted = await rest.delete(`/me?challenge=${encodeURIComponent(challenge.body.challenge_text)}`);
    expect(deleted.status).toBe(204);

    expect((await rest.get('/me')).status).toBe(401);
    const prisma = server.deps.db.prisma;
    expect(await prisma.user.findUnique({ where: { id: leaving.id } })).toBeNull();
    expect(await prisma.threatModel.findUnique({ where: { id: alone.body.id } })).toBeNull();
    const kept = await restClient(server.baseUrl, coOwner.token).get(`/threat_models/${shared.body.id}`);
    expect(kept.status).toBe(200);
    expect(kept.body.owner.provider_id).toBe('leaving-coowner');
    const other = await restClient(server.baseUrl, coOwner.token).get(`/threat_models/${theirs.body.id}`);
    expect(other.body.authorization.map((entry: { provider_id: string }) => entry.provider_id)).toEqual([
      'leaving-coowner',
    ]);
    // The challenge was single-use: it went with the account.
    expect(await prisma.accountDeletionChallenge.findUnique({ where: { userId: leaving.id } })).toBeNull();
  });

  it('refuses an expired challenge, and a challenge without a prior request', async () => {
    const user = await signIn(server, 'expired-challenge');
    const rest = restClient(server.baseUrl, user.token);
    expect((await rest.delete('/me?challenge=made-up')).status).toBe(400);

    const issued = await rest.delete('/me');
    await server.deps.db.prisma.accountDeletionChallenge.update({
      where: { userId: user.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const late = await rest.delete(`/me?challenge=${encodeURIComponent(issued.body.challenge_text)}`);
    expect(late.status).toBe(400);
    expect((await rest.get('/me')).status).toBe(200);
    expect((await restClient(server.baseUrl).delete('/me')).status).toBe(401);
  });

  it('works on GraphQL too, and revokes the tokens of the account’s client credentials', async () => {
    const reviewer = await withFlags('leaving-reviewer', { isSecurityReviewer: true });
    const credential = await restClient(server.baseUrl, reviewer.token).post('/me/client_credentials', { name: 'ci' });
    const exchanged = await restClient(server.baseUrl).request('POST', '/oauth2/token', {
      rawBody: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: credential.body.client_id,
        client_secret: credential.body.client_secret,
      }).toString(),
      contentType: FORM,
    });
    const machineToken = exchanged.body.access_token as string;
    expect((await restClient(server.baseUrl, machineToken).get('/me')).status).toBe(200);

    const graphql = graphqlClient(server.baseUrl, reviewer.token);
    const step1 = await graphql(`
      mutation {
        deleteMyAccount {
          deleted
          challenge {
            challengeText
            expiresAt
          }
        }
      }
    `);
    expect(step1.data?.deleteMyAccount).toMatchObject({ deleted: false, challenge: { expiresAt: ISO } });
    const step2 = await graphql(
      `
        mutation ($c: String!) {
          deleteMyAccount(challenge: $c) {
            deleted
            challenge {
              challengeText
            }
            threatModelsDeleted
          }
        }
      `,
      { c: step1.data.deleteMyAccount.challenge.challengeText },
    );
    expect(step2.data?.deleteMyAccount).toEqual({ deleted: true, challenge: null, threatModelsDeleted: 0 });

    expect((await restClient(server.baseUrl, machineToken).get('/me')).status).toBe(401);
    const graphqlAfter = await graphqlClient(server.baseUrl, reviewer.token)(`{ me { userId } }`);
    expect(graphqlAfter.status).toBe(401);
  });
});
