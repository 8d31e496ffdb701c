import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Documents of a threat model (TMI's /threat_models/{id}/documents) on both faces: authorization inherited
// from the threat model, all-or-nothing bulk writes, optimistic locking, events and the query budget.

const URI = 'https://docs.example.com/security-requirements.pdf';
const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'access_denied',
  404: 'not_found',
  409: 'conflict',
};
const DOC = 'id threatModelId alias name description uri includeInReport timmyEnabled version createdAt modifiedAt';
const OP = {
  document: `query($tm: ID!, $id: ID!) { document(threatModelId: $tm, id: $id) { ${DOC} } }`,
  create: `mutation($tm: ID!, $input: DocumentInput!) { createDocument(threatModelId: $tm, input: $input) { ${DOC} } }`,
  update: `mutation($tm: ID!, $id: ID!, $input: DocumentInput!, $v: Int) { updateDocument(threatModelId: $tm, id: $id, input: $input, expectedVersion: $v) { ${DOC} } }`,
  patch: `mutation($tm: ID!, $id: ID!, $ops: [JsonPatchOperationInput!]!, $v: Int) { patchDocument(threatModelId: $tm, id: $id, operations: $ops, expectedVersion: $v) { ${DOC} } }`,
  delete: `mutation($tm: ID!, $id: ID!) { deleteDocument(threatModelId: $tm, id: $id) }`,
  createMany: `mutation($tm: ID!, $inputs: [DocumentInput!]!) { createDocuments(threatModelId: $tm, inputs: $inputs) { ${DOC} } }`,
  updateMany: `mutation($tm: ID!, $inputs: [DocumentUpdateInput!]!) { updateDocuments(threatModelId: $tm, inputs: $inputs) { ${DOC} } }`,
};

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'doc-owner');
  writer = await signIn(server, 'doc-writer');
  reader = await signIn(server, 'doc-reader');
  stranger = await signIn(server, 'doc-stranger');
  recordStatements();
});
afterAll(async () => server?.close());

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const docs = (tm: string) => `/threat_models/${tm}/documents`;
const doc = (name: string, extra: Record<string, unknown> = {}) => ({ name, uri: URI, ...extra });
const replaceName = (value: unknown) => [{ op: 'replace', path: '/name', value }];
const gqlError = (response: GraphQLResponse) => response.errors?.[0]?.extensions;
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** A GraphQL Document as the REST face must show it: snake_case, nulls omitted, no threat model id. */
const asRest = ({ threatModelId: _tm, ...fields }: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).flatMap(([k, v]) => (v === null ? [] : [[snake(k), v]])));

function expectError(response: RestResponse, status: number) {
  expect([response.status, response.body?.error], JSON.stringify(response.body)).toEqual([status, TMI_ERROR[status]]);
}

/** The two faces refused the same mistake alike: same status and code, and the same TMI body. */
function expectSameError(rest: RestResponse, gql: GraphQLResponse, code: string | undefined) {
  const extensions = gqlError(gql);
  expect(extensions?.status, JSON.stringify(gql)).toBeGreaterThanOrEqual(400);
  expectError(rest, extensions!.status!);
  expect(extensions?.code).toEqual(code ?? expect.any(String));
  expect(rest.body).toEqual(extensions?.tmi);
}

