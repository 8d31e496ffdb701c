import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Administration on both faces: users (/admin/users), groups and members (/admin/groups), API quotas per user
// (/admin/quotas/users) and system settings (/admin/settings). Administrators only: 401 without a token,
// 403 for everyone else, on REST and GraphQL alike.

const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const ADMINISTRATORS = '00000000-0000-0000-0000-000000000002';
const EVERYONE = '00000000-0000-0000-0000-000000000000';
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'access_denied',
  404: 'not_found',
  409: 'conflict',
};

let server: TestServer;
let admin: TestUser;
let member: TestUser;

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const gqlCode = (response: GraphQLResponse) => response.errors?.[0]?.extensions?.code;
const prisma = () => server.deps.db.prisma;

function expectStatus(response: RestResponse, status: number) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  if (status >= 400) expect(typeof response.body.error).toBe('string');
}

async function signInAdmin(hint: string): Promise<TestUser> {
  const signedIn = await signIn(server, hint);
  const row = await prisma().user.update({ where: { id: signedIn.id }, data: { isAdmin: true } });
  return { ...signedIn, token: (await server.deps.tokens.issue(row)).token };
}

beforeAll(async () => {
  server = await startTestServer({ TMI_ROLES: 'api' });
  admin = await signInAdmin('admin-root');
  member = await signIn(server, 'admin-member', { groups: ['idp-engineers'] });
});
afterAll(async () => server?.close());

describe('only administrators', () => {
  const restCalls: [string, string, unknown?][] = [
    ['GET', '/admin/users'],
    ['GET', `/admin/users/${UNKNOWN}`],
    ['PATCH', `/admin/users/${UNKNOWN}`, { name: 'x' }],
    ['DELETE', `/admin/users/${UNKNOWN}`],
    ['GET', '/admin/groups'],
    ['POST', '/admin/groups', { group_name: 'g', name: 'G' }],
    ['GET', `/admin/groups/${UNKNOWN}`],
    ['PATCH', `/admin/groups/${UNKNOWN}`, { name: 'x' }],
    ['DELETE', `/admin/groups/${UNKNOWN}`],
    ['GET', `/admin/groups/${UNKNOWN}/members`],
    ['POST', `/admin/groups/${UNKNOWN}/members`, { user_internal_uuid: UNKNOWN }],
    ['DELETE', `/admin/groups/${UNKNOWN}/members/${UNKNOWN}`],
    ['GET', '/admin/quotas/users'],
    ['GET', `/admin/quotas/users/${UNKNOWN}`],
    ['PUT', `/admin/quotas/users/${UNKNOWN}`, { max_requests_per_minute: 5 }],
    ['DELETE', `/admin/quotas/users/${UNKNOWN}`],
    ['GET', '/admin/settings'],
    ['GET', '/admin/settings/some.key'],
    ['PUT', '/admin/settings/some.key', { value: '1', type: 'int' }],
    ['DELETE', '/admin/settings/some.key'],
  ];

  it('REST: 401 without a token, 403 for a user who is not an administrator', async () => {
    for (const [method, path, body] of restCalls) {
      const anonymous = await restAs().request(method, path, { body });
      expect([method, path, anonymous.status]).toEqual([method, path, 401]);
      const refused = await restAs(member).request(method, path, { body });
      expect([method, path, refused.status]).toEqual([method, path, 403]);
      expect(refused.body.error).toBe(TMI_ERROR[403]);
    }
  });

  it('GraphQL: the same operations answer ADMIN_REQUIRED (and UNAUTHENTICATED without a token)', async () => {
    const operations = [
      `{ adminUserPage { total } }`,
      `{ adminUser(id: "${UNKNOWN}") { email } }`,
      `mutation { updateAdminUser(id: "${UNKNOWN}", input: { name: "x" }) { email } }`,
      `mutation { deleteAdminUser(id: "${UNKNOWN}") }`,
      `{ adminGroupPage { total } }`,
      `{ adminGroup(id: "${UNKNOWN}") { groupName } }`,
      `mutation { createAdminGroup(input: { groupName: "g", name: "G" }) { groupName } }`,
      `mutation { deleteAdminGroup(id: "${UNKNOWN}") }`,
      `{ groupMemberPage(groupId: "${UNKNOWN}") { total } }`,
      `mutation { addGroupMember(groupId: "${UNKNOWN}", input: { userInternalUuid: "${UNKNOWN}" }) { id } }`,
      `mutation { removeGroupMember(groupId: "${UNKNOWN}", memberId: "${UNKNOWN}") }`,
      `{ userApiQuotaPage { total } }`,
      `{ userApiQuota(userId: "${UNKNOWN}") { maxRequestsPerMinute } }`,
      `mutation { setUserApiQuota(userId: "${UNKNOWN}", input: { maxRequestsPerMinute: 5 }) { created } }`,
      `mutation { clearUserApiQuota(userId: "${UNKNOWN}") }`,
      `{ systemSettings { key } }`,
      `{ systemSetting(key: "a.b") { key } }`,
      `mutation { setSystemSetting(key: "a.b", input: { value: "1", type: INT }) { key } }`,
      `mutation { deleteSystemSetting(key: "a.b") }`,
    ];
    for (const operation of operations) {
      const refused = await gqlAs(member)(operation);
      expect([operation, gqlCode(refused)]).toEqual([operation, 'ADMIN_REQUIRED']);
      expect(refused.data ?? null).toBeNull();
      const anonymous = await gqlAs()(operation);
      expect([operation, gqlCode(anonymous)]).toEqual([operation, 'UNAUTHENTICATED']);
    }
  });
});

