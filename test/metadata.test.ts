import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'meta-owner');
  writer = await signIn(server, 'meta-writer');
  reader = await signIn(server, 'meta-reader');
  stranger = await signIn(server, 'meta-stranger');
});
afterAll(async () => server?.close());

async function newThreatModel(): Promise<string> {
  const { body } = await restClient(server.baseUrl, owner.token).post('/threat_models', {
    name: 'With metadata',
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  return body.id;
}

async function storedKeys(threatModelId: string): Promise<Record<string, string>> {
  const rows = await server.deps.db.prisma.threatModelMetadata.findMany({ where: { threatModelId } });
  return Object.fromEntries(rows.map(({ key, value }) => [key, value]));
}

describe('threat model metadata', () => {
  it('create, read, update and delete by key over REST, seen by GraphQL', async () => {
    const id = await newThreatModel();
    const rest = restClient(server.baseUrl, writer.token);
    const created = await rest.post(`/threat_models/${id}/metadata`, { key: 'jira/issue', value: 'SEC-1' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ key: 'jira/issue', value: 'SEC-1' });

    const duplicate = await rest.post(`/threat_models/${id}/metadata`, { key: 'jira/issue', value: 'SEC-2' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toBe('conflict');

    expect((await rest.get(`/threat_models/${id}/metadata/jira%2Fissue`)).body).toEqual({
      key: 'jira/issue',
      value: 'SEC-1',
    });
    const updated = await rest.put(`/threat_models/${id}/metadata/jira%2Fissue`, { value: 'SEC-3' });
    expect(updated.body).toEqual({ key: 'jira/issue', value: 'SEC-3' });
    expect((await rest.put(`/threat_models/${id}/metadata/missing`, { value: 'x' })).status).toBe(404);

    const gql = graphqlClient(server.baseUrl, reader.token);
    const seen = await gql(
      `query($id: ID!) { metadata(target: { threatModelId: $id, entityType: THREAT_MODEL }) { key value } threatModel(id: $id) { metadata { key value } } }`,
      { id },
    );
    expect(seen.data.metadata).toEqual([{ key: 'jira/issue', value: 'SEC-3' }]);
    expect(seen.data.threatModel.metadata).toEqual([{ key: 'jira/issue', value: 'SEC-3' }]);

    expect((await rest.delete(`/threat_models/${id}/metadata/jira%2Fissue`)).status).toBe(204);
    expect((await rest.get(`/threat_models/${id}/metadata/jira%2Fissue`)).status).toBe(404);
    expect((await rest.get(`/threat_models/${id}/metadata`)).body).toEqual([]);
  });

  it('bulk create is all or nothing; bulk PUT replaces; bulk PATCH merges', async () => {
    const id = await newThreatModel();
    const rest = restClient(server.baseUrl, owner.token);
    const created = await rest.request('POST', `/threat_models/${id}/metadata/bulk`, {
      body: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ],
    });
    expect(created.status).toBe(201);
    const conflicting = await rest.request('POST', `/threat_models/${id}/metadata/bulk`, {
      body: [
        { key: 'c', value: '3' },
        { key: 'a', value: 'again' },
      ],
    });
    expect(conflicting.status).toBe(409);
    expect(await storedKeys(id)).toEqual({ a: '1', b: '2' });

    const merged = await rest.request('PATCH', `/threat_models/${id}/metadata/bulk`, {
      body: [
        { key: 'b', value: 'two' },
        { key: 'c', value: '3' },
      ],
    });
    expect(merged.status).toBe(200);
    expect(merged.body).toEqual([
      { key: 'b', value: 'two' },
      { key: 'c', value: '3' },
    ]);
    expect(await storedKeys(id)).toEqual({ a: '1', b: 'two', c: '3' });

    const replaced = await rest.request('PUT', `/threat_models/${id}/metadata/bulk`, {
      body: [{ key: 'z', value: '26' }],
    });
    expect(replaced.body).toEqual([{ key: 'z', value: '26' }]);
    expect(await storedKeys(id)).toEqual({ z: '26' });
    const cleared = await rest.request('PUT', `/threat_models/${id}/metadata/bulk`, { body: [] });
    expect(cleared.body).toEqual([]);

    const events = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: id, objectType: 'metadata' },
      orderBy: { sequence: 'asc' },
    });
    expect(events.map((event) => `${event.eventType}:${(event.data as { key: string }).key}`)).toEqual([
      'metadata.created:a',
      'metadata.created:b',
      'metadata.updated:b',
      'metadata.created:c',
      'metadata.deleted:a',
      'metadata.deleted:b',
      'metadata.deleted:c',
      'metadata.created:z',
      'metadata.deleted:z',
    ]);
  });

  it.each([
    ['bad key', { key: 'has space', value: 'x' }],
    ['empty value', { key: 'k', value: '' }],
    ['too long value', { key: 'k', value: 'v'.repeat(1025) }],
    ['unknown field', { key: 'k', value: 'v', extra: 1 }],
    ['missing value', { key: 'k' }],
  ])('rejects %s with 400 and stores nothing', async (_label, body) => {
    const id = await newThreatModel();
    const response = await restClient(server.baseUrl, owner.token).post(`/threat_models/${id}/metadata`, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_input');
    expect(await storedKeys(id)).toEqual({});
  });

  it('bulk limits: more than 20 entries, or duplicate keys, are refused', async () => {
    const id = await newThreatModel();
    const rest = restClient(server.baseUrl, owner.token);
    const tooMany = Array.from({ length: 21 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    expect((await rest.request('PATCH', `/threat_models/${id}/metadata/bulk`, { body: tooMany })).status).toBe(400);
    const duplicates = [
      { key: 'k', value: '1' },
      { key: 'k', value: '2' },
    ];
    expect((await rest.request('POST', `/threat_models/${id}/metadata/bulk`, { body: duplicates })).status).toBe(400);
    expect(await storedKeys(id)).toEqual({});
  });

  it('readers read, writers write, strangers get 403 and unknown threat models 404 — on both faces', async () => {
    const id = await newThreatModel();
    await restClient(server.baseUrl, owner.token).post(`/threat_models/${id}/metadata`, { key: 'k', value: 'v' });
    const asReader = restClient(server.baseUrl, reader.token);
    expect((await asReader.get(`/threat_models/${id}/metadata`)).status).toBe(200);
    expect((await asReader.post(`/threat_models/${id}/metadata`, { key: 'r', value: 'v' })).status).toBe(403);
    expect((await asReader.delete(`/threat_models/${id}/metadata/k`)).status).toBe(403);
    const readerGql = await graphqlClient(server.baseUrl, reader.token)(
      `mutation($id: ID!) { deleteMetadata(target: { threatModelId: $id, entityType: THREAT_MODEL }, key: "k") }`,
      { id },
    );
    expect(readerGql.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_PERMISSIONS');

    const asStranger = restClient(server.baseUrl, stranger.token);
    expect((await asStranger.get(`/threat_models/${id}/metadata`)).status).toBe(403);
    expect((await asStranger.get(`/threat_models/${id}/metadata/k`)).status).toBe(403);
    expect((await asStranger.get('/threat_models/6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40/metadata')).status).toBe(404);
    expect(await storedKeys(id)).toEqual({ k: 'v' });
  });

  it('documents carry their own metadata, on both faces, and it goes when the document goes', async () => {
    const id = await newThreatModel();
    const rest = restClient(server.baseUrl, writer.token);
    const { body: document } = await rest.post(`/threat_models/${id}/documents`, {
      name: 'Design',
      uri: 'https://docs.example.com/design',
    });
    const base = `/threat_models/${id}/documents/${document.id}/metadata`;
    expect((await rest.post(base, { key: 'owner', value: 'team-a' })).status).toBe(201);
    expect((await rest.post(base, { key: 'owner', value: 'team-b' })).status).toBe(409);
    const merged = await rest.request('PATCH', `${base}/bulk`, { body: [{ key: 'tier', value: '1' }] });
    expect(merged.body).toEqual([{ key: 'tier', value: '1' }]);
    expect((await rest.put(`${base}/owner`, { value: 'team-c' })).body).toEqual({ key: 'owner', value: 'team-c' });

    const gql = graphqlClient(server.baseUrl, reader.token);
    const seen = await gql(
      `query($tm: ID!, $doc: ID!) { metadata(target: { threatModelId: $tm, entityType: DOCUMENT, entityId: $doc }) { key value } }`,
      { tm: id, doc: document.id },
    );
    expect(seen.data.metadata).toEqual([
      { key: 'owner', value: 'team-c' },
      { key: 'tier', value: '1' },
    ]);
    // The threat model's own metadata is separate.
    expect((await rest.get(`/threat_models/${id}/metadata`)).body).toEqual([]);

    const asReader = restClient(server.baseUrl, reader.token);
    expect((await asReader.delete(`${base}/owner`)).status).toBe(403);
    expect(
      (await rest.get(`/threat_models/${id}/documents/6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40/metadata`)).status,
    ).toBe(404);

    expect((await rest.delete(`/threat_models/${id}/documents/${document.id}`)).status).toBe(204);
    expect(await server.deps.db.prisma.documentMetadata.count({ where: { documentId: document.id } })).toBe(0);
  });
});