async function newThreatModel(name = 'With documents'): Promise<string> {
  const { body } = await restAs(owner).post('/threat_models', {
    name,
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  return body.id;
}

async function addDocuments(tm: string, count: number): Promise<any[]> {
  const created = [];
  for (let i = 1; i <= count; i++) created.push((await restAs(owner).post(docs(tm), doc(`Document ${i}`))).body);
  return created;
}

/** A document as created: server-generated fields and defaults, then the given fields. */
const fresh = (fields: object, alias: number) => ({
  ...{ id: UUID, version: 1, created_at: ISO, modified_at: ISO, include_in_report: true, timmy_enabled: true },
  ...{ ...fields, alias },
});

/** The stored rows: "nothing changed" means equal before and after. */
const stored = (threatModelId: string) =>
  server.deps.db.prisma.document.findMany({ where: { threatModelId }, orderBy: { alias: 'asc' } });

describe('documents over REST', () => {
  it('creates, reads, lists, replaces, patches and deletes with exact TMI bodies', async () => {
    const tm = await newThreatModel();
    const rest = restAs(writer);
    const requirements = doc('Security requirements', { description: 'What we must do' });
    const first = await rest.post(docs(tm), requirements);
    expect([first.status, first.body]).toEqual([201, fresh(requirements, 1)]);
    const runbook = { name: 'Runbook', uri: 'file:///srv/runbook.md', include_in_report: false, timmy_enabled: false };
    const second = await rest.post(docs(tm), runbook);
    expect([second.status, second.body]).toEqual([201, fresh(runbook, 2)]);
    const [a, b] = [first.body, second.body];
    expect((await rest.get(`${docs(tm)}/${a.id}`)).body).toEqual(a);
    expect((await rest.get(docs(tm))).body).toEqual({ documents: [a, b], total: 2, limit: 20, offset: 0 });
    const page = await rest.get(`${docs(tm)}?limit=1&offset=1`);
    expect(page.body).toEqual({ documents: [b], total: 2, limit: 1, offset: 1 });

    // PUT replaces: omitted fields take their defaults (the spec's `default: true`); id, alias, created_at stay.
    const replacement = { name: 'Runbook v2', uri: `${URI}?v=2` };
    const put = await rest.put(`${docs(tm)}/${b.id}`, replacement);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ ...fresh(replacement, 2), id: b.id, created_at: b.created_at, version: 2 });
    expect(Date.parse(put.body.modified_at)).toBeGreaterThanOrEqual(Date.parse(b.modified_at));

    const patch = await rest.patch(`${docs(tm)}/${a.id}`, [
      { op: 'test', path: '/alias', value: 1 },
      { op: 'replace', path: '/include_in_report', value: false },
      { op: 'remove', path: '/description' },
    ]);
    expect(patch.status).toBe(200);
    const changed = { include_in_report: false, description: undefined };
    expect(patch.body).toEqual({ ...a, ...changed, version: 2, modified_at: ISO });

    const deleted = await rest.delete(`${docs(tm)}/${a.id}`);
    expect([deleted.status, deleted.body]).toEqual([204, undefined]);
    expectError(await rest.get(`${docs(tm)}/${a.id}`), 404);
    expectError(await rest.delete(`${docs(tm)}/${a.id}`), 404);
    expect((await rest.get(docs(tm))).body).toEqual({ documents: [put.body], total: 1, limit: 20, offset: 0 });
  });

  it('numbers documents 1, 2, 3… per threat model, also when created concurrently, and never reuses one', async () => {
    const [tm, other] = [await newThreatModel(), await newThreatModel()];
    const rest = restAs(owner);
    const made = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => rest.post(docs(tm), doc(`Parallel ${i}`))));
    expect(made.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(made.map((r) => r.body.alias).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await rest.post(docs(other), doc('Elsewhere'))).body.alias).toBe(1);
    // The spec (Document.alias): "monotonically-increasing …, unique within the parent threat model".
    expect((await rest.delete(`${docs(tm)}/${made.find((r) => r.body.alias === 6)!.body.id}`)).status).toBe(204);
    expect((await rest.post(docs(tm), doc('After a delete'))).body.alias).toBe(7);
  });

  it('bulk create is all or nothing; bulk update changes listed documents of this threat model only', async () => {
    const [tm, other] = [await newThreatModel(), await newThreatModel()];
    const bulk = (method: 'POST' | 'PUT', body: unknown) => restAs(owner).request(method, `${docs(tm)}/bulk`, { body });
    const [first, second] = [doc('A'), doc('B', { description: 'b', include_in_report: false })];
    const created = await bulk('POST', [first, second]);
    expect(created.status).toBe(201);
    expect(created.body).toEqual([fresh(first, 1), fresh(second, 2)]);
    const before = await stored(tm);
    const twentyOne = Array.from({ length: 21 }, (_, i) => doc(`D${i}`));
    for (const body of [[doc('C'), doc('D', { uri: 'not a uri' })], [doc('C'), { uri: URI }], twentyOne, doc('C')]) {
      expectError(await bulk('POST', body), 400);
    }
    expect(await stored(tm)).toEqual(before);

    const [a, b] = created.body;
    const changes = { name: 'B2', description: 'b', include_in_report: false, timmy_enabled: false };
    const updated = await bulk('PUT', [doc('A2', { id: a.id }), doc('B2', { ...changes, id: b.id })]);
    expect(updated.status).toBe(201); // the spec documents 201 (and no 200) for PUT …/documents/bulk
    expect(updated.body).toEqual([
      { ...a, name: 'A2', version: 2, modified_at: ISO },
      { ...b, ...changes, version: 2, modified_at: ISO },
    ]);
    const [elsewhere] = await addDocuments(other, 1);
    const afterUpdate = await stored(tm);
    // An id of another threat model's document is a conflict, never a takeover.
    expectError(await bulk('PUT', [doc('A3', { id: a.id }), doc('X', { id: elsewhere.id })]), 409);
    expectError(await bulk('PUT', [doc('A3', { id: a.id }), doc('no id')]), 400);
    const mixed = twentyOne.map((d, i) => ({ ...d, id: i % 2 ? a.id : b.id }));
    expectError(await bulk('PUT', mixed), 400);
    expect(await stored(tm)).toEqual(afterUpdate);
    expect((await stored(other)).map((row) => [row.name, row.version])).toEqual([['Document 1', 1]]);

    // PUT …/bulk is an upsert: a new id creates the document with that id.
    const upserted = await bulk('PUT', [doc('A3', { id: a.id }), doc('New', { id: UNKNOWN })]);
    expect(upserted.status).toBe(201);
    expect(upserted.body[1]).toEqual({ ...fresh(doc('New'), 3), id: UNKNOWN });
    expect(upserted.body[0]).toMatchObject({ id: a.id, name: 'A3', version: 3 });
  });

  it('optimistic locking: a stale If-Match, body version or expectedVersion is 409 and changes nothing', async () => {
    const tm = await newThreatModel();
    const [d] = await addDocuments(tm, 1);
    const path = `${docs(tm)}/${d.id}`;
    const rest = restAs(owner);
    expect((await rest.put(path, doc('Locked v2'), { 'if-match': '"1"' })).body.version).toBe(2);
    const before = await stored(tm);
    expectError(await rest.put(path, doc('Lost'), { 'if-match': '1' }), 409);
    expectError(await rest.put(path, doc('Lost', { version: 1 })), 409);
    expectError(await rest.patch(path, replaceName('Lost'), { 'if-match': 'W/"1"' }), 409);
    const gql = gqlAs(owner);
    const stale = [
      await gql(OP.update, { tm, id: d.id, input: doc('Lost'), v: 1 }),
      await gql(OP.patch, { tm, id: d.id, ops: replaceName('Lost'), v: 1 }),
    ];
    for (const response of stale) expect(gqlError(response)).toMatchObject({ code: 'VERSION_CONFLICT', status: 409 });
    expect(await stored(tm)).toEqual(before);
    expect((await rest.put(path, doc('v3', { version: 2 }))).body).toMatchObject({ name: 'v3', version: 3 });
    expect((await rest.patch(path, replaceName('v4'), { 'if-match': '*' })).body.version).toBe(4);
    expect((await gql(OP.patch, { tm, id: d.id, ops: replaceName('v5'), v: 4 })).data.patchDocument.version).toBe(5);
  });

  it('a document is not found through another threat model; unknown and malformed ids are refused', async () => {
    const [tm, other] = [await newThreatModel(), await newThreatModel()];
    const [d] = await addDocuments(tm, 1);
    const before = await stored(tm);
    const rest = restAs(owner);
    const through = `${docs(other)}/${d.id}`;
    expectError(await rest.get(through), 404);
    expectError(await rest.put(through, doc('Hijacked')), 404);
    expectError(await rest.patch(through, replaceName('Hijacked')), 404);
    expectError(await rest.delete(through), 404);
    expectError(await rest.get(`${docs(tm)}/${UNKNOWN}`), 404);
    expectError(await rest.get(docs(UNKNOWN)), 404);
    expectError(await rest.post(docs(UNKNOWN), doc('Orphan')), 404);
    expectError(await rest.get(`${docs(tm)}/not-a-uuid`), 400);
    const viaOther = await gqlAs(owner)(OP.document, { tm: other, id: d.id });
    expect(gqlError(viaOther)).toMatchObject({ code: 'RESOURCE_NOT_FOUND', status: 404 });
    expect(await stored(tm)).toEqual(before);
  });
});