describe('users (/admin/users)', () => {
  it('lists with TMI enriched fields, filters, sorts and pages', async () => {
    const page = await restAs(admin).get('/admin/users?limit=500');
    expectStatus(page, 200);
    expect(page.body).toMatchObject({ limit: 500, offset: 0 });
    const row = page.body.users.find((user: any) => user.internal_uuid === member.id);
    expect(row).toEqual({
      internal_uuid: member.id,
      provider: 'tmi',
      provider_user_id: member.providerId,
      email: member.email,
      name: member.name,
      email_verified: false,
      created_at: ISO,
      modified_at: ISO,
      is_admin: false,
      groups: ['idp-engineers'],
      active_threat_models: 0,
      automation: false,
    });
    const adminRow = page.body.users.find((user: any) => user.internal_uuid === admin.id);
    expect(adminRow).toMatchObject({ is_admin: true, groups: ['administrators'] });

    const byEmail = await restAs(admin).get('/admin/users?email=ADMIN-MEMBER@');
    expectStatus(byEmail, 200);
    expect(byEmail.body.users.map((user: any) => user.internal_uuid)).toEqual([member.id]);
    expect(byEmail.body.total).toBe(1);

    for (const hint of ['sort-b', 'sort-a', 'sort-c']) await signIn(server, hint);
    const sorted = await restAs(admin).get('/admin/users?name=sort-&sort_by=email&sort_order=asc');
    expect(sorted.body.users.map((user: any) => user.provider_user_id)).toEqual(['sort-a', 'sort-b', 'sort-c']);
    const second = await restAs(admin).get('/admin/users?name=sort-&sort_by=email&sort_order=asc&limit=1&offset=1');
    expect([second.body.users.map((user: any) => user.provider_user_id), second.body.total]).toEqual([['sort-b'], 3]);

    const people = await restAs(admin).get('/admin/users?automation=false&limit=1000');
    expect(people.body.users.map((user: any) => user.internal_uuid)).toContain(member.id);
    const automation = await restAs(admin).get('/admin/users?automation=true&limit=1000');
    expect(automation.body.users.map((user: any) => user.internal_uuid)).not.toContain(member.id);

    const future = await restAs(admin).get(`/admin/users?created_after=${encodeURIComponent('2999-01-01T00:00:00Z')}`);
    expect([future.status, future.body.total]).toEqual([200, 0]);
    expectStatus(await restAs(admin).get('/admin/users?limit=1001'), 400);
    expectStatus(await restAs(admin).get('/admin/users?sort_by=size'), 400);
    expectStatus(await restAs(admin).get('/admin/users?created_after=yesterday'), 400);

    const gql = await gqlAs(admin)(
      `query($filter: AdminUserFilter) { adminUserPage(filter: $filter, sortBy: EMAIL, sortOrder: ASC) {
        total items { providerUserId isAdmin groups automation } } }`,
      { filter: { name: 'sort-' } },
    );
    expect(gql.data.adminUserPage).toEqual({
      total: 3,
      items: ['sort-a', 'sort-b', 'sort-c'].map((id) => ({
        providerUserId: id,
        isAdmin: false,
        groups: [],
        automation: false,
      })),
    });
  });

  it('GET one user, PATCH only the given fields, 404 for an unknown one and 400 for a malformed id', async () => {
    const user = await signIn(server, 'admin-patched');
    const read = await restAs(admin).get(`/admin/users/${user.id}`);
    expectStatus(read, 200);
    expect(read.body).toMatchObject({ internal_uuid: user.id, email: user.email, email_verified: false });

    const patched = await restAs(admin).request('PATCH', `/admin/users/${user.id}`, {
      body: { name: 'Renamed', email_verified: true },
    });
    expectStatus(patched, 200);
    expect(patched.body).toMatchObject({ name: 'Renamed', email: user.email, email_verified: true });
    const email = await gqlAs(admin)(
      `mutation($id: ID!) { updateAdminUser(id: $id, input: { email: "new@example.com" }) { email name emailVerified } }`,
      { id: user.id },
    );
    expect(email.data.updateAdminUser).toEqual({ email: 'new@example.com', name: 'Renamed', emailVerified: true });

    const invalid = await restAs(admin).request('PATCH', `/admin/users/${user.id}`, { body: { email: 'nope' } });
    expectStatus(invalid, 400);
    const readOnly = await restAs(admin).request('PATCH', `/admin/users/${user.id}`, { body: { is_admin: true } });
    expectStatus(readOnly, 400);
    expectStatus(await restAs(admin).get(`/admin/users/${UNKNOWN}`), 404);
    expectStatus(await restAs(admin).get('/admin/users/not-a-uuid'), 400);
  });

  it('DELETE passes each threat model to another owner on its list, or deletes it when there is none', async () => {
    const leaving = await signIn(server, 'admin-leaving');
    const coOwner = await signIn(server, 'admin-co-owner');
    const shared = await restAs(leaving).post('/threat_models', {
      name: 'Shared',
      authorization: [userEntry(coOwner, 'owner')],
    });
    expectStatus(shared, 201);
    const alone = await restAs(leaving).post('/threat_models', { name: 'Alone' });
    expectStatus(alone, 201);
    // A threat model the leaving user created but another owns keeps a creator.
    const handedOver = await restAs(leaving).post('/threat_models', {
      name: 'Handed over',
      authorization: [userEntry(coOwner, 'owner')],
    });
    await prisma().threatModel.update({ where: { id: handedOver.body.id }, data: { ownerId: coOwner.id } });
    const elsewhere = await restAs(coOwner).post('/threat_models', {
      name: 'Elsewhere',
      authorization: [userEntry(leaving, 'writer')],
    });

    const before = await restAs(admin).get(`/admin/users/${leaving.id}`);
    expect(before.body.active_threat_models).toBe(2);

    const deleted = await restAs(admin).delete(`/admin/users/${leaving.id}`);
    expectStatus(deleted, 204);
    // The account's tokens die with it, on both faces.
    expectStatus(await restAs(leaving).get('/me'), 401);
    const { errors } = await gqlAs(leaving)('{ me { userId } }');
    expect(errors?.[0]?.extensions?.code).toBe('INVALID_TOKEN');
    expectStatus(await restAs(admin).get(`/admin/users/${leaving.id}`), 404);
    expectStatus(await restAs(admin).delete(`/admin/users/${leaving.id}`), 404);

    const kept = await restAs(coOwner).get(`/threat_models/${shared.body.id}`);
    expectStatus(kept, 200);
    expect(kept.body.owner).toMatchObject({ provider_id: coOwner.providerId });
    expect(kept.body.authorization.map((entry: any) => entry.provider_id)).not.toContain(leaving.providerId);
    expectStatus(await restAs(admin).get(`/threat_models/${alone.body.id}`), 404);
    expect(await prisma().threatModel.count({ where: { id: alone.body.id } })).toBe(0);
    expect(await prisma().threatModel.findUnique({ where: { id: handedOver.body.id } })).toMatchObject({
      createdById: coOwner.id,
    });
    const other = await restAs(coOwner).get(`/threat_models/${elsewhere.body.id}`);
    expect(other.body.authorization.map((entry: any) => entry.provider_id)).toEqual([coOwner.providerId]);

    // Administrators do not delete themselves here.
    const self = await restAs(admin).delete(`/admin/users/${admin.id}`);
    expectStatus(self, 409);
    const gqlSelf = await gqlAs(admin)(`mutation($id: ID!) { deleteAdminUser(id: $id) }`, { id: admin.id });
    expect(gqlCode(gqlSelf)).toBe('CONFLICT');
  });
});

