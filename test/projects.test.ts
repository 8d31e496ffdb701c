import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { assertResponseMatchesSpec } from './helpers/openapi.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// GET /projects: teams and projects are a later tier, but TMI's web client lists projects on the
// threat-model editor (`?limit=200`), so the list answers in TMI's shape, always empty for now.

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  user = await signIn(server, 'projects-user');
});
afterAll(async () => {
  await server?.close();
});

const PAGE = `query($filter: ProjectFilter, $limit: Int, $offset: Int) {
  projectPage(filter: $filter, limit: $limit, offset: $offset) { items { id name } total limit offset }
}`;

describe('GET /projects', () => {
  it('answers an empty page in TMI’s shape, echoing limit and offset (the web client’s ?limit=200)', async () => {
    const rest = restClient(server.baseUrl, user.token);
    expect(await rest.get('/projects?limit=200')).toMatchObject({
      status: 200,
      body: { projects: [], total: 0, limit: 200, offset: 0 },
    });
    expect((await rest.get('/projects')).body).toEqual({ projects: [], total: 0, limit: 20, offset: 0 });
    const filtered = await rest.get(
      '/projects?limit=1000&offset=40&name=gate&status=active,on_hold&team_id=6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40' +
        '&related_to=6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a41&relationship=superseded_by&transitive=true',
    );
    expect(filtered).toMatchObject({ status: 200, body: { projects: [], total: 0, limit: 1000, offset: 40 } });
  });

  it('refuses limits and offsets outside TMI’s ranges, and malformed filters, with 400 and TMI’s error body', async () => {
    const rest = restClient(server.baseUrl, user.token);
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=-5',
      'limit=abc',
      'limit=2.5',
      'offset=-1',
      'offset=x',
      'team_id=not-a-uuid',
      'relationship=cousin',
      'transitive=maybe',
      `name=${'n'.repeat(257)}`,
    ]) {
      const { status, body } = await rest.get(`/projects?${query}`);
      expect(status, query).toBe(400);
      expect(body, query).toMatchObject({ error: 'invalid_input', error_description: expect.any(String) });
    }
  });

  it('needs a signed-in caller (401)', async () => {
    const { status, body } = await restClient(server.baseUrl).get('/projects?limit=200');
    expect(status).toBe(401);
    expect(body.error).toBeTypeOf('string');
  });

  it('is the GraphQL query projectPage, which checks the page the same way', async () => {
    const gql = graphqlClient(server.baseUrl, user.token);
    expect((await gql(PAGE, { limit: 200 })).data).toEqual({
      projectPage: { items: [], total: 0, limit: 200, offset: 0 },
    });
    const refused = await gql(PAGE, { limit: 1001 });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    const noCaller = await graphqlClient(server.baseUrl)(PAGE, {});
    expect(noCaller.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('the shape checked against the contract holds a real project too', () => {
    // The list is always empty for now: make sure a filled page of the presented shape is TMI's as well.
    assertResponseMatchesSpec({
      method: 'GET',
      path: '/projects',
      status: 200,
      contentType: 'application/json',
      body: {
        projects: [
          {
            id: '660e8400-e29b-41d4-a716-446655440001',
            name: 'API Gateway Modernization',
            team_id: '550e8400-e29b-41d4-a716-446655440000',
            status: 'on_hold',
            created_at: '2025-02-01T09:00:00Z',
            note_count: 0,
          },
        ],
        total: 1,
        limit: 20,
        offset: 0,
      },
    });
  });
});
