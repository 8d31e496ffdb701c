import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Assets of a threat model (TMI's /threat_models/{id}/assets) on both faces: TMI's fields and rules,
// classification as a set, all-or-nothing bulk create and upserting bulk PUT, optimistic locking,
// metadata, the threat model's view of its assets, threats that reference them, and events.

const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  403: 'access_denied',
  404: 'not_found',
  409: 'conflict',
};
const ASSET = `id threatModelId alias name description type criticality classification sensitivity includeInReport
  timmyEnabled metadata { key value } version createdAt modifiedAt`;
const OP = {
  asset: `query($tm: ID!, $id: ID!) { asset(threatModelId: $tm, id: $id) { ${ASSET} } }`,
  page: `query($tm: ID!, $limit: Int, $offset: Int) { assetPage(threatModelId: $tm, limit: $limit, offset: $offset) { items { ${ASSET} } total limit offset } }`,
  create: `mutation($tm: ID!, $input: AssetInput!) { createAsset(threatModelId: $tm, input: $input) { ${ASSET} } }`,
  update: `mutation($tm: ID!, $id: ID!, $input: AssetInput!, $v: Int) { updateAsset(threatModelId: $tm, id: $id, input: $input, expectedVersion: $v) { ${ASSET} } }`,
  patch: `mutation($tm: ID!, $id: ID!, $ops: [JsonPatchOperationInput!]!, $v: Int) { patchAsset(threatModelId: $tm, id: $id, operations: $ops, expectedVersion: $v) { ${ASSET} } }`,
  delete: `mutation($tm: ID!, $id: ID!) { deleteAsset(threatModelId: $tm, id: $id) }`,
  createMany: `mutation($tm: ID!, $inputs: [AssetInput!]!) { createAssets(threatModelId: $tm, inputs: $inputs) { ${ASSET} } }`,
  updateMany: `mutation($tm: ID!, $inputs: [AssetUpdateInput!]!) { updateAssets(threatModelId: $tm, inputs: $inputs) { ${ASSET} } }`,
};

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'asset-owner');
  writer = await signIn(server, 'asset-writer');
  reader = await signIn(server, 'asset-reader');
});
afterAll(async () => server?.close());

const restAs = (user: TestUser) => restClient(server.baseUrl, user.token);
const gqlAs = (user: TestUser) => graphqlClient(server.baseUrl, user.token);
const assets = (tm: string) => `/threat_models/${tm}/assets`;
const asset = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'data', ...extra });
const replaceName = (value: unknown) => [{ op: 'replace', path: '/name', value }];
const gqlError = (response: GraphQLResponse) => response.errors?.[0]?.extensions;
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** A GraphQL Asset as the REST face must show it: snake_case, nulls omitted. */
const asRest = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).flatMap(([k, v]) => (v === null ? [] : [[snake(k), v]])));

function expectError(response: RestResponse, status: number) {
  expect([response.status, response.body?.error], JSON.stringify(response.body)).toEqual([status, TMI_ERROR[status]]);
  expect(typeof response.body.error_description).toBe('string');
}