describe('invalid input is 400 invalid_input and changes nothing', () => {
  let tm: string;
  let path: string;
  beforeAll(async () => {
    tm = await newThreatModel();
    path = `${docs(tm)}/${(await addDocuments(tm, 1))[0].id}`;
  });

  it.each([
    ['missing name', { uri: URI }],
    ['empty name', doc('')],
    ['name over 256 characters', doc('n'.repeat(257))],
    ['name with markup', doc('<b>Specs</b>')],
    ['name with a quote', doc("Bob's notes")],
    ['missing uri', { name: 'x' }],
    ['uri without a scheme', doc('x', { uri: 'docs.example.com/a.pdf' })],
    ['javascript: uri', doc('x', { uri: 'javascript:alert(1)' })],
    ['uri over 1000 characters', doc('x', { uri: `https://example.com/${'a'.repeat(1000)}` })],
    ['description over 2048 characters', doc('x', { description: 'd'.repeat(2049) })],
    ['unknown field', doc('x', { content: '# inline' })],
    ['wrong type', doc('x', { include_in_report: 'yes' })],
    ['numeric name', doc(42 as never)],
    ['an array', [doc('x')]],
  ])('POST and PUT with %s', async (_label, body) => {
    const before = await stored(tm);
    for (const response of [await restAs(owner).post(docs(tm), body), await restAs(owner).put(path, body)]) {
      expectError(response, 400);
      expect(typeof response.body.error_description).toBe('string');
    }
    expect(await stored(tm)).toEqual(before);
  });

  it.each([
    ['read-only id', [{ op: 'replace', path: '/id', value: UNKNOWN }]],
    ['read-only alias', [{ op: 'replace', path: '/alias', value: 9 }]],
    ['read-only version', [{ op: 'replace', path: '/version', value: 9 }]],
    ['read-only created_at', [{ op: 'replace', path: '/created_at', value: '2020-01-01T00:00:00Z' }]],
    ['read-only modified_at', [{ op: 'replace', path: '/modified_at', value: '2020-01-01T00:00:00Z' }]],
    ['read-only threat_model_id', [{ op: 'replace', path: '/threat_model_id', value: UNKNOWN }]],
    ['removing the name', [{ op: 'remove', path: '/name' }]],
    ['an invalid uri', [{ op: 'replace', path: '/uri', value: 'nope' }]],
    ['an unknown field', [{ op: 'add', path: '/content', value: 'x' }]],
    ['a failing test', [{ op: 'test', path: '/name', value: 'Other' }, ...replaceName('x')]],
    ['not an array', replaceName('x')[0]],
  ])('PATCH with %s', async (_label, operations) => {
    const before = await stored(tm);
    expectError(await restAs(owner).patch(path, operations), 400);
    expect(await stored(tm)).toEqual(before);
  });
});

