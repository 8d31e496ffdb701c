import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Plain JSON operations take a short path through Yoga's envelop pipeline; every other request goes
// through Yoga's full HTTP handling. Both must answer alike.

let server: TestServer;
let alice: TestUser;
let mallory: TestUser;
let id: string;

beforeAll(async () => {
  server = await startTestServer();
  alice = await signIn(server, 'http-alice');
  mallory = await signIn(server, 'http-mallory');
  id = (await restClient(server.baseUrl, alice.token).post('/threat_models', { name: 'Both paths' })).body.id;
});
afterAll(async () => server?.close());

async function post(token: string, body: unknown, accept: string) {
  const response = await fetch(`${server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const shortPath = 'application/json';
// Yoga answers this media type itself (the short path leaves it alone); statuses differ by design
// there (GraphQL over HTTP), so compare bodies, and statuses only between plain JSON requests.
const yogaPath = 'application/graphql-response+json';

describe('GraphQL over HTTP', () => {
  it.each([
    [
      'a query',
      () => ({ query: `query($id: ID!) { threatModel(id: $id) { id name owner { email } } }`, variables: { id } }),
    ],
    ['a forbidden read', () => ({ query: `{ threatModel(id: "${id}") { id } }`, token: mallory.token })],
    ['a validation failure', () => ({ query: `{ threatModel(id: "nope") { id } }` })],
    ['a schema error', () => ({ query: `{ noSuchField }` })],
    [
      'a mutation',
      () => ({
        query: `mutation { patchThreatModel(id: "${id}", operations: [{op: "test", path: "/name", value: "Both paths"}]) { name } }`,
      }),
    ],
  ])('%s answers the same on both paths', async (_label, make) => {
    const { token, ...body } = { token: alice.token, ...make() };
    const fast = await post(token, body, shortPath);
    const full = await post(token, body, yogaPath);
    expect(fast.json).toEqual(full.json);
  });

  it('a forbidden read answers with the registry status and no internal extensions', async () => {
    const fast = await post(mallory.token, { query: `{ threatModel(id: "${id}") { id } }` }, shortPath);
    expect(fast.status).toBe(403);
    const error = (fast.json.errors as { extensions: Record<string, unknown> }[])[0]!;
    expect(error.extensions).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS', status: 403 });
    expect(error.extensions.http).toBeUndefined();
  });

  it('GET queries still work through Yoga', async () => {
    const get = await fetch(
      `${server.baseUrl}/graphql?query=${encodeURIComponent(`{ threatModel(id: "${id}") { name } }`)}`,
      {
        headers: { accept: 'application/json', authorization: `Bearer ${alice.token}` },
      },
    );
    expect(await get.json()).toEqual({ data: { threatModel: { name: 'Both paths' } } });
  });
});