async function newThreatModel(name = 'With assets'): Promise<string> {
  const { body } = await restAs(owner).post('/threat_models', {
    name,
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  return body.id;
}

async function addAssets(tm: string, count: number): Promise<any[]> {
  const created = [];
  for (let i = 1; i <= count; i++) created.push((await restAs(owner).post(assets(tm), asset(`Asset ${i}`))).body);
  return created;
}

/**
 * An asset as created: server-generated fields and defaults, then the given fields. The REST face shows
 * `threat_model_id` on every asset (TMI's ExtendedAsset, as the threat model's `assets` must).
 */
const fresh = (tm: string, fields: object, alias: number) => ({
  ...{ id: UUID, threat_model_id: tm, version: 1, created_at: ISO, modified_at: ISO },
  ...{ include_in_report: true, timmy_enabled: true },
  ...{ classification: [], metadata: [] },
  ...{ ...fields, alias },
});

/** The stored rows (with their metadata): "nothing changed" means equal before and after. */
const stored = (threatModelId: string) =>
  server.deps.db.prisma.asset.findMany({
    where: { threatModelId },
    orderBy: { alias: 'asc' },
    include: { metadata: { orderBy: { key: 'asc' } } },
  });

describe('assets over REST', () => {
  it('creates, reads, lists, replaces, patches and deletes with exact TMI bodies', async () => {
    const tm = await newThreatModel();
    const rest = restAs(writer);
    const database = {
      name: 'Customer Database',
      type: 'data',
      description: 'Primary PostgreSQL database storing customer PII',
      criticality: 'high',
      classification: ['confidential', 'pii'],
      sensitivity: 'restricted',
      include_in_report: false,
      timmy_enabled: false,
    };
    const first = await rest.post(assets(tm), database);
    expect([first.status, first.body]).toEqual([201, fresh(tm, database, 1)]);
    const gateway = { name: 'API Gateway', type: 'software' };
    const second = await rest.post(assets(tm), gateway);
    expect([second.status, second.body]).toEqual([201, fresh(tm, gateway, 2)]);
    const [a, b] = [first.body, second.body];
    expect((await rest.get(`${assets(tm)}/${a.id}`)).body).toEqual(a);
    expect((await rest.get(assets(tm))).body).toEqual({ assets: [a, b], total: 2, limit: 20, offset: 0 });

    // PUT replaces: omitted fields take their defaults; id, alias, created_at stay.
    const replacement = { name: 'Gateway v2', type: 'infrastructure', criticality: 'low' };
    const put = await rest.put(`${assets(tm)}/${b.id}`, replacement);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ ...fresh(tm, replacement, 2), id: b.id, created_at: b.created_at, version: 2 });
    expect(Date.parse(put.body.modified_at)).toBeGreaterThanOrEqual(Date.parse(b.modified_at));
    const cleared = await rest.put(`${assets(tm)}/${a.id}`, { name: a.name, type: 'personnel' });
    expect(cleared.body).toEqual({ ...fresh(tm, { name: a.name, type: 'personnel' }, 1), id: a.id, version: 2 });
    expect(cleared.body).not.toHaveProperty('description');

    const patch = await rest.patch(`${assets(tm)}/${b.id}`, [
      { op: 'test', path: '/alias', value: 2 },
      { op: 'replace', path: '/type', value: 'service' },
      { op: 'add', path: '/sensitivity', value: 'internal' },
      { op: 'remove', path: '/criticality' },
      { op: 'replace', path: '/include_in_report', value: false },
    ]);
    expect(patch.status).toBe(200);
    const changed = { type: 'service', sensitivity: 'internal', criticality: undefined, include_in_report: false };
    expect(patch.body).toEqual({ ...put.body, ...changed, version: 3, modified_at: ISO });

    const deleted = await rest.delete(`${assets(tm)}/${a.id}`);
    expect([deleted.status, deleted.body]).toEqual([204, undefined]);
    expectError(await rest.get(`${assets(tm)}/${a.id}`), 404);
    expectError(await rest.delete(`${assets(tm)}/${a.id}`), 404);
    expect((await rest.get(assets(tm))).body).toEqual({ assets: [patch.body], total: 1, limit: 20, offset: 0 });
    // Aliases are never reused.
    expect((await rest.post(assets(tm), asset('After a delete'))).body.alias).toBe(3);
  });

  it('accepts every TMI asset type', async () => {
    const tm = await newThreatModel();
    const types = ['data', 'hardware', 'software', 'infrastructure', 'service', 'personnel'];
    const made = await Promise.all(types.map((type) => restAs(owner).post(assets(tm), asset(`A ${type}`, { type }))));
    expect(made.map((r) => [r.status, r.body.type])).toEqual(types.map((type) => [201, type]));
  });

  it('classification is a set: duplicates collapse on create, PUT and JSON Patch add', async () => {
    const tm = await newThreatModel();
    const rest = restAs(owner);
    const created = await rest.post(assets(tm), asset('Tagged', { classification: ['pii', 'gdpr', 'pii', 'gdpr'] }));
    expect([created.status, created.body.classification]).toEqual([201, ['pii', 'gdpr']]);
    const path = `${assets(tm)}/${created.body.id}`;
    const put = await rest.put(path, asset('Tagged', { classification: ['secret', 'pii', 'secret'] }));
    expect(put.body.classification).toEqual(['secret', 'pii']);
    const patched = await rest.patch(path, [{ op: 'add', path: '/classification/-', value: 'pii' }]);
    expect([patched.status, patched.body.classification, patched.body.version]).toEqual([200, ['secret', 'pii'], 3]);
    const added = await rest.patch(path, [{ op: 'add', path: '/classification/-', value: 'hipaa' }]);
    expect(added.body.classification).toEqual(['secret', 'pii', 'hipaa']);
    expect((await stored(tm))[0]!.classification).toEqual(['secret', 'pii', 'hipaa']);
    const many = await rest.request('POST', `${assets(tm)}/bulk`, {
      body: [asset('Bulk tagged', { classification: ['x', 'x', 'y'] })],
    });
    expect(many.body[0].classification).toEqual(['x', 'y']);
  });

  it('lists with limit, offset and total; include_deleted is accepted', async () => {
    const tm = await newThreatModel();
    const made = await addAssets(tm, 5);
    const rest = restAs(reader);
    expect((await rest.get(`${assets(tm)}?limit=2`)).body).toEqual({
      assets: made.slice(0, 2),
      total: 5,
      limit: 2,
      offset: 0,
    });
    expect((await rest.get(`${assets(tm)}?limit=2&offset=3`)).body).toEqual({
      assets: made.slice(3),
      total: 5,
      limit: 2,
      offset: 3,
    });
    expect((await rest.get(`${assets(tm)}?offset=9`)).body).toEqual({ assets: [], total: 5, limit: 20, offset: 9 });
    const withDeleted = await rest.get(`${assets(tm)}?include_deleted=true&limit=10`);
    expect([withDeleted.status, withDeleted.body]).toEqual([200, { assets: made, total: 5, limit: 10, offset: 0 }]);
    for (const query of ['limit=0', 'limit=101', 'offset=-1', 'limit=x', 'include_deleted=maybe']) {
      expectError(await rest.get(`${assets(tm)}?${query}`), 400);
    }
  });

  it('bulk create: up to 50 at once, all or nothing', async () => {
    const tm = await newThreatModel();
    const bulk = (body: unknown) => restAs(writer).request('POST', `${assets(tm)}/bulk`, { body });
    const [first, second] = [asset('A'), asset('B', { type: 'hardware', classification: ['c'], timmy_enabled: false })];
    const created = await bulk([first, second]);
    expect([created.status, created.body]).toEqual([201, [fresh(tm, first, 1), fresh(tm, second, 2)]]);
    const before = await stored(tm);

    const fiftyOne = Array.from({ length: 51 }, (_, i) => asset(`Many ${i}`));
    for (const body of [
      fiftyOne,
      [asset('C'), asset('D', { type: 'vehicle' })],
      [asset('C'), { name: 'no type' }],
      [asset('C'), asset('<script>')],
      [asset('C'), asset('D', { id: UNKNOWN })],
      asset('not an array'),
    ]) {
      expectError(await bulk(body), 400);
    }
    expect(await stored(tm)).toEqual(before);

    const fifty = await bulk(fiftyOne.slice(0, 50));
    expect(fifty.status).toBe(201);
    expect(fifty.body.map((a: { alias: number }) => a.alias)).toEqual(Array.from({ length: 50 }, (_, i) => i + 3));
    expect(await server.deps.db.prisma.asset.count({ where: { threatModelId: tm } })).toBe(52);
  });

  it('bulk PUT upserts: known ids are replaced, unknown ids created with that id; all or nothing; 200', async () => {
    const [tm, other] = [await newThreatModel(), await newThreatModel()];
    const [a, b] = await addAssets(tm, 2);
    const [elsewhere] = await addAssets(other, 1);
    const bulk = (body: unknown) => restAs(writer).request('PUT', `${assets(tm)}/bulk`, { body });
    const newId = randomUUID();

    const changes = { type: 'service', description: 'b', classification: ['k', 'k'], include_in_report: false };
    const upserted = await bulk([
      asset('A2', { id: a.id }),
      asset('New', { id: newId, type: 'hardware' }),
      asset('B2', { ...changes, id: b.id }),
    ]);
    expect(upserted.status).toBe(200); // TMI: "200 for PUT regardless of how many items were newly created"
    expect(upserted.body).toEqual([
      { ...a, name: 'A2', version: 2, modified_at: ISO },
      { ...fresh(tm, asset('New', { type: 'hardware' }), 3), id: newId },
      { ...b, ...changes, classification: ['k'], name: 'B2', version: 2, modified_at: ISO },
    ]);
    expect((await restAs(reader).get(`${assets(tm)}/${newId}`)).body).toEqual(upserted.body[1]);

    const before = await stored(tm);
    const otherBefore = await stored(other);
    // An id of another threat model's asset is a conflict, never a takeover or a copy.
    expectError(await bulk([asset('A3', { id: a.id }), asset('X', { id: elsewhere.id })]), 409);
    const fresher = randomUUID();
    for (const body of [
      [asset('A3', { id: a.id }), asset('no id')],
      [asset('A3', { id: a.id }), asset('bad type', { id: fresher, type: 'vehicle' })],
      [asset('A3', { id: a.id }), asset('A4', { id: a.id })],
      [asset('A3', { id: 'not-a-uuid' })],
      Array.from({ length: 51 }, (_, i) => asset(`U${i}`, { id: i === 0 ? a.id : randomUUID() })),
    ]) {
      expectError(await bulk(body), 400);
    }
    expect(await stored(tm)).toEqual(before);
    expect(await stored(other)).toEqual(otherBefore);
    expect(await server.deps.db.prisma.asset.findUnique({ where: { id: fresher } })).toBeNull();
  });

  it('optimistic locking: a stale If-Match, body version or expectedVersion is 409 and changes nothing', async () => {
    const tm = await newThreatModel();
    const [a] = await addAssets(tm, 1);
    const path = `${assets(tm)}/${a.id}`;
    const rest = restAs(owner);
    expect((await rest.put(path, asset('Locked v2'), { 'if-match': '"1"' })).body.version).toBe(2);
    const before = await stored(tm);
    expectError(await rest.put(path, asset('Lost'), { 'if-match': '1' }), 409);
    expectError(await rest.put(path, asset('Lost', { version: 1 })), 409);
    expectError(await rest.patch(path, replaceName('Lost'), { 'if-match': 'W/"1"' }), 409);
    const gql = gqlAs(owner);
    const stale = [
      await gql(OP.update, { tm, id: a.id, input: asset('Lost'), v: 1 }),
      await gql(OP.patch, { tm, id: a.id, ops: replaceName('Lost'), v: 1 }),
    ];
    for (const response of stale) expect(gqlError(response)).toMatchObject({ code: 'VERSION_CONFLICT', status: 409 });
    expect(await stored(tm)).toEqual(before);
    expect((await rest.put(path, asset('v3', { version: 2 }))).body).toMatchObject({ name: 'v3', version: 3 });
    expect((await rest.patch(path, replaceName('v4'), { 'if-match': '"3"' })).body.version).toBe(4);
    const current = await gql(OP.update, { tm, id: a.id, input: asset('v5'), v: 4 });
    expect(current.data.updateAsset).toMatchObject({ name: 'v5', version: 5 });
  });

  it('an asset is not found through another threat model; unknown and malformed ids are refused', async () => {
    const [tm, other] = [await newThreatModel(), await newThreatModel()];
    const [a] = await addAssets(tm, 1);
    const before = await stored(tm);
    const rest = restAs(owner);
    const through = `${assets(other)}/${a.id}`;
    expectError(await rest.get(through), 404);
    expectError(await rest.put(through, asset('Hijacked')), 404);
    expectError(await rest.patch(through, replaceName('Hijacked')), 404);
    expectError(await rest.delete(through), 404);
    expectError(await rest.get(`${assets(tm)}/${UNKNOWN}`), 404);
    expectError(await rest.get(assets(UNKNOWN)), 404);
    expectError(await rest.post(assets(UNKNOWN), asset('Orphan')), 404);
    expectError(await rest.get(`${assets(tm)}/not-a-uuid`), 400);
    expect(gqlError(await gqlAs(owner)(OP.asset, { tm: other, id: a.id }))).toMatchObject({
      code: 'RESOURCE_NOT_FOUND',
      status: 404,
    });
    expect(await stored(tm)).toEqual(before);
  });
});