describe('groups (/admin/groups)', () => {
  it("lists TMI's built-in groups and the identity provider groups users carry", async () => {
    const page = await restAs(admin).get('/admin/groups?limit=100&sort_by=name&sort_order=asc');
    expectStatus(page, 200);
    const byName = new Map(page.body.groups.map((group: any) => [group.group_name, group]));
    expect(byName.get('administrators')).toEqual({
      internal_uuid: ADMINISTRATORS,
      provider: 'tmi',
      group_name: 'administrators',
      name: 'Administrators',
      description: expect.any(String),
      first_used: ISO,
      last_used: ISO,
      usage_count: 0,
      used_in_authorizations: false,
      used_in_admin_grants: true,
      member_count: expect.any(Number),
      is_builtin: true,
    });
    expect(byName.get('everyone')).toMatchObject({ internal_uuid: EVERYONE, is_builtin: true });
    expect(byName.get('idp-engineers')).toMatchObject({ provider: 'tmi', is_builtin: false, member_count: 1 });

    const builtIn = await restAs(admin).get('/admin/groups?built_in=true');
    expect(builtIn.body.groups.map((group: any) => group.group_name)).toEqual(
      expect.arrayContaining(['administrators', 'everyone', 'security-reviewers']),
    );
    expect(builtIn.body.groups.every((group: any) => group.is_builtin)).toBe(true);
    const named = await restAs(admin).get('/admin/groups?group_name=ENGINEERS');
    expect(named.body.groups.map((group: any) => group.group_name)).toEqual(['idp-engineers']);
  });

  it('creates (201; 409 for the same name), reads, updates and deletes a TMI group', async () => {
    const created = await restAs(admin).post('/admin/groups', {
      group_name: 'threat-leads',
      name: 'Threat leads',
      description: 'Lead reviewers',
    });
    expectStatus(created, 201);
    expect(created.body).toMatchObject({
      provider: 'tmi',
      group_name: 'threat-leads',
      name: 'Threat leads',
      description: 'Lead reviewers',
      is_builtin: false,
      member_count: 0,
      used_in_authorizations: false,
    });
    const id = created.body.internal_uuid;
    expectStatus(await restAs(admin).post('/admin/groups', { group_name: 'threat-leads', name: 'Again' }), 409);
    expectStatus(await restAs(admin).post('/admin/groups', { group_name: 'bad name!', name: 'x' }), 400);
    expectStatus(await restAs(admin).post('/admin/groups', { group_name: 'x' }), 400);

    const read = await restAs(admin).get(`/admin/groups/${id}`);
    expect(read.body).toEqual(created.body);
    const updated = await restAs(admin).request('PATCH', `/admin/groups/${id}`, { body: { name: 'Leads' } });
    expectStatus(updated, 200);
    expect(updated.body).toMatchObject({ name: 'Leads', description: 'Lead reviewers' });

    // A threat model shared with the group: the group is in use, and deleting it removes the entry.
    const tm = await restAs(member).post('/threat_models', {
      name: 'For leads',
      authorization: [{ principal_type: 'group', provider: 'tmi', provider_id: 'threat-leads', role: 'reader' }],
    });
    expectStatus(tm, 201);
    expect((await restAs(admin).get(`/admin/groups/${id}`)).body.used_in_authorizations).toBe(true);
    const used = await restAs(admin).get('/admin/groups?used_in_authorizations=true');
    expect(used.body.groups.map((group: any) => group.group_name)).toContain('threat-leads');

    expectStatus(await restAs(admin).delete(`/admin/groups/${id}`), 204);
    expectStatus(await restAs(admin).get(`/admin/groups/${id}`), 404);
    const after = await restAs(member).get(`/threat_models/${tm.body.id}`);
    expect(after.body.authorization.map((entry: any) => entry.principal_type)).toEqual(['user']);

    expectStatus(await restAs(admin).delete(`/admin/groups/${EVERYONE}`), 403);
    expectStatus(await restAs(admin).delete(`/admin/groups/${ADMINISTRATORS}`), 403);
  });

  it('members: users and nested groups are added (201; 409 twice), listed and removed (204; 404 after)', async () => {
    const group = (await restAs(admin).post('/admin/groups', { group_name: 'squad', name: 'Squad' })).body;
    const nested = (await restAs(admin).post('/admin/groups', { group_name: 'squad-core', name: 'Core' })).body;
    const path = `/admin/groups/${group.internal_uuid}/members`;

    const added = await restAs(admin).post(path, { user_internal_uuid: member.id, notes: 'on call' });
    expectStatus(added, 201);
    expect(added.body).toEqual({
      id: expect.any(String),
      group_internal_uuid: group.internal_uuid,
      subject_type: 'user',
      user_internal_uuid: member.id,
      user_email: member.email,
      user_name: member.name,
      user_provider: 'tmi',
      user_provider_user_id: member.providerId,
      added_by_internal_uuid: admin.id,
      added_by_email: admin.email,
      added_at: ISO,
      notes: 'on call',
    });
    expectStatus(await restAs(admin).post(path, { user_internal_uuid: member.id }), 409);
    expectStatus(await restAs(admin).post(path, { user_internal_uuid: UNKNOWN }), 404);
    expectStatus(await restAs(admin).post(path, { subject_type: 'group' }), 400);
    const groupMember = await restAs(admin).post(path, {
      subject_type: 'group',
      member_group_internal_uuid: nested.internal_uuid,
    });
    expectStatus(groupMember, 201);
    expect(groupMember.body).toMatchObject({ subject_type: 'group', member_group_name: 'Core' });

    const list = await restAs(admin).get(path);
    expectStatus(list, 200);
    expect(list.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect(list.body.members.map((entry: any) => entry.subject_type)).toEqual(['user', 'group']);
    expect((await restAs(admin).get(`/admin/users/${member.id}`)).body.groups).toContain('squad');

    expectStatus(await restAs(admin).delete(`${path}/${member.id}`), 204);
    expectStatus(await restAs(admin).delete(`${path}/${member.id}`), 404);
    expectStatus(await restAs(admin).delete(`${path}/${nested.internal_uuid}`), 404);
    expectStatus(await restAs(admin).delete(`${path}/${nested.internal_uuid}?subject_type=group`), 204);
    expect((await restAs(admin).get(path)).body.total).toBe(0);
  });

  it('the built-in administrators group is the users with the role: adding one makes them an administrator', async () => {
    const promoted = await signIn(server, 'admin-promoted');
    const path = `/admin/groups/${ADMINISTRATORS}/members`;
    expectStatus(await restAs(admin).post(path, { user_internal_uuid: promoted.id }), 201);
    expectStatus(await restAs(admin).post(path, { user_internal_uuid: promoted.id }), 409);
    const members = await restAs(admin).get(`${path}?limit=1000`);
    expect(members.body.members.map((entry: any) => entry.user_internal_uuid)).toEqual(
      expect.arrayContaining([admin.id, promoted.id]),
    );
    // The next token they get says so.
    const row = await prisma().user.findUniqueOrThrow({ where: { id: promoted.id } });
    const token = (await server.deps.tokens.issue(row)).token;
    expectStatus(await restClient(server.baseUrl, token).get('/admin/settings'), 200);

    expectStatus(await restAs(admin).delete(`${path}/${promoted.id}`), 204);
    expect((await prisma().user.findUniqueOrThrow({ where: { id: promoted.id } })).isAdmin).toBe(false);
    // The tokens that carried the role stop working at once; the next one is without it.
    expectStatus(await restClient(server.baseUrl, token).get('/admin/settings'), 401);
    const demoted = await prisma().user.findUniqueOrThrow({ where: { id: promoted.id } });
    const fresh = (await server.deps.tokens.issue(demoted)).token;
    expectStatus(await restClient(server.baseUrl, fresh).get('/admin/settings'), 403);
    expectStatus(
      await restAs(admin).post(`/admin/groups/${EVERYONE}/members`, { user_internal_uuid: promoted.id }),
      403,
    );
  });
});

describe('user API quotas (/admin/quotas/users)', () => {
  it('defaults until set; PUT creates (201) then replaces (200); DELETE returns to the defaults (404 after)', async () => {
    const user = await signIn(server, 'admin-quota-user');
    const path = `/admin/quotas/users/${user.id}`;
    const initial = await restAs(admin).get(path);
    expectStatus(initial, 200);
    expect(initial.body).toEqual({
      user_id: user.id,
      max_requests_per_minute: 100,
      max_requests_per_hour: 6000,
      created_at: ISO,
      modified_at: ISO,
    });

    const created = await restAs(admin).put(path, { max_requests_per_minute: 30 });
    expectStatus(created, 201);
    expect(created.body).toEqual({ user_id: user.id, max_requests_per_minute: 30, created_at: ISO, modified_at: ISO });
    const replaced = await restAs(admin).put(path, { max_requests_per_minute: 40, max_requests_per_hour: 900 });
    expectStatus(replaced, 200);
    expect(replaced.body).toMatchObject({ max_requests_per_minute: 40, max_requests_per_hour: 900 });

    const list = await restAs(admin).get('/admin/quotas/users');
    expectStatus(list, 200);
    expect(list.body).toMatchObject({
      total: 1,
      limit: 50,
      offset: 0,
      defaults: { max_requests_per_minute: 100, max_requests_per_hour: 6000 },
    });
    expect(list.body.quotas).toEqual([replaced.body]);

    expectStatus(await restAs(admin).put(path, { max_requests_per_minute: 0 }), 400);
    expectStatus(await restAs(admin).put(path, { max_requests_per_minute: 10_001 }), 400);
    expectStatus(await restAs(admin).put(path, { max_requests_per_hour: 10 }), 400);
    expectStatus(await restAs(admin).put(`/admin/quotas/users/${UNKNOWN}`, { max_requests_per_minute: 5 }), 404);

    const gql = await gqlAs(admin)(
      `query($id: ID!) { userApiQuota(userId: $id) { userId maxRequestsPerMinute maxRequestsPerHour isDefault } }`,
      { id: user.id },
    );
    expect(gql.data.userApiQuota).toEqual({
      userId: user.id,
      maxRequestsPerMinute: 40,
      maxRequestsPerHour: 900,
      isDefault: false,
    });

    expectStatus(await restAs(admin).delete(path), 204);
    expectStatus(await restAs(admin).delete(path), 404);
    expect((await restAs(admin).get(path)).body.max_requests_per_minute).toBe(100);
  });
});

describe('system settings (/admin/settings)', () => {
  it('PUT creates or replaces a typed setting; GET lists and reads; DELETE removes (404 after)', async () => {
    expectStatus(await restAs(admin).get('/admin/settings/ui.banner'), 404);
    const created = await restAs(admin).put('/admin/settings/ui.banner', {
      value: 'Maintenance at noon',
      type: 'string',
      description: 'Shown to everyone',
    });
    expectStatus(created, 200);
    expect(created.body).toEqual({
      key: 'ui.banner',
      value: 'Maintenance at noon',
      type: 'string',
      description: 'Shown to everyone',
      modified_at: ISO,
      modified_by: admin.id,
      source: 'database',
      read_only: false,
    });
    const limit = await restAs(admin).put('/admin/settings/rate_limit.requests_per_minute', {
      value: '250',
      type: 'int',
    });
    expectStatus(limit, 200);
    const replaced = await restAs(admin).put('/admin/settings/ui.banner', { value: 'true', type: 'bool' });
    expect(replaced.body).toMatchObject({ value: 'true', type: 'bool' });
    expect(replaced.body.description).toBeUndefined();

    const list = await restAs(admin).get('/admin/settings');
    expectStatus(list, 200);
    expect(list.body.map((setting: any) => setting.key)).toEqual(['rate_limit.requests_per_minute', 'ui.banner']);
    expect((await restAs(admin).get('/admin/settings/ui.banner')).body).toEqual(replaced.body);

    for (const [value, type] of [
      ['ten', 'int'],
      ['1.5', 'int'],
      ['yes', 'bool'],
      ['{broken', 'json'],
      ['abc', 'float'],
    ]) {
      const invalid = await restAs(admin).put('/admin/settings/typed.value', { value, type });
      expect([value, type, invalid.status]).toEqual([value, type, 400]);
    }
    expectStatus(await restAs(admin).put('/admin/settings/typed.value', { value: '1', type: 'date' }), 400);
    expectStatus(await restAs(admin).put('/admin/settings/Bad-Key', { value: '1', type: 'int' }), 400);
    expectStatus(await restAs(admin).get('/admin/settings/Bad-Key'), 400);
    expectStatus(await restAs(admin).put('/admin/settings/json.value', { value: '{"a":[1,2]}', type: 'json' }), 200);

    const gql = await gqlAs(admin)(`{ systemSetting(key: "rate_limit.requests_per_minute") { value type source } }`);
    expect(gql.data.systemSetting).toEqual({ value: '250', type: 'INT', source: 'DATABASE' });

    expectStatus(await restAs(admin).delete('/admin/settings/ui.banner'), 204);
    expectStatus(await restAs(admin).delete('/admin/settings/ui.banner'), 404);
    expectStatus(await restAs(admin).get('/admin/settings/ui.banner'), 404);
  });
});

describe('the GraphQL face', () => {
  it('groups, members and settings through GraphQL are what REST shows', async () => {
    const gql = gqlAs(admin);
    const created = await gql(
      `mutation { createAdminGroup(input: { groupName: "gql-team", name: "GraphQL team", description: "d" }) {
        internalUuid groupName provider isBuiltin memberCount } }`,
    );
    expect(created.data.createAdminGroup).toMatchObject({
      groupName: 'gql-team',
      provider: 'tmi',
      isBuiltin: false,
      memberCount: 0,
    });
    const id = created.data.createAdminGroup.internalUuid;
    const again = await gql(`mutation { createAdminGroup(input: { groupName: "gql-team", name: "x" }) { groupName } }`);
    expect(gqlCode(again)).toBe('CONFLICT');
    const invalid = await gql(`mutation { createAdminGroup(input: { groupName: "no spaces", name: "x" }) { name } }`);
    expect(gqlCode(invalid)).toBe('VALIDATION_FAILED');

    const added = await gql(
      `mutation($group: ID!, $user: ID!) { addGroupMember(groupId: $group, input: { userInternalUuid: $user }) {
        subjectType userInternalUuid addedByInternalUuid } }`,
      { group: id, user: member.id },
    );
    expect(added.data.addGroupMember).toEqual({
      subjectType: 'USER',
      userInternalUuid: member.id,
      addedByInternalUuid: admin.id,
    });
    const rest = await restAs(admin).get(`/admin/groups/${id}/members`);
    expect(rest.body.members.map((entry: any) => entry.user_internal_uuid)).toEqual([member.id]);
    const page = await gql(`query($group: ID!) { groupMemberPage(groupId: $group) { total items { userEmail } } }`, {
      group: id,
    });
    expect(page.data.groupMemberPage).toEqual({ total: 1, items: [{ userEmail: member.email }] });
    const removed = await gql(
      `mutation($group: ID!, $user: ID!) { removeGroupMember(groupId: $group, memberId: $user) }`,
      {
        group: id,
        user: member.id,
      },
    );
    expect(removed.data.removeGroupMember).toBe(member.id);
    const updated = await gql(
      `mutation($id: ID!) { updateAdminGroup(id: $id, input: { description: "new" }) { name description } }`,
      { id },
    );
    expect(updated.data.updateAdminGroup).toEqual({ name: 'GraphQL team', description: 'new' });
    expect((await gql(`mutation($id: ID!) { deleteAdminGroup(id: $id) }`, { id })).data.deleteAdminGroup).toBe(id);
    expect(gqlCode(await gql(`query($id: ID!) { adminGroup(id: $id) { name } }`, { id }))).toBe('RESOURCE_NOT_FOUND');

    const set = await gql(
      `mutation { setSystemSetting(key: "gql.flag", input: { value: "false", type: BOOL }) { key value type readOnly } }`,
    );
    expect(set.data.setSystemSetting).toEqual({ key: 'gql.flag', value: 'false', type: 'BOOL', readOnly: false });
    expect((await restAs(admin).get('/admin/settings/gql.flag')).body).toMatchObject({ value: 'false', type: 'bool' });
    const wrong = await gql(
      `mutation { setSystemSetting(key: "gql.flag", input: { value: "2", type: BOOL }) { key } }`,
    );
    expect(gqlCode(wrong)).toBe('VALIDATION_FAILED');
    const listed = await gql(`{ systemSettings { key } }`);
    expect(listed.data.systemSettings.map((setting: any) => setting.key)).toContain('gql.flag');
    expect((await gql(`mutation { deleteSystemSetting(key: "gql.flag") }`)).data.deleteSystemSetting).toBe('gql.flag');

    const leaving = await signIn(server, 'admin-gql-leaving');
    const deleted = await gql(`mutation($id: ID!) { deleteAdminUser(id: $id) }`, { id: leaving.id });
    expect(deleted.data.deleteAdminUser).toBe(leaving.id);
    expect(gqlCode(await gql(`query($id: ID!) { adminUser(id: $id) { email } }`, { id: leaving.id }))).toBe(
      'RESOURCE_NOT_FOUND',
    );
  });
});
