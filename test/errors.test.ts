import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Unexpected failures are masked for clients (a generic message and a request id) and logged with
// their stack; expected ones keep their registry code on both faces.

let server: TestServer;
let alice: TestUser;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startTestServer();
  alice = await signIn(server, 'errors-alice');
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  // Capture what the server logs from here on.
  const capture = pino({ level: 'info' }, sink);
  (server.deps as { log: unknown }).log = capture;
  server.deps.serviceContext = (
    (original) => (options) =>
      original({ ...options, log: capture })
  )(server.deps.serviceContext);
});
afterAll(async () => server?.close());

describe('error masking', () => {
  it('an unexpected error becomes a generic INTERNAL error with the request id, and the log has the stack', async () => {
    const { prisma } = server.deps.db;
    const original = prisma.$transaction.bind(prisma);
    prisma.$transaction = (() => Promise.reject(new Error('database exploded: secret detail'))) as never;
    try {
      const gql = await graphqlClient(
        server.baseUrl,
        alice.token,
      )(`mutation { createThreatModel(input: { name: "x" }) { id } }`);
      const error = gql.errors?.[0];
      expect(error?.message).toBe('An internal server error occurred');
      expect(JSON.stringify(gql)).not.toContain('secret detail');
      expect(error?.extensions?.code).toBe('INTERNAL');
      const requestId = (error?.extensions as { requestId?: string }).requestId;
      expect(requestId).toMatch(/^[\w-]+$/);
      const logged = lines.find((line) => line.requestId === requestId && line.msg === 'GraphQL resolver failed');
      expect(JSON.stringify(logged)).toContain('database exploded');
      expect((logged?.err as { stack?: string }).stack).toContain('Error: database exploded');

      const rest = await restClient(server.baseUrl, alice.token).post('/threat_models', { name: 'x' });
      expect(rest.status).toBe(500);
      expect(rest.body).toMatchObject({ error: 'server_error', details: { code: 'INTERNAL' } });
      expect(JSON.stringify(rest.body)).not.toContain('secret detail');
    } finally {
      prisma.$transaction = original;
    }
  });
});