describe('invalid asset input is 400 invalid_input and changes nothing', () => {
  let tm: string;
  let path: string;
  beforeAll(async () => {
    tm = await newThreatModel();
    path = `${assets(tm)}/${(await addAssets(tm, 1))[0].id}`;
  });

  it.each([
    ['missing type', { name: 'x' }],
    ['an unknown type', asset('x', { type: 'vehicle' })],
    ['an upper-case type', asset('x', { type: 'DATA' })],
    ['missing name', { type: 'data' }],
    ['empty name', asset('')],
    ['name over 256 characters', asset('n'.repeat(257))],
    ['name with <', asset('<b>DB</b>')],
    ['name with &', asset('R&D share')],
    ['description with >', asset('x', { description: 'a > b' })],
    ['description over 2048 characters', asset('x', { description: 'd'.repeat(2049) })],
    ['criticality with a control character', asset('x', { criticality: 'high\u0007' })],
    ['sensitivity over 128 characters', asset('x', { sensitivity: 's'.repeat(129) })],
    ['classification with 51 items', asset('x', { classification: Array.from({ length: 51 }, (_, i) => `c${i}`) })],
    ['a classification tag over 128 characters', asset('x', { classification: ['t'.repeat(129)] })],
    ['classification not an array', asset('x', { classification: 'pii' })],
    ['an unknown field', asset('x', { owner: 'me' })],
    ['read-only metadata', asset('x', { metadata: [{ key: 'k', value: 'v' }] })],
    ['read-only alias', asset('x', { alias: 7 })],
    ['wrong type of include_in_report', asset('x', { include_in_report: 'yes' })],
    ['an array', [asset('x')]],
  ])('POST and PUT with %s', async (_label, body) => {
    const before = await stored(tm);
    expectError(await restAs(owner).post(assets(tm), body), 400);
    expectError(await restAs(owner).put(path, body), 400);
    expect(await stored(tm)).toEqual(before);
  });

  it('classification with exactly 50 distinct tags is accepted', async () => {
    const tags = Array.from({ length: 50 }, (_, i) => `c${i}`);
    const created = await restAs(owner).post(assets(tm), asset('Fifty', { classification: tags }));
    expect([created.status, created.body.classification]).toEqual([201, tags]);
    await restAs(owner).delete(`${assets(tm)}/${created.body.id}`);
  });

  it.each([
    ['read-only metadata', [{ op: 'replace', path: '/metadata', value: [{ key: 'k', value: 'v' }] }]],
    ['read-only metadata (add to it)', [{ op: 'add', path: '/metadata/-', value: { key: 'k', value: 'v' } }]],
    ['read-only id', [{ op: 'replace', path: '/id', value: UNKNOWN }]],
    ['read-only alias', [{ op: 'replace', path: '/alias', value: 9 }]],
    ['read-only version', [{ op: 'replace', path: '/version', value: 9 }]],
    ['read-only created_at', [{ op: 'replace', path: '/created_at', value: '2020-01-01T00:00:00Z' }]],
    ['removing the type', [{ op: 'remove', path: '/type' }]],
    ['an unknown type', [{ op: 'replace', path: '/type', value: 'vehicle' }]],
    ['a name with <', replaceName('<x>')],
    [
      'a 51st classification tag',
      Array.from({ length: 51 }, (_, i) => ({ op: 'add', path: '/classification/-', value: `t${i}` })),
    ],
    ['an unknown field', [{ op: 'add', path: '/owner', value: 'x' }]],
    ['a failing test', [{ op: 'test', path: '/name', value: 'Other' }, ...replaceName('x')]],
  ])('PATCH with %s', async (_label, operations) => {
    const before = await stored(tm);
    expectError(await restAs(owner).patch(path, operations), 400);
    expect(await stored(tm)).toEqual(before);
  });

  it('GraphQL refuses the same input with VALIDATION_FAILED and the same TMI body', async () => {
    const before = await stored(tm);
    const bad = asset('x', { type: 'vehicle' });
    const [rest, gql] = [await restAs(owner).post(assets(tm), bad), await gqlAs(owner)(OP.create, { tm, input: bad })];
    expect(gqlError(gql)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(rest.body).toEqual(gqlError(gql)?.tmi);
    const many = await gqlAs(owner)(OP.createMany, { tm, inputs: [asset('ok'), asset('<no>')] });
    expect(gqlError(many)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(await stored(tm)).toEqual(before);
  });
});

describe('REST and GraphQL are one API', () => {
  it('asset, assetPage, createAssets, updateAssets and patchAsset see and make the same data', async () => {
    const tm = await newThreatModel();
    const [rest, gql] = [restAs(writer), gqlAs(writer)];
    const input = { name: 'From GraphQL', type: 'software', classification: ['a', 'b', 'a'], includeInReport: false };
    const created = await gql(OP.create, { tm, input });
    expect(created.errors).toBeUndefined();
    const g = created.data.createAsset;
    expect(g).toMatchObject({ ...input, classification: ['a', 'b'], threatModelId: tm, alias: 1, version: 1 });
    expect(g).toMatchObject({ timmyEnabled: true, description: null, metadata: [] });
    expect((await rest.get(`${assets(tm)}/${g.id}`)).body).toEqual(asRest(g));

    const { body: r } = await rest.post(assets(tm), asset('From REST', { criticality: 'high', timmy_enabled: false }));
    expect(asRest((await gql(OP.asset, { tm, id: r.id })).data.asset)).toEqual(r);
    const page = (await gql(OP.page, { tm, limit: 1, offset: 1 })).data.assetPage;
    expect({ ...page, items: page.items.map(asRest) }).toEqual({ items: [r], total: 2, limit: 1, offset: 1 });
    const listed = (await rest.get(assets(tm))).body.assets;
    expect((await gql(OP.page, { tm })).data.assetPage.items.map(asRest)).toEqual(listed);

    const ops = [
      { op: 'add', path: '/classification/-', value: 'a' },
      { op: 'add', path: '/classification/-', value: 'c' },
      { op: 'replace', path: '/includeInReport', value: true },
    ];
    const patched = (await gql(OP.patch, { tm, id: g.id, ops, v: 1 })).data.patchAsset;
    expect(patched).toMatchObject({ version: 2, includeInReport: true, classification: ['a', 'b', 'c'] });
    expect((await rest.get(`${assets(tm)}/${g.id}`)).body).toEqual(asRest(patched));
    const readOnly = await gql(OP.patch, {
      tm,
      id: g.id,
      ops: [{ op: 'replace', path: '/metadata', value: [{ key: 'k', value: 'v' }] }],
    });
    expect(gqlError(readOnly)).toMatchObject({ code: 'INVALID_PATCH', status: 400 });

    const many = (await gql(OP.createMany, { tm, inputs: [asset('M1'), asset('M2', { type: 'personnel' })] })).data
      .createAssets;
    expect(many.map((a: { alias: number; type: string }) => [a.alias, a.type])).toEqual([
      [3, 'data'],
      [4, 'personnel'],
    ]);
    const newId = randomUUID();
    const upserted = await gql(OP.updateMany, {
      tm,
      inputs: [asset('M1b', { id: many[0].id }), asset('Upserted', { id: newId, type: 'service' })],
    });
    expect(upserted.errors).toBeUndefined();
    expect(upserted.data.updateAssets).toMatchObject([
      { id: many[0].id, name: 'M1b', version: 2, alias: 3 },
      { id: newId, name: 'Upserted', version: 1, alias: 5, type: 'service' },
    ]);
    expect((await rest.get(`${assets(tm)}/${newId}`)).body).toEqual(asRest(upserted.data.updateAssets[1]));
    const invalid = await gql(OP.updateMany, {
      tm,
      inputs: [asset('M1c', { id: many[0].id }), asset('?', { id: many[1].id, type: 'vehicle' })],
    });
    expect(gqlError(invalid)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect((await rest.get(`${assets(tm)}/${many[0].id}`)).body.name).toBe('M1b');

    expect((await gql(OP.delete, { tm, id: g.id })).data).toEqual({ deleteAsset: g.id });
    expectError(await rest.get(`${assets(tm)}/${g.id}`), 404);
  });
});

describe('asset metadata', () => {
  it('create, read, update and delete by key and in bulk; the asset shows its metadata', async () => {
    const tm = await newThreatModel();
    const [a] = await addAssets(tm, 1);
    const meta = `${assets(tm)}/${a.id}/metadata`;
    const rest = restAs(writer);
    const created = await rest.post(meta, { key: 'owner', value: 'payments-team' });
    expect([created.status, created.body]).toEqual([201, { key: 'owner', value: 'payments-team' }]);
    expectError(await rest.post(meta, { key: 'owner', value: 'again' }), 409);
    expect((await rest.get(`${meta}/owner`)).body).toEqual({ key: 'owner', value: 'payments-team' });
    expect((await rest.put(`${meta}/owner`, { value: 'platform' })).body).toEqual({ key: 'owner', value: 'platform' });
    expectError(await rest.put(`${meta}/missing`, { value: 'x' }), 404);

    const bulk = (method: string, body: unknown) => rest.request(method, `${meta}/bulk`, { body });
    const added = await bulk('POST', [
      { key: 'tier', value: '1' },
      { key: 'cmdb', value: 'CI-42' },
    ]);
    // Bulk answers list the given entries in key order.
    expect([added.status, added.body]).toEqual([
      201,
      [
        { key: 'cmdb', value: 'CI-42' },
        { key: 'tier', value: '1' },
      ],
    ]);
    expectError(
      await bulk('POST', [
        { key: 'new', value: 'x' },
        { key: 'tier', value: '2' },
      ]),
      409,
    );
    const all = [
      { key: 'cmdb', value: 'CI-42' },
      { key: 'owner', value: 'platform' },
      { key: 'tier', value: '1' },
    ];
    expect((await rest.get(meta)).body).toEqual(all);
    // The asset's read-only metadata shows the entries (ordered by key) on both faces.
    expect((await rest.get(`${assets(tm)}/${a.id}`)).body).toEqual({ ...a, metadata: all });
    expect((await gqlAs(reader)(OP.asset, { tm, id: a.id })).data.asset.metadata).toEqual(all);

    const merged = await bulk('PATCH', [
      { key: 'tier', value: '2' },
      { key: 'region', value: 'eu' },
    ]);
    expect([merged.status, merged.body]).toEqual([
      200,
      [
        { key: 'region', value: 'eu' },
        { key: 'tier', value: '2' },
      ],
    ]);
    expect((await rest.get(meta)).body.map((e: { key: string }) => e.key)).toEqual(['cmdb', 'owner', 'region', 'tier']);
    const replaced = await bulk('PUT', [{ key: 'only', value: 'this' }]);
    expect([replaced.status, replaced.body]).toEqual([200, [{ key: 'only', value: 'this' }]]);
    expect((await rest.delete(`${meta}/only`)).status).toBe(204);
    expect((await rest.get(meta)).body).toEqual([]);
    expectError(await rest.get(`${meta}/only`), 404);
    expectError(await rest.get(`${assets(tm)}/${UNKNOWN}/metadata`), 404);

    // Readers read metadata but cannot change it.
    await rest.post(meta, { key: 'k', value: 'v' });
    const before = await stored(tm);
    expect((await restAs(reader).get(meta)).body).toEqual([{ key: 'k', value: 'v' }]);
    expectError(await restAs(reader).post(meta, { key: 'k2', value: 'v' }), 403);
    expectError(await restAs(reader).put(`${meta}/k`, { value: 'w' }), 403);
    expectError(await restAs(reader).delete(`${meta}/k`), 403);
    expect(await stored(tm)).toEqual(before);

    // Deleting the asset deletes its metadata.
    await rest.delete(`${assets(tm)}/${a.id}`);
    expect(await server.deps.db.prisma.assetMetadata.count({ where: { assetId: a.id } })).toBe(0);
  });
});

describe('assets belong to their threat model', () => {
  it('the threat model lists its assets and counts them; deleting it deletes them', async () => {
    const name = `Counted assets ${Date.now()}`;
    const tm = await newThreatModel(name);
    const [a, b] = await addAssets(tm, 2);
    const rest = restAs(owner);
    expect((await rest.get(`/threat_models/${tm}`)).body.assets).toEqual([a, b]);
    const listed = async () => (await rest.get(`/threat_models?name=${encodeURIComponent(name)}`)).body.threat_models;
    expect(await listed()).toMatchObject([{ id: tm, asset_count: 2 }]);
    await rest.delete(`${assets(tm)}/${a.id}`);
    expect(await listed()).toMatchObject([{ id: tm, asset_count: 1 }]);
    expect((await rest.get(`/threat_models/${tm}`)).body.assets).toEqual([b]);
    const counted = await gqlAs(owner)(`query($id: ID!) { threatModel(id: $id) { assetCount assetList { id } } }`, {
      id: tm,
    });
    expect(counted.data.threatModel).toEqual({ assetCount: 1, assetList: [{ id: b.id }] });

    expect((await rest.delete(`/threat_models/${tm}`)).status).toBe(204);
    expect(await server.deps.db.prisma.asset.count({ where: { threatModelId: tm } })).toBe(0);
  });

  it("deleting an asset a threat references clears the threat's asset_id", async () => {
    const tm = await newThreatModel();
    const [a, b] = await addAssets(tm, 2);
    const rest = restAs(owner);
    const threats = `/threat_models/${tm}/threats`;
    const onA = await rest.post(threats, {
      name: 'Data theft',
      threat_type: ['Information Disclosure'],
      asset_id: a.id,
    });
    const onB = await rest.post(threats, { name: 'Tampering', threat_type: ['Tampering'], asset_id: b.id });
    expect([onA.status, onA.body.asset_id, onB.body.asset_id]).toEqual([201, a.id, b.id]);

    expect((await rest.delete(`${assets(tm)}/${a.id}`)).status).toBe(204);
    const after = await rest.get(`${threats}/${onA.body.id}`);
    expect(after.status).toBe(200);
    expect(after.body).not.toHaveProperty('asset_id');
    // The threat changed: a new version, announced as threat.updated in the same transaction.
    const { asset_id: _released, ...unchanged } = onA.body;
    expect(after.body).toEqual({ ...unchanged, version: 2, modified_at: ISO });
    expect((await rest.get(`${threats}/${onB.body.id}`)).body).toEqual(onB.body);
    const threatEvents = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: tm, objectType: 'threat' },
      orderBy: { sequence: 'asc' },
    });
    expect(threatEvents.map((event) => [event.eventType, event.objectId])).toEqual([
      ['threat.created', onA.body.id],
      ['threat.created', onB.body.id],
      ['threat.updated', onA.body.id],
    ]);
    expect(threatEvents[2]!.data).toMatchObject({ id: onA.body.id, assetId: null, version: 2 });
    const rows = await server.deps.db.prisma.threat.findMany({
      where: { threatModelId: tm },
      orderBy: { alias: 'asc' },
    });
    expect(rows.map((row) => row.assetId)).toEqual([null, b.id]);
    // A threat cannot point at an asset that is gone.
    expectError(await rest.put(`${threats}/${onA.body.id}`, { name: 'x', threat_type: ['x'], asset_id: a.id }), 400);
  });

  it('records asset.created, updated and deleted events; refused changes record none', async () => {
    const tm = await newThreatModel();
    const rest = restAs(writer);
    const { body: a } = await rest.post(assets(tm), asset('Evented'));
    await rest.patch(`${assets(tm)}/${a.id}`, replaceName('Evented 2'));
    await rest.put(`${assets(tm)}/${a.id}`, asset('Evented 3'));
    expectError(await restAs(reader).post(assets(tm), asset('Refused')), 403);
    expectError(await rest.patch(`${assets(tm)}/${a.id}`, [{ op: 'replace', path: '/alias', value: 9 }]), 400);
    expectError(await rest.put(`${assets(tm)}/${a.id}`, asset('Stale', { version: 1 })), 409);
    await rest.delete(`${assets(tm)}/${a.id}`);
    const { body: pair } = await rest.request('POST', `${assets(tm)}/bulk`, { body: [asset('B1'), asset('B2')] });
    const newId = randomUUID();
    const { body: up } = await rest.request('PUT', `${assets(tm)}/bulk`, {
      body: [asset('B1b', { id: pair[0].id }), asset('U', { id: newId })],
    });
    expect(up.map((x: { id: string }) => x.id)).toEqual([pair[0].id, newId]);
    const events = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: tm, objectType: 'asset' },
      orderBy: { sequence: 'asc' },
    });
    expect(events.map((event) => [event.eventType, event.objectId])).toEqual([
      ['asset.created', a.id],
      ['asset.updated', a.id],
      ['asset.updated', a.id],
      ['asset.deleted', a.id],
      ['asset.created', pair[0].id],
      ['asset.created', pair[1].id],
      ['asset.updated', pair[0].id],
      ['asset.created', newId],
    ]);
    expect(events[1]).toMatchObject({ threatModelId: tm, actorId: writer.id });
    expect(events[1]!.data).toMatchObject({ id: a.id, name: 'Evented 2', type: 'data', version: 2 });
  });
});
