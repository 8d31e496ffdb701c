import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

const TM_FIELDS = `
  id alias name description threatModelFramework issueUri status statusUpdated isConfidential projectId version
  createdAt modifiedAt
  owner { principalType provider providerId displayName email }
  createdBy { principalType provider providerId displayName email }
  securityReviewer { principalType provider providerId displayName email }
  authorization { principalType provider providerId displayName email role }
  metadata { key value }`;

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** The GraphQL object as TMI's REST face must show it: snake_case, lower-case enums, nulls omitted. */
function asRest(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asRest);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [snake(k), ['principalType', 'role'].includes(k) ? String(v).toLowerCase() : asRest(v)]),
    );
  }
  return value;
}

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'owner1');
  writer = await signIn(server, 'writer1');
  reader = await signIn(server, 'reader1');
  stranger = await signIn(server, 'stranger1');
});
afterAll(async () => server?.close());

async function rowVersion(id: string) {
  const row = await server.deps.db.prisma.threatModel.findUnique({ where: { id }, include: { authorization: true } });
  return (
    row && {
      version: row.version,
      name: row.name,
      modifiedAt: row.modifiedAt.toISOString(),
      access: row.authorization.length,
    }
  );
}

describe('threat models on both faces', () => {
  it('creates over REST and reads the same data over GraphQL with the same id', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const created = await rest.post('/threat_models', {
      name: 'Payments',
      description: 'Card processing',
      threat_model_framework: 'STRIDE',
      issue_uri: 'https://tracker.example.com/browse/SEC-42',
      authorization: [userEntry(writer, 'writer')],
      metadata: [{ key: 'team', value: 'payments' }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Payments',
      version: 1,
      status: 'not_started',
      owner: { principal_type: 'user', provider: 'tmi', provider_id: owner.providerId, email: owner.email },
      metadata: [{ key: 'team', value: 'payments' }],
    });
    // The owner is always in the list, first, as owner.
    expect(
      created.body.authorization.map((a: { provider_id: string; role: string }) => [a.provider_id, a.role]),
    ).toEqual([
      [owner.providerId, 'owner'],
      [writer.providerId, 'writer'],
    ]);

    const gql = graphqlClient(server.baseUrl, owner.token);
    const read = await gql(`query($id: ID!) { threatModel(id: $id) { ${TM_FIELDS} } }`, { id: created.body.id });
    expect(read.errors).toBeUndefined();
    expect(asRest(read.data.threatModel)).toEqual(created.body);

    const again = await rest.get(`/threat_models/${created.body.id}`);
    expect(again.status).toBe(200);
    // The full representation also lists the children.
    expect(again.body).toEqual({
      ...created.body,
      threats: [],
      assets: [],
      documents: [],
      notes: [],
      repositories: [],
      diagrams: [],
    });
  });

  it('creates over GraphQL and lists over REST with TMI summaries', async () => {
    const gql = graphqlClient(server.baseUrl, owner.token);
    const created = await gql(
      `mutation($input: ThreatModelInput!) { createThreatModel(input: $input) { id name issueUri } }`,
      { input: { name: 'Identity GQL', issueUri: 'https://github.com/acme/idp/issues/7' } },
    );
    expect(created.errors).toBeUndefined();
    const id = created.data.createThreatModel.id;

    const rest = restClient(server.baseUrl, owner.token);
    const list = await rest.get('/threat_models?issue_uri=ACME/IDP&limit=5');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ total: 1, limit: 5, offset: 0 });
    expect(list.body.threat_models[0]).toMatchObject({ id, name: 'Identity GQL', threat_count: 0, document_count: 0 });

    const byName = await rest.get('/threat_models?name=identity');
    expect(byName.body.threat_models.map((tm: { id: string }) => tm.id)).toEqual([id]);
    await rest.post('/threat_models', { name: 'Second for paging' });
    const page = await rest.get('/threat_models?limit=1&offset=1');
    expect(page.body.threat_models).toHaveLength(1);
    expect(page.body.total).toBeGreaterThanOrEqual(2);

    const connection = await gql(
      `{ threatModels(first: 10, filter: { issueUri: "acme/idp" }) { edges { node { id } } totalCount } }`,
    );
    expect(connection.errors).toBeUndefined();
    expect(connection.data.threatModels.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([id]);
  });

  it('replaces with PUT and patches with JSON Patch, bumping the version and honouring If-Match', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Patch me' });
    const put = await rest.put(`/threat_models/${tm.id}`, {
      name: 'Replaced',
      description: 'new',
      threat_model_framework: 'LINDDUN',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      name: 'Replaced',
      description: 'new',
      threat_model_framework: 'LINDDUN',
      version: 2,
    });

    const patched = await rest.patch(
      `/threat_models/${tm.id}`,
      [
        { op: 'test', path: '/version', value: 2 },
        { op: 'replace', path: '/name', value: 'Patched' },
        { op: 'replace', path: '/status', value: 'in_progress' },
        {
          op: 'add',
          path: '/authorization/-',
          value: { principal_type: 'group', provider: '*', provider_id: 'everyone', role: 'reader' },
        },
      ],
      { 'if-match': '"2"' },
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Patched', status: 'in_progress', version: 3 });
    expect(patched.body.authorization.at(-1)).toEqual({
      principal_type: 'group',
      provider: '*',
      provider_id: 'everyone',
      role: 'reader',
    });

    const stale = await rest.put(`/threat_models/${tm.id}`, { name: 'Lost update' }, { 'if-match': '2' });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('conflict');

    const gql = graphqlClient(server.baseUrl, owner.token);
    const viaGraphQL = await gql(
      `mutation($id: ID!, $ops: [JsonPatchOperationInput!]!) { patchThreatModel(id: $id, operations: $ops) { name version } }`,
      { id: tm.id, ops: [{ op: 'replace', path: '/threatModelFramework', value: 'PASTA' }] },
    );
    expect(viaGraphQL.errors).toBeUndefined();
    expect(viaGraphQL.data.patchThreatModel).toEqual({ name: 'Patched', version: 4 });
    expect((await rest.get(`/threat_models/${tm.id}`)).body.threat_model_framework).toBe('PASTA');
  });

  it('deletes on one face and the other face sees it gone', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Short-lived' });
    const gql = graphqlClient(server.baseUrl, owner.token);
    const deleted = await gql(`mutation($id: ID!) { deleteThreatModel(id: $id) }`, { id: tm.id });
    expect(deleted.data).toEqual({ deleteThreatModel: tm.id });
    const gone = await rest.get(`/threat_models/${tm.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ error: 'not_found' });
    const again = await rest.delete(`/threat_models/${tm.id}`);
    expect(again.status).toBe(404);
  });

  it('deleting a threat model removes everything under it, metadata of its children included', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Full of things' });
    const base = `/threat_models/${tm.id}`;
    const meta = { key: 'k', value: 'v' };
    const { body: asset } = await rest.post(`${base}/assets`, { name: 'DB', type: 'data' });
    const children = [
      asset,
      (await rest.post(`${base}/threats`, { name: 'T', threat_type: [], asset_id: asset.id, metadata: [meta] })).body,
      (await rest.post(`${base}/documents`, { name: 'D', uri: 'https://example.com/d' })).body,
      (await rest.post(`${base}/notes`, { name: 'N', content: 'c' })).body,
      (await rest.post(`${base}/repositories`, { uri: 'https://example.com/r.git' })).body,
    ];
    const kinds = ['assets', 'threats', 'documents', 'notes', 'repositories'];
    for (const [index, kind] of kinds.entries()) {
      if (kind !== 'threats')
        expect((await rest.post(`${base}/${kind}/${children[index].id}/metadata`, meta)).status).toBe(201);
    }
    await rest.post(`${base}/metadata`, meta);

    expect((await rest.delete(base)).status).toBe(204);
    const prisma = server.deps.db.prisma;
    const ids = children.map((child) => child.id as string);
    const remaining = await Promise.all([
      prisma.threatModel.count({ where: { id: tm.id } }),
      prisma.threatModelMetadata.count({ where: { threatModelId: tm.id } }),
      prisma.asset.count({ where: { threatModelId: tm.id } }),
      prisma.threat.count({ where: { threatModelId: tm.id } }),
      prisma.document.count({ where: { threatModelId: tm.id } }),
      prisma.note.count({ where: { threatModelId: tm.id } }),
      prisma.repository.count({ where: { threatModelId: tm.id } }),
      prisma.assetMetadata.count({ where: { assetId: { in: ids } } }),
      prisma.threatMetadata.count({ where: { threatId: { in: ids } } }),
      prisma.documentMetadata.count({ where: { documentId: { in: ids } } }),
      prisma.noteMetadata.count({ where: { noteId: { in: ids } } }),
      prisma.repositoryMetadata.count({ where: { repositoryId: { in: ids } } }),
      prisma.threatModelAliasCounter.count({ where: { threatModelId: tm.id } }),
    ]);
    expect(remaining).toEqual(remaining.map(() => 0));
    for (const [index, kind] of kinds.entries()) {
      expect((await rest.get(`${base}/${kind}/${children[index].id}`)).status).toBe(404);
    }
  });
});

describe('security reviewer', () => {
  it('an owner assigns a reviewer by PATCH; the reviewer holds the owner role while assigned', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body: tm } = await rest.post('/threat_models', {
      name: 'Reviewed',
      authorization: [userEntry(writer, 'writer')],
    });
    const reviewerPrincipal = { principal_type: 'user', provider: 'tmi', provider_id: reader.providerId };

    const asWriter = restClient(server.baseUrl, writer.token);
    const refused = await asWriter.patch(`/threat_models/${tm.id}`, [
      { op: 'replace', path: '/security_reviewer', value: reviewerPrincipal },
    ]);
    expect(refused.status).toBe(403);

    const assigned = await rest.patch(`/threat_models/${tm.id}`, [
      { op: 'replace', path: '/security_reviewer', value: reviewerPrincipal },
    ]);
    expect(assigned.status).toBe(200);
    expect(assigned.body.security_reviewer).toMatchObject({ provider_id: reader.providerId, email: reader.email });
    expect(
      assigned.body.authorization.map((a: { provider_id: string; role: string }) => [a.provider_id, a.role]),
    ).toEqual([
      [owner.providerId, 'owner'],
      [reader.providerId, 'owner'],
      [writer.providerId, 'writer'],
    ]);
    // While assigned, the reviewer's owner role cannot be taken away.
    const demoted = await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/authorization', value: [] }]);
    expect(demoted.body.authorization.map((a: { provider_id: string }) => a.provider_id)).toEqual([
      owner.providerId,
      reader.providerId,
    ]);
    const asReviewer = restClient(server.baseUrl, reader.token);
    expect(
      (await asReviewer.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Reviewed!' }]))
        .status,
    ).toBe(200);

    const unknown = await rest.patch(`/threat_models/${tm.id}`, [
      {
        op: 'replace',
        path: '/security_reviewer',
        value: { principal_type: 'user', provider: 'tmi', provider_id: 'nobody-here' },
      },
    ]);
    expect(unknown.status).toBe(400);

    const unassigned = await rest.patch(`/threat_models/${tm.id}`, [
      { op: 'replace', path: '/security_reviewer', value: null },
    ]);
    expect(unassigned.status).toBe(200);
    expect(unassigned.body.security_reviewer).toBeUndefined();
  });
});

describe('authorization matrix', () => {
  let id: string;
  beforeAll(async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body } = await rest.post('/threat_models', {
      name: 'Shared',
      authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
    });
    id = body.id;
  });

  const cases: [string, () => TestUser, { read: number; write: number; share: number; delete: number }][] = [
    ['owner', () => owner, { read: 200, write: 200, share: 200, delete: 204 }],
    ['writer', () => writer, { read: 200, write: 200, share: 403, delete: 403 }],
    ['reader', () => reader, { read: 200, write: 403, share: 403, delete: 403 }],
    ['stranger', () => stranger, { read: 403, write: 403, share: 403, delete: 403 }],
  ];

  for (const [role, user, expected] of cases.reverse()) {
    it(`${role}: REST and GraphQL agree on read, write, share and delete`, async () => {
      const rest = restClient(server.baseUrl, user().token);
      const gql = graphqlClient(server.baseUrl, user().token);
      const before = await rowVersion(id);

      const read = await rest.get(`/threat_models/${id}`);
      const gRead = await gql(`query($id: ID!) { threatModel(id: $id) { id } }`, { id });
      expect(read.status).toBe(expected.read);
      expect(gRead.errors?.[0]?.extensions?.status ?? 200).toBe(expected.read);

      const write = await rest.patch(`/threat_models/${id}`, [
        { op: 'replace', path: '/description', value: `by ${role}` },
      ]);
      expect(write.status).toBe(expected.write);
      const gWrite = await gql(
        `mutation($id: ID!) { patchThreatModel(id: $id, operations: [{op: "replace", path: "/description", value: "g"}]) { id } }`,
        { id },
      );
      expect(gWrite.errors?.[0]?.extensions?.status ?? 200).toBe(expected.write);
      if (expected.write !== 200) {
        expect(write.body).toMatchObject({ error: 'access_denied', details: { code: 'INSUFFICIENT_PERMISSIONS' } });
        expect(gWrite.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');
        expect(await rowVersion(id)).toEqual(before);
      }

      const share = await rest.patch(`/threat_models/${id}`, [
        {
          op: 'add',
          path: '/authorization/-',
          value: { principal_type: 'user', provider: 'tmi', provider_id: `x-${role}`, role: 'reader' },
        },
      ]);
      expect(share.status).toBe(expected.share);

      const del = await rest.delete(`/threat_models/${id}`);
      expect(del.status).toBe(expected.delete);
    });
  }

  it('the everyone group lets any signed-in user read, and lists show only what one may see', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const { body: open } = await rest.post('/threat_models', {
      name: 'Open to all',
      authorization: [{ principal_type: 'group', provider: '*', provider_id: 'everyone', role: 'reader' }],
    });
    const outsider = await signIn(server, 'outsider1');
    const asOutsider = restClient(server.baseUrl, outsider.token);
    expect((await asOutsider.get(`/threat_models/${open.id}`)).status).toBe(200);
    expect(
      (await asOutsider.patch(`/threat_models/${open.id}`, [{ op: 'replace', path: '/name', value: 'x' }])).status,
    ).toBe(403);
    const list = await asOutsider.get('/threat_models');
    const visible = list.body.threat_models.map((tm: { id: string }) => tm.id);
    expect(visible).toContain(open.id);
    expect(visible).not.toContain(id);
    const nobody = await signIn(server, 'nobody1');
    const empty = await graphqlClient(
      server.baseUrl,
      nobody.token,
    )(`{ threatModels(first: 5, filter: { name: "Shared" }) { totalCount } }`);
    expect(empty.data.threatModels.totalCount).toBe(0);
  });
});

describe('bad input changes nothing and gets a TMI error', () => {
  let id: string;
  beforeAll(async () => {
    const { body } = await restClient(server.baseUrl, owner.token).post('/threat_models', { name: 'Stable' });
    id = body.id;
  });

  it.each([
    ['malformed JSON', { rawBody: '{"name": ', contentType: 'application/json' }, 400, 'invalid_input'],
    ['wrong type', { body: { name: 42 } }, 400, 'invalid_input'],
    ['unknown field', { body: { name: 'x', owner_id: 'y' } }, 400, 'invalid_input'],
    ['empty name', { body: { name: '' } }, 400, 'invalid_input'],
    // Allowed by TMI's input schema, but its ThreatModel representation could not carry it back.
    ['name with an apostrophe', { body: { name: "Bob's model" } }, 400, 'invalid_input'],
    ['name with markup', { body: { name: '<b>x</b>' } }, 400, 'invalid_input'],
    ['bad issue_uri', { body: { name: 'x', issue_uri: 'javascript:alert(1)' } }, 400, 'invalid_input'],
    ['wrong content type', { rawBody: 'name=x', contentType: 'text/plain' }, 415, 'unsupported_media_type'],
  ])('PUT with %s', async (_label, options, status, error) => {
    const before = await rowVersion(id);
    const rest = restClient(server.baseUrl, owner.token);
    const response = await rest.request('PUT', `/threat_models/${id}`, options as never);
    expect(response.status).toBe(status);
    expect(response.body.error).toBe(error);
    expect(typeof response.body.error_description).toBe('string');
    expect(await rowVersion(id)).toEqual(before);
  });

  it.each([
    ['not an array', { op: 'replace', path: '/name', value: 'x' }],
    ['unknown op', [{ op: 'frobnicate', path: '/name', value: 'x' }]],
    ['missing target', [{ op: 'remove', path: '/nothing/here' }]],
    ['read-only field', [{ op: 'replace', path: '/id', value: '00000000-0000-0000-0000-000000000000' }]],
    ['read-only created_at', [{ op: 'replace', path: '/created_at', value: '2020-01-01T00:00:00Z' }]],
    [
      'failing test op',
      [
        { op: 'test', path: '/name', value: 'Other' },
        { op: 'replace', path: '/name', value: 'x' },
      ],
    ],
    ['invalid result', [{ op: 'replace', path: '/name', value: '' }]],
    [
      'bad role',
      [
        {
          op: 'add',
          path: '/authorization/-',
          value: { principal_type: 'user', provider: 'tmi', provider_id: 'z', role: 'god' },
        },
      ],
    ],
  ])('PATCH with %s', async (_label, operations) => {
    const before = await rowVersion(id);
    const response = await restClient(server.baseUrl, owner.token).patch(`/threat_models/${id}`, operations);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_input');
    expect(await rowVersion(id)).toEqual(before);
  });

  it('validation errors name the fields as REST callers sent them', async () => {
    const response = await restClient(server.baseUrl, owner.token).put(`/threat_models/${id}`, {
      name: 'ok',
      threat_model_framework: 'not valid!',
    });
    expect(response.status).toBe(400);
    expect(response.body.details.context.field_errors).toEqual([
      { field: 'threat_model_framework', error: expect.any(String) },
    ]);
    expect(response.body.error_description).toContain('threat_model_framework:');
  });

  it('oversized bodies get 413', async () => {
    const response = await restClient(server.baseUrl, owner.token).request('POST', '/threat_models', {
      rawBody: JSON.stringify({ name: 'big', description: 'x'.repeat(2_000_000) }),
      validate: false,
    });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ error: 'payload_too_large' });
  });

  it('unknown and malformed ids, missing and bad tokens', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    const unknown = await rest.get('/threat_models/6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40');
    expect(unknown.status).toBe(404);
    const malformed = await rest.get('/threat_models/not-a-uuid');
    expect(malformed.status).toBe(400);
    const gqlMalformed = await graphqlClient(server.baseUrl, owner.token)(`{ threatModel(id: "not-a-uuid") { id } }`);
    expect(gqlMalformed.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');

    const anonymous = await restClient(server.baseUrl).get(`/threat_models/${id}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('unauthorized');
    const forged = await restClient(server.baseUrl, `${owner.token.slice(0, -4)}AAAA`).get(`/threat_models/${id}`);
    expect(forged.status).toBe(401);
    const gqlAnonymous = await graphqlClient(server.baseUrl)(`{ threatModel(id: "${id}") { id } }`);
    expect(gqlAnonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
