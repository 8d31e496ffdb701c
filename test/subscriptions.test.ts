import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

let first: TestServer;
let second: TestServer;
let alice: TestUser;
const clients: Client[] = [];

beforeAll(async () => {
  first = await startTestServer();
  second = await startTestServer({}, { shareDatabaseWith: first });
  alice = await signIn(first, 'sub-alice');
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await second?.close();
  await first?.close();
});

function wsClient(server: TestServer, token?: string): Client {
  const client = createClient({
    url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

const CHANGED = `subscription($id: ID!) { threatModelChanged(id: $id) { threatModelId action actorId occurredAt } }`;

describe('threatModelEvents', () => {
  it('streams every change under a threat model, in commit order, across instances', async () => {
    const rest = restClient(first.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Event feed' });
    const subscription = wsClient(second, alice.token).iterate<{
      threatModelEvents: { eventType: string; objectType: string; threatModelId: string; data: { key?: string } };
    }>({
      query: `subscription($id: ID!) { threatModelEvents(threatModelId: $id) { eventType objectType threatModelId data } }`,
      variables: { id: tm.id },
    });
    const received: string[] = [];
    const collecting = (async () => {
      for await (const event of subscription) {
        const { eventType, threatModelId, data } = event.data!.threatModelEvents;
        expect(threatModelId).toBe(tm.id);
        received.push(data.key ? `${eventType}:${data.key}` : eventType);
        if (received.length === 10) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const base = `/threat_models/${tm.id}`;
    await rest.post(`${base}/metadata`, { key: 'team', value: 'red' });
    await rest.patch(base, [{ op: 'replace', path: '/status', value: 'in_review' }]);
    await rest.delete(`${base}/metadata/team`);
    const { body: asset } = await rest.post(`${base}/assets`, { name: 'Vault', type: 'data' });
    const { body: threat } = await rest.post(`${base}/threats`, {
      name: 'Leak',
      threat_type: ['Information Disclosure'],
      metadata: [{ key: 'cwe', value: 'CWE-200' }],
    });
    await rest.patch(`${base}/threats/${threat.id}`, [{ op: 'replace', path: '/asset_id', value: asset.id }]);
    await rest.delete(`${base}/assets/${asset.id}`);
    await rest.request('DELETE', `${base}/threats/bulk?threat_ids=${threat.id}`);
    await collecting;
    expect(received).toEqual([
      'metadata.created:team',
      'threat_model.updated',
      'metadata.deleted:team',
      'asset.created',
      // A threat created with metadata: the threat first, then the entries it carries.
      'threat.created',
      'metadata.created:cwe',
      'threat.updated',
      // Deleting the asset releases the threat's reference to it first.
      'threat.updated',
      'asset.deleted',
      'threat.deleted',
    ]);
  });
});

describe('threatModelChanged', () => {
  it('delivers changes made through another instance sharing Redis', async () => {
    const rest = restClient(first.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Watched' });

    const subscription = wsClient(second, alice.token).iterate<{ threatModelChanged: Record<string, string> }>({
      query: CHANGED,
      variables: { id: tm.id },
    });
    const received: Record<string, string>[] = [];
    const collecting = (async () => {
      for await (const event of subscription) {
        received.push(event.data!.threatModelChanged);
        if (received.length === 2) break;
      }
    })();
    // Give the subscription time to be registered on the second instance before changing anything.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(
      (await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Watched 2' }])).status,
    ).toBe(200);
    expect((await rest.delete(`/threat_models/${tm.id}`)).status).toBe(204);
    await collecting;

    expect(received.map((event) => event.action)).toEqual(['UPDATED', 'DELETED']);
    expect(received[0]).toMatchObject({ threatModelId: tm.id, actorId: alice.id });
  });

  it('refuses to subscribe to a threat model one may not read, and anonymous callers', async () => {
    const { body: tm } = await restClient(first.baseUrl, alice.token).post('/threat_models', { name: 'Private' });
    const mallory = await signIn(first, 'sub-mallory');
    for (const [token, code] of [
      [mallory.token, 'INSUFFICIENT_PERMISSIONS'],
      [undefined, 'UNAUTHENTICATED'],
    ] as const) {
      const iterator = wsClient(first, token).iterate({ query: CHANGED, variables: { id: tm.id } });
      const outcome = await iterator.next().then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      const errors =
        'error' in outcome ? (outcome.error as { extensions?: { code?: string } }[]) : outcome.result.value?.errors;
      expect(JSON.stringify(errors)).toContain(code);
    }
  });

  it('is also served over server-sent events on the same path', async () => {
    const rest = restClient(first.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Over SSE' });
    const controller = new AbortController();
    const response = await fetch(`${first.baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${alice.token}`,
      },
      body: JSON.stringify({ query: CHANGED, variables: { id: tm.id } }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Over SSE 2' }]);
    let text = '';
    while (!text.includes('UPDATED')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain(`"threatModelId":"${tm.id}"`);
  });

  it('works in-process when no Redis is configured', async () => {
    const single = await startTestServer({}, { withoutRedis: true });
    try {
      const bob = await signIn(single, 'sub-bob');
      const rest = restClient(single.baseUrl, bob.token);
      const { body: tm } = await rest.post('/threat_models', { name: 'Local only' });
      const subscription = wsClient(single, bob.token).iterate<{ threatModelChanged: { action: string } }>({
        query: CHANGED,
        variables: { id: tm.id },
      });
      const next = subscription.next();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Local 2' }]);
      const event = await next;
      expect(event.value?.data?.threatModelChanged.action).toBe('UPDATED');
      await subscription.return?.();
    } finally {
      await single.close();
    }
  });
});
