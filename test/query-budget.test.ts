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

  it('the full threat model with all its children costs the same statements for 1 or 40 of each', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const gql = graphqlClient(server.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Full' });
    const addChildren = async (count: number) => {
      const metadata = [{ key: 'source', value: 'budget' }];
      for (let start = 0; start < count; start += 20) {
        const size = Math.min(20, count - start);
        const many = (make: (i: number) => object) => Array.from({ length: size }, (_, i) => make(start + i));
        const post = (kind: string, body: object[]) =>
          rest.request('POST', `/threat_models/${tm.id}/${kind}/bulk`, { body });
        const assets = await post(
          'assets',
          many((i) => ({ name: `Asset ${i}`, type: 'data' })),
        );
        await post(
          'threats',
          many((i) => ({ name: `Threat ${i}`, threat_type: ['Spoofing'], metadata, asset_id: assets.body[0].id })),
        );
        await post(
          'documents',
          many((i) => ({ name: `Doc ${i}`, uri: 'https://example.com/doc' })),
        );
        await post(
          'repositories',
          many(() => ({ uri: 'https://example.com/repo.git' })),
        );
        for (const asset of assets.body) {
          await rest.post(`/threat_models/${tm.id}/assets/${asset.id}/metadata`, { key: 'owner', value: 'ops' });
        }
        for (let i = 0; i < size; i++)
          await rest.post(`/threat_models/${tm.id}/notes`, { name: `N${i}`, content: 'x' });
        for (let i = 0; i < size; i++) {
          const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, {
            name: `D${i}`,
            type: 'DFD-1.0.0',
          });
          const cell = { id: diagram.id, shape: 'process', x: 1, y: 2, width: 80, height: 40 };
          await rest.patch(`/threat_models/${tm.id}/diagrams/${diagram.id}`, [
            { op: 'replace', path: '/cells', value: [cell] },
          ]);
          await rest.post(`/threat_models/${tm.id}/diagrams/${diagram.id}/metadata`, { key: 'k', value: 'v' });
        }
      }
    };
    const fullQuery = `query($id: ID!) { threatModel(id: $id) {
        threatCount assetCount diagramCount
        threatList { id name metadata { key value } cvss { score } ssvc { decision } }
        assetList { id name classification metadata { key } }
        documentList { id } noteList { id } repositoryList { id }
        diagramList { id cells updateVector image { svg } metadata { key } } } }`;
    const connectionsQuery = `query($id: ID!) { threatModel(id: $id) {
        threats(first: 100) { totalCount edges { node { id metadata { key } } } }
        assets(first: 100) { edges { node { id metadata { key } } } }
        diagrams(first: 100) { edges { node { id metadata { key } } } } } }`;
    const threatPage = `query($id: ID!) { threatPage(threatModelId: $id, limit: 100) { total items { id metadata { key } } } }`;
    const measure = async () => ({
      rest: await countStatements(() => rest.get(`/threat_models/${tm.id}`)),
      graphql: await countStatements(() => gql(fullQuery, { id: tm.id })),
      connections: await countStatements(() => gql(connectionsQuery, { id: tm.id })),
      restThreats: await countStatements(() => rest.get(`/threat_models/${tm.id}/threats?limit=100`)),
      restAssets: await countStatements(() => rest.get(`/threat_models/${tm.id}/assets?limit=100`)),
      restDiagrams: await countStatements(() => rest.get(`/threat_models/${tm.id}/diagrams?limit=100`)),
      threatPage: await countStatements(() => gql(threatPage, { id: tm.id })),
    });

    await addChildren(1);
    const few = await measure();
    await addChildren(39);
    const { body: full } = await rest.get(`/threat_models/${tm.id}`);
    expect(
      [full.threats, full.assets, full.documents, full.notes, full.repositories, full.diagrams].map((l) => l.length),
    ).toEqual([40, 40, 40, 40, 40, 40]);
    expect(full.threats[39].metadata).toEqual([{ key: 'source', value: 'budget' }]);
    expect(full.diagrams[39]).toMatchObject({ update_vector: 1, metadata: [{ key: 'k', value: 'v' }] });
    expect(full.diagrams[39].cells).toHaveLength(1);
    expect(await measure()).toEqual(few);
    // The point read stays one statement on both faces, children and their metadata included.
    expect(few.rest).toBe(1);
    expect(few.graphql).toBe(1);
  });

  it('a bulk create costs the same statements for 2 or 20 threats, metadata and events included', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Bulk budget' });
    const { body: asset } = await rest.post(`/threat_models/${tm.id}/assets`, { name: 'DB', type: 'data' });
    const threats = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        name: `T${i}`,
        threat_type: ['Tampering'],
        asset_id: asset.id,
        metadata: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
      }));
    const post = (count: number) =>
      countStatements(async () => {
        const response = await rest.request('POST', `/threat_models/${tm.id}/threats/bulk`, { body: threats(count) });
        expect(response.status).toBe(201);
      });
    const few = await post(2);
    expect(await post(20)).toBe(few);
    // Access, alias counter, asset check, insert, read back, metadata, events, read with metadata.
    expect(few).toBeLessThanOrEqual(8);
  });
});