describe('authorization is inherited from the threat model', () => {
  it.each([
    ['owner', () => owner, { read: 200, create: 201, patch: 200, delete: 204 }],
    ['writer', () => writer, { read: 200, create: 201, patch: 200, delete: 204 }],
    ['reader', () => reader, { read: 200, create: 403, patch: 403, delete: 403 }],
    ['stranger', () => stranger, { read: 403, create: 403, patch: 403, delete: 403 }],
  ])('%s: read, create (both faces, bulk), patch and delete', async (_role, user, expected) => {
    const tm = await newThreatModel();
    const [d] = await addDocuments(tm, 1);
    const before = await stored(tm);
    const [rest, gql] = [restAs(user()), gqlAs(user())];
    expect((await rest.get(docs(tm))).status).toBe(expected.read);
    expect((await rest.get(`${docs(tm)}/${d.id}`)).status).toBe(expected.read);
    const page = await gql(`query($tm: ID!) { documentPage(threatModelId: $tm) { total } }`, { tm });
    expect(gqlError(page)?.status ?? 200).toBe(expected.read);

    const writes: [RestResponse, number][] = [
      [await rest.post(docs(tm), doc('Mine')), expected.create],
      [await rest.request('POST', `${docs(tm)}/bulk`, { body: [doc('Mine too')] }), expected.create],
      [await rest.patch(`${docs(tm)}/${d.id}`, replaceName('Mine')), expected.patch],
    ];
    for (const [response, status] of writes) {
      if (status === 403) expectError(response, 403);
      else expect(response.status).toBe(status);
    }
    const created = await gql(OP.create, { tm, input: doc('Mine') });
    expect(gqlError(created)?.code).toBe(expected.create === 403 ? 'INSUFFICIENT_PERMISSIONS' : undefined);
    if (expected.patch === 403) expect(await stored(tm)).toEqual(before);

    expect((await rest.delete(`${docs(tm)}/${d.id}`)).status).toBe(expected.delete);
    if (expected.delete === 403) expect(await stored(tm)).toEqual(before);
  });
});

