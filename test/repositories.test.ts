import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

let server: TestServer;
let owner: TestUser;
let reader: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'repo-owner');
  reader = await signIn(server, 'repo-reader');
});
afterAll(async () => server?.close());

async function newThreatModel(): Promise<string> {
  const { body } = await restClient(server.baseUrl, owner.token).post('/threat_models', {
    name: 'With repositories',
    authorization: [userEntry(reader, 'reader')],
  });
  return body.id;
}

const source = {
  name: 'payment-service',
  type: 'git',
  uri: 'https://github.com/example/payment-service',
  parameters: { refType: 'branch', refValue: 'main', subPath: 'services/pay' },
};

describe('repositories', () => {
  it('create, list, read, replace, patch, bulk and delete; parameters keep TMI’s camelCase keys', async () => {
    const tm = await newThreatModel();
    const rest = restClient(server.baseUrl, owner.token);
    const created = await rest.post(`/threat_models/${tm}/repositories`, source);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...source, alias: 1, include_in_report: true, timmy_enabled: true });

    const bulk = await rest.request('POST', `/threat_models/${tm}/repositories/bulk`, {
      body: [{ uri: 'https://svn.example.com/legacy', type: 'svn' }, { uri: 'https://hg.example.com/tools' }],
    });
    expect(bulk.status).toBe(201);
    expect(bulk.body.map((repository: { alias: number }) => repository.alias)).toEqual([2, 3]);

    const list = await rest.get(`/threat_models/${tm}/repositories?limit=2`);
    expect(list.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(list.body.repositories).toHaveLength(2);

    const id = created.body.id;
    const replaced = await rest.put(`/threat_models/${tm}/repositories/${id}`, {
      uri: 'https://github.com/example/pay2',
    });
    expect(replaced.body).toMatchObject({ uri: 'https://github.com/example/pay2', include_in_report: true });
    expect(replaced.body).not.toHaveProperty('parameters');
    const patched = await rest.patch(`/threat_models/${tm}/repositories/${id}`, [
      { op: 'add', path: '/parameters', value: { refType: 'tag', refValue: 'v1.2.0' } },
    ]);
    expect(patched.body.parameters).toEqual({ refType: 'tag', refValue: 'v1.2.0' });

    const updated = await rest.request('PUT', `/threat_models/${tm}/repositories/bulk`, {
      body: [{ id: bulk.body[0].id, uri: 'https://svn.example.com/legacy2', type: 'svn' }],
    });
    expect(updated.status).toBe(200);
    expect(updated.body[0]).toMatchObject({ uri: 'https://svn.example.com/legacy2', alias: 2 });

    const gql = await graphqlClient(server.baseUrl, reader.token)(
      `query($tm: ID!, $id: ID!) { repository(threatModelId: $tm, id: $id) { parameters type } threatModel(id: $tm) { repoCount } }`,
      { tm, id },
    );
    expect(gql.data).toEqual({
      repository: { parameters: { refType: 'tag', refValue: 'v1.2.0' }, type: null },
      threatModel: { repoCount: 3 },
    });
    expect((await rest.get(`/threat_models/${tm}`)).body.repositories).toHaveLength(3);

    const base = `/threat_models/${tm}/repositories/${id}/metadata`;
    expect((await rest.post(base, { key: 'scanner', value: 'semgrep' })).status).toBe(201);
    expect((await rest.get(base)).body).toEqual([{ key: 'scanner', value: 'semgrep' }]);

    expect((await rest.delete(`/threat_models/${tm}/repositories/${id}`)).status).toBe(204);
    expect((await rest.get(`/threat_models/${tm}/repositories/${id}`)).status).toBe(404);
  });

  it.each([
    ['missing uri', { name: 'x' }],
    ['bad type', { uri: 'https://x.example/r', type: 'cvs' }],
    ['bad parameters', { uri: 'https://x.example/r', parameters: { refType: 'branch' } }],
    ['unknown parameter', { uri: 'https://x.example/r', parameters: { refType: 'tag', refValue: 'v1', depth: 1 } }],
  ])('rejects %s with 400 and stores nothing', async (_label, body) => {
    const tm = await newThreatModel();
    const response = await restClient(server.baseUrl, owner.token).post(`/threat_models/${tm}/repositories`, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_input');
    expect(await server.deps.db.prisma.repository.count({ where: { threatModelId: tm } })).toBe(0);
  });

  it('readers cannot change repositories', async () => {
    const tm = await newThreatModel();
    const response = await restClient(server.baseUrl, reader.token).post(`/threat_models/${tm}/repositories`, source);
    expect(response.status).toBe(403);
    expect(await server.deps.db.prisma.repository.count({ where: { threatModelId: tm } })).toBe(0);
  });
});
