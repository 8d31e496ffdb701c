import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The N+1 guard: count the statements the server sends to PostgreSQL for the important reads and fail
// when the number grows (with the data or with a change to the code).

let server: TestServer;
let alice: TestUser;
const statements: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  alice = await signIn(server, 'budget-alice');
  const pool = server.deps.db.pool;
  // Prisma's adapter and the hand-written point read both check clients out of this pool: record
  // every statement a checked-out client runs.
  const recorded = new WeakSet<object>();
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  pool.connect = ((...args: unknown[]) => {
    const wrap = (client: { query: (...a: unknown[]) => unknown }) => {
      if (!recorded.has(client)) {
        recorded.add(client);
        const query = client.query.bind(client);
        client.query = (...queryArgs: unknown[]) => {
          const first = queryArgs[0] as string | { text?: string };
          statements.push(typeof first === 'string' ? first : (first?.text ?? ''));
          return query(...queryArgs);
        };
      }
      return client;
    };
    const callback = args[0];
    if (typeof callback === 'function') {
      return connect((error: unknown, client: never, release: unknown) =>
        callback(error, client && wrap(client), release),
      );
    }
    return (connect() as Promise<never>).then(wrap);
  }) as typeof pool.connect;
});
afterAll(async () => server?.close());

async function countStatements(action: () => Promise<unknown>): Promise<number> {
  statements.length = 0;
  await action();
  const counted = statements.filter((sql) => !/^\s*(BEGIN|COMMIT|ROLLBACK)/i.test(sql));
  if (process.env.DEBUG_BUDGET)
    console.log(
      counted.length,
      counted.map((sql) => sql.replace(/\s+/g, ' ').slice(0, 90)),
    );
  return counted.length;
}

describe('query budget', () => {
  it('a point read is one SQL round trip on both faces, however many authorization entries', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const others = await Promise.all(Array.from({ length: 25 }, (_, i) => signIn(server, `budget-user-${i}`)));
    const { body: tm } = await rest.post('/threat_models', {
      name: 'Budget',
      authorization: others.map((user) => userEntry(user, 'reader')),
      metadata: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
    expect(await countStatements(() => rest.get(`/threat_models/${tm.id}`))).toBe(1);
    const gql = graphqlClient(server.baseUrl, alice.token);
    const query = `query($id: ID!) { threatModel(id: $id) { id owner { email } createdBy { email } authorization { providerId role } metadata { key } } }`;
    expect(await countStatements(() => gql(query, { id: tm.id }))).toBe(1);
  });

  it('a page of threat models costs the same number of statements for 2 or 20 items', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const gql = graphqlClient(server.baseUrl, alice.token);
    const query = `{ threatModels(first: 50) { totalCount edges { node { id owner { email } authorization { role } metadata { key } } } } }`;
    const small = await countStatements(() => gql(query));
    const smallRest = await countStatements(() => rest.get('/threat_models?limit=50'));
    for (let i = 0; i < 20; i++)
      await rest.post('/threat_models', { name: `bulk ${i}`, metadata: [{ key: 'a', value: 'b' }] });
    expect(await countStatements(() => gql(query))).toBe(small);
    expect(await countStatements(() => rest.get('/threat_models?limit=50'))).toBe(smallRest);
    // One statement for the page (relations joined in), one for the total.
    expect(small).toBe(2);
    expect(smallRest).toBe(2);
  });
});