describe('REST and GraphQL are one API', () => {
  it('created on one face, read and changed on the other: the same data', async () => {
    const tm = await newThreatModel();
    const [rest, gql] = [restAs(writer), gqlAs(writer)];
    const input = { name: 'From GraphQL', uri: URI, description: 'g', includeInReport: false };
    const created = await gql(OP.create, { tm, input });
    expect(created.errors).toBeUndefined();
    const g = created.data.createDocument;
    expect(g).toMatchObject({ ...input, threatModelId: tm, alias: 1, version: 1, timmyEnabled: true });
    expect((await rest.get(`${docs(tm)}/${g.id}`)).body).toEqual(asRest(g));

    const { body: r } = await rest.post(docs(tm), doc('From REST', { timmy_enabled: false }));
    expect(asRest((await gql(OP.document, { tm, id: r.id })).data.document)).toEqual(r);
    const read = await gql(
      `query($tm: ID!) { documentPage(threatModelId: $tm, limit: 1, offset: 1) { items { id } total limit offset }
        threatModel(id: $tm) { documentCount documents(first: 10) { totalCount edges { node { ${DOC} } } } } }`,
      { tm },
    );
    expect(read.data.documentPage).toEqual({ items: [{ id: r.id }], total: 2, limit: 1, offset: 1 });
    const { documentCount, documents } = read.data.threatModel;
    expect([documentCount, documents.totalCount]).toEqual([2, 2]);
    const listed = (await rest.get(docs(tm))).body.documents;
    expect(documents.edges.map((edge: { node: Record<string, unknown> }) => asRest(edge.node))).toEqual(listed);

    const ops = [
      { op: 'replace', path: '/includeInReport', value: true },
      { op: 'remove', path: '/description' },
    ];
    const patched = (await gql(OP.patch, { tm, id: g.id, ops, v: 1 })).data.patchDocument;
    expect(patched).toMatchObject({ version: 2, includeInReport: true, description: null });
    expect((await rest.get(`${docs(tm)}/${g.id}`)).body).toEqual(asRest(patched));

    const many = (await gql(OP.createMany, { tm, inputs: [doc('M1'), doc('M2')] })).data.createDocuments;
    expect(many.map((d: { alias: number }) => d.alias)).toEqual([3, 4]);
    const m1 = many[0].id;
    const updated = await gql(OP.updateMany, { tm, inputs: [doc('M1b', { id: m1 })] });
    expect(updated.data.updateDocuments).toMatchObject([{ id: m1, name: 'M1b', version: 2 }]);
    const invalid = await gql(OP.updateMany, {
      tm,
      inputs: [doc('M1c', { id: m1 }), doc('?', { id: UNKNOWN, uri: 'not a uri' })],
    });
    expect(gqlError(invalid)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect((await rest.get(`${docs(tm)}/${m1}`)).body).toEqual(asRest(updated.data.updateDocuments[0]));

    expect((await gql(OP.delete, { tm, id: g.id })).data).toEqual({ deleteDocument: g.id });
    expectError(await rest.get(`${docs(tm)}/${g.id}`), 404);
  });

  it('the same mistake gets the same status, TMI error and code on both faces', async () => {
    const tm = await newThreatModel();
    const [d] = await addDocuments(tm, 1);
    const path = `${docs(tm)}/${d.id}`;
    const bad = doc('x', { uri: 'nope' });
    const readOnly = [{ op: 'replace', path: '/alias', value: 5 }];
    type Call = (rest: ReturnType<typeof restAs>) => Promise<RestResponse>;
    const same = async (user: TestUser | undefined, viaRest: Call, op: string, vars: object, code?: string) =>
      expectSameError(await viaRest(restAs(user)), await gqlAs(user)(op, { tm, ...vars }), code);
    await same(stranger, (r) => r.get(path), OP.document, { id: d.id }, 'INSUFFICIENT_PERMISSIONS');
    await same(reader, (r) => r.post(docs(tm), doc('No')), OP.create, { input: doc('No') }, 'INSUFFICIENT_PERMISSIONS');
    await same(owner, (r) => r.get(`${docs(tm)}/${UNKNOWN}`), OP.document, { id: UNKNOWN }, 'RESOURCE_NOT_FOUND');
    await same(owner, (r) => r.post(docs(tm), bad), OP.create, { input: bad }, 'VALIDATION_FAILED');
    const stale = { id: d.id, input: doc('Stale'), v: 7 };
    await same(owner, (r) => r.put(path, doc('Stale'), { 'if-match': '7' }), OP.update, stale, 'VERSION_CONFLICT');
    // The code (INVALID_PATCH or VALIDATION_FAILED) is not part of the contract; it must be the same on both faces.
    await same(owner, (r) => r.patch(path, readOnly), OP.patch, { id: d.id, ops: readOnly });
    await same(undefined, (r) => r.get(path), OP.document, { id: d.id }, 'UNAUTHENTICATED');
    expect((await stored(tm)).map((row) => row.version)).toEqual([1]);
  });
});

describe('documents belong to their threat model', () => {
  it('the threat model shows and counts its documents; deleting it deletes them', async () => {
    const name = `Counted ${Date.now()}`;
    const tm = await newThreatModel(name);
    const [a, b] = await addDocuments(tm, 2);
    const rest = restAs(owner);
    expect((await rest.get(`/threat_models/${tm}`)).body.documents).toEqual([a, b]);
    const listed = async () => (await rest.get(`/threat_models?name=${encodeURIComponent(name)}`)).body.threat_models;
    expect(await listed()).toMatchObject([{ id: tm, document_count: 2 }]);
    await rest.delete(`${docs(tm)}/${a.id}`);
    expect(await listed()).toMatchObject([{ id: tm, document_count: 1 }]);

    expect((await rest.delete(`/threat_models/${tm}`)).status).toBe(204);
    expect(await server.deps.db.prisma.document.count({ where: { threatModelId: tm } })).toBe(0);
    expectError(await rest.get(`${docs(tm)}/${b.id}`), 404);
  });

  it('records document.created, updated and deleted events; refused changes record none', async () => {
    const tm = await newThreatModel();
    const rest = restAs(writer);
    const { body: d } = await rest.post(docs(tm), doc('Evented'));
    await rest.patch(`${docs(tm)}/${d.id}`, replaceName('Evented 2'));
    await rest.put(`${docs(tm)}/${d.id}`, doc('Evented 3'));
    expectError(await restAs(reader).post(docs(tm), doc('Refused')), 403);
    expectError(await rest.patch(`${docs(tm)}/${d.id}`, [{ op: 'replace', path: '/alias', value: 9 }]), 400);
    await rest.delete(`${docs(tm)}/${d.id}`);
    const { body: pair } = await rest.request('POST', `${docs(tm)}/bulk`, { body: [doc('B1'), doc('B2')] });
    const events = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: tm, objectType: 'document' },
      orderBy: { sequence: 'asc' },
    });
    expect(events.map((event) => [event.eventType, event.objectId])).toEqual([
      ['document.created', d.id],
      ['document.updated', d.id],
      ['document.updated', d.id],
      ['document.deleted', d.id],
      ['document.created', pair[0].id],
      ['document.created', pair[1].id],
    ]);
    expect(events[1]).toMatchObject({ threatModelId: tm, actorId: writer.id });
  });

  it('streams document events on the threatModelEvents subscription', async () => {
    const tm = await newThreatModel();
    const client = createClient({
      url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${reader.token}` },
      retryAttempts: 0,
    });
    try {
      const subscription = client.iterate<{ threatModelEvents: Record<string, string> }>({
        query: `subscription($id: ID!) { threatModelEvents(threatModelId: $id) { eventType objectType objectId } }`,
        variables: { id: tm },
      });
      const received: Record<string, string>[] = [];
      const collecting = (async () => {
        for await (const event of subscription) if (received.push(event.data!.threatModelEvents) === 3) break;
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { body: d } = await restAs(owner).post(docs(tm), doc('Watched'));
      await restAs(owner).patch(`${docs(tm)}/${d.id}`, replaceName('Watched 2'));
      await restAs(owner).delete(`${docs(tm)}/${d.id}`);
      await collecting;
      const expected = ['document.created', 'document.updated', 'document.deleted'];
      expect(received).toEqual(expected.map((eventType) => ({ eventType, objectType: 'document', objectId: d.id })));
    } finally {
      await client.dispose();
    }
  });
});

describe('query budget', () => {
  it('reading a threat model or its documents costs the same statements for 2 or 30 documents', async () => {
    const [small, large] = [await newThreatModel(), await newThreatModel()];
    await addDocuments(small, 2);
    await addDocuments(large, 30);
    const query = `query($id: ID!) { threatModel(id: $id) { documentCount documents(first: 50) { edges { node { id name } } } } }`;
    const reads: [string, (tm: string) => Promise<unknown>][] = [
      ['GET /threat_models/{id}', (tm) => restAs(owner).get(`/threat_models/${tm}`)],
      ['GET …/documents?limit=50', (tm) => restAs(owner).get(`${docs(tm)}?limit=50`)],
      ['GraphQL threatModel.documents', (tm) => gqlAs(owner)(query, { id: tm })],
    ];
    for (const [label, read] of reads) {
      const few = await countStatements(() => read(small));
      let body: unknown;
      const many = await countStatements(async () => (body = await read(large)));
      expect(JSON.stringify(body).match(/Document \d+/g), label).toHaveLength(30);
      expect([few > 0, many], label).toEqual([true, few]);
    }
  });
});

// As in test/query-budget.test.ts: record every statement run by a client checked out of the server's pool.
const statements: string[] = [];
function recordStatements() {
  const pool = server.deps.db.pool;
  const connect = pool.connect.bind(pool) as (...args: any[]) => any;
  const wrap = (client: any) => {
    if (client && !client.recorded) {
      const query = client.query.bind(client);
      client.recorded = true;
      client.query = (...args: any[]) => (statements.push(args[0]?.text ?? args[0]), query(...args));
    }
    return client;
  };
  pool.connect = ((callback?: any) =>
    callback
      ? connect((error: unknown, client: any, release: unknown) => callback(error, wrap(client), release))
      : connect().then(wrap)) as typeof pool.connect;
}

async function countStatements(action: () => Promise<unknown>): Promise<number> {
  statements.length = 0;
  await action();
  if (process.env.DEBUG_BUDGET) console.log(statements.map((sql) => sql.replace(/\s+/g, ' ').slice(0, 100)));
  return statements.filter((sql) => !/^\s*(BEGIN|COMMIT|ROLLBACK)/i.test(sql)).length;
}
