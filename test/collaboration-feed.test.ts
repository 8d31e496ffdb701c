import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServiceContext } from '../src/infra/context.js';
import type { Channel, ChannelMap, PubSubBus } from '../src/infra/pubsub.js';
import { Fanned, REORDER_WAIT_MS, SessionFeeds } from '../src/modules/collaboration/feed.js';
import { ConnectionPresence } from '../src/modules/collaboration/presence.js';
import { CollaborationService } from '../src/modules/collaboration/service.js';
import { type LiveEvent, SessionStream } from '../src/modules/collaboration/stream.js';
import { restClient } from './helpers/clients.js';
import { collaborationAs, SocketClient, socketUrl } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The per-instance session feed (src/modules/collaboration/feed.ts) that both the TMI socket and the
// GraphQL stream listen through: one subscription per session and instance, operations put back in
// update-vector order, missing ones read from the log once for everyone, a state when the log has a gap.

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
const sockets: SocketClient[] = [];
const streams: SessionStream[] = [];

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'feed-owner');
  writer = await signIn(server, 'feed-writer');
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await Promise.all(streams.map((stream) => stream.return()));
  await Promise.all(sockets.map((socket) => socket.close()));
  await server?.close();
});

async function newSession() {
  const rest = restClient(server.baseUrl, owner.token);
  const { body: tm } = await rest.post('/threat_models', {
    name: 'Fed',
    authorization: [userEntry(writer, 'writer')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'Flows', type: 'DFD-1.0.0' });
  const session = await (await collaborationAs(server, owner)).start(tm.id, diagram.id);
  return { tm: tm.id as string, diagram: diagram.id as string, session: session.id };
}

async function connect(user: TestUser, ids: { tm: string; diagram: string; session: string }) {
  const ticket = await (await collaborationAs(server, user)).issueTicket(ids.session);
  const client = await SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket }));
  sockets.push(client);
  await client.joined();
  return client;
}

async function contextOf(user: TestUser): Promise<ServiceContext> {
  const principal = await server.deps.tokens.verify(user.token);
  return server.deps.serviceContext({ principal, requestId: 'feed-test' });
}

async function openStream(user: TestUser, sessionId: string): Promise<{ stream: SessionStream; events: LiveEvent[] }> {
  const presence = new ConnectionPresence(() => server.deps.serviceContext({ principal: undefined, requestId: 't' }));
  const stream = await SessionStream.open(await contextOf(user), sessionId, presence);
  streams.push(stream);
  const events: LiveEvent[] = [];
  void (async () => {
    for await (const event of stream) events.push(event);
  })();
  return { stream, events };
}

/** A pubsub that keeps what is published instead of sending it, so a test can send it later, in any order. */
function capturing(bus: PubSubBus) {
  const published: { channel: Channel; key: string; payload: unknown }[] = [];
  const captured: PubSubBus = {
    publish: async (channel, key, payload) => {
      published.push({ channel, key, payload });
    },
    subscribe: (channel, key) => bus.subscribe(channel, key),
    listen: (channel, key, onMessage) => bus.listen(channel, key, onMessage),
    close: async () => undefined,
  };
  return { captured, published };
}

/** Applies operations (written to the diagram and its log) whose broadcasts are held back, in order. */
async function applyQuietly(sessionId: string, count: number, from: number) {
  const { captured, published } = capturing(server.deps.pubsub);
  const service = new CollaborationService({ ...(await contextOf(writer)), pubsub: captured });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const cell = randomUUID();
    await service.applyOperation(sessionId, {
      operationId: randomUUID(),
      baseVector: from + i,
      operation: {
        type: 'patch',
        cells: [
          { id: cell, operation: 'add', data: { id: cell, shape: 'process', x: 10, y: 10, width: 80, height: 40 } },
        ],
      },
    });
    ids.push(cell);
  }
  const operations = published.filter((p) => p.channel === 'diagram.events') as {
    channel: 'diagram.events';
    key: string;
    payload: ChannelMap['diagram.events'];
  }[];
  return { operations, ids };
}

const vectors = (frames: { message_type: string; update_vector?: unknown }[]) =>
  frames.filter((m) => m.message_type === 'diagram_operation_event').map((m) => m.update_vector);

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('session feed', () => {
  it('listens once per session and instance, for socket connections and GraphQL streams alike', async () => {
    const ids = await newSession();
    const listen = vi.spyOn(server.deps.pubsub, 'listen');
    const feeds = SessionFeeds.of(server.deps.serviceContext({ principal: undefined, requestId: 't' }));
    const before = feeds.size;
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const { stream, events } = await openStream(writer, ids.session);
    expect(feeds.size).toBe(before + 1);
    const sessionChannels = listen.mock.calls.filter(
      ([channel, key]) => channel === 'diagram.events' && key === ids.session,
    );
    expect(sessionChannels).toHaveLength(1);
    // Of its threat model's events, only those its sessions must hear from outside (not each edit's).
    const changeChannels = listen.mock.calls.filter(([, key]) => key === ids.tm).map(([channel]) => channel);
    expect(changeChannels).toEqual(['diagram.changes']);

    // Everyone hears an operation through the one feed (the sender's socket excepted, as TMI does).
    const cell = randomUUID();
    editor.send({
      message_type: 'diagram_operation_request',
      operation_id: randomUUID(),
      base_vector: 0,
      operation: {
        type: 'patch',
        cells: [{ id: cell, operation: 'add', data: { id: cell, shape: 'actor', x: 1, y: 1, width: 80, height: 40 } }],
      },
    });
    await host.next('diagram_operation_event');
    await until(() => events.some((e) => e.type === 'operation'));
    expect(editor.all('diagram_operation_event')).toEqual([]);

    // The feed stops with its last listener.
    await stream.return();
    await host.close();
    await editor.close();
    await until(() => feeds.size === before);
  });

  it('announces a collaborative edit to the threat model only, and a write outside the session to its sessions too', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const publish = vi.spyOn(server.deps.pubsub, 'publish');
    const announced = (channel: Channel) =>
      publish.mock.calls
        .filter(([c, key]) => c === channel && key === ids.tm)
        .map(([, , payload]) => (payload as ChannelMap['threat_model.events']).eventType);

    const cell = randomUUID();
    host.send({
      message_type: 'diagram_operation_request',
      operation_id: randomUUID(),
      base_vector: 0,
      operation: {
        type: 'patch',
        cells: [
          { id: cell, operation: 'add', data: { id: cell, shape: 'process', x: 9, y: 9, width: 80, height: 40 } },
        ],
      },
    });
    await until(() => announced('threat_model.events').length === 1);
    expect(announced('threat_model.events')).toEqual(['diagram.updated']);
    expect(announced('diagram.changes')).toEqual([]);

    const rest = restClient(server.baseUrl, owner.token);
    await rest.patch(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`, [
      { op: 'replace', path: '/name', value: 'Renamed' },
    ]);
    expect(announced('diagram.changes')).toEqual(['diagram.updated']);
    // The session hears it, and sends its participants the new state.
    await until(() => host.all('diagram_state').some((state) => state.update_vector === 2));

    await rest.delete(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`);
    expect(announced('diagram.changes')).toEqual(['diagram.updated', 'diagram.deleted']);
  });

  it("hands an operation to its own instance's listeners before its broadcast comes back, and once", async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const { events } = await openStream(owner, ids.session);
    // The broadcast is held back: only what the instance hands over itself can reach the listeners.
    const bus = server.deps.pubsub;
    const publish = bus.publish.bind(bus) as (channel: Channel, key: string, payload: unknown) => Promise<void>;
    const held: (() => Promise<void>)[] = [];
    vi.spyOn(bus, 'publish').mockImplementation(async (channel: Channel, key: string, payload: unknown) => {
      if (channel === 'diagram.events' && key === ids.session) held.push(() => publish(channel, key, payload));
      else await publish(channel, key, payload);
    });
    const cell = randomUUID();
    const operationId = randomUUID();
    editor.send({
      message_type: 'diagram_operation_request',
      operation_id: operationId,
      base_vector: 0,
      operation: {
        type: 'patch',
        cells: [{ id: cell, operation: 'add', data: { id: cell, shape: 'store', x: 5, y: 5, width: 80, height: 40 } }],
      },
    });
    const event = await host.next('diagram_operation_event');
    expect(event).toMatchObject({ operation_id: operationId, update_vector: 1 });
    await until(() => events.some((e) => e.type === 'operation'));
    expect(held).toHaveLength(1);

    // The broadcast arrives after all: nobody gets the operation twice, and the sender never gets it.
    vi.restoreAllMocks();
    // A listener subscribed after the feed hears the broadcast after it, in the same dispatch.
    let heard!: () => void;
    const broadcastHeard = new Promise<void>((resolve) => (heard = resolve));
    const unlisten = await bus.listen('diagram.events', ids.session, () => heard());
    await held[0]!();
    await broadcastHeard;
    unlisten();
    // Frames keep their order on a socket: anything the broadcast made the feed send comes before this answer.
    host.send({ message_type: 'sync_status_request' });
    await host.next('sync_status_response');
    expect(vectors(host.received)).toEqual([1]);
    expect(events.filter((e) => e.type === 'operation')).toHaveLength(1);
    expect(editor.all('diagram_operation_event')).toEqual([]);
  });

  it('puts operations whose broadcasts overtook each other back in order, without reading the log', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const { events } = await openStream(owner, ids.session);
    const log = vi.spyOn(CollaborationService.prototype, 'operationsSince');
    const { operations } = await applyQuietly(ids.session, 3, 0);
    const started = Date.now();
    for (const { key, payload } of [operations[2]!, operations[0]!, operations[1]!]) {
      await server.deps.pubsub.publish('diagram.events', key, payload);
    }
    await until(() => vectors(host.received).length === 3);
    expect(Date.now() - started).toBeLessThan(REORDER_WAIT_MS);
    expect(vectors(host.received)).toEqual([1, 2, 3]);
    await until(() => events.filter((e) => e.type === 'operation').length === 3);
    expect(events.flatMap((e) => (e.type === 'operation' ? [e.updateVector] : []))).toEqual([1, 2, 3]);
    expect(log).not.toHaveBeenCalled();
  });

  it('reads a vector that never comes from the log, once for every listener', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const { events } = await openStream(owner, ids.session);
    const log = vi.spyOn(CollaborationService.prototype, 'operationsSince');
    const { operations } = await applyQuietly(ids.session, 3, 0);
    // The first broadcast is lost (its instance died between commit and publish).
    for (const { key, payload } of operations.slice(1))
      await server.deps.pubsub.publish('diagram.events', key, payload);
    await until(() => vectors(host.received).length === 3);
    expect(vectors(host.received)).toEqual([1, 2, 3]);
    await until(() => events.filter((e) => e.type === 'operation').length === 3);
    expect(events.flatMap((e) => (e.type === 'operation' ? [e.updateVector] : []))).toEqual([1, 2, 3]);
    expect(log).toHaveBeenCalledTimes(1);
    const replayed = host.all('diagram_operation_event')[0]!;
    expect(replayed).toMatchObject({ operation_id: (operations[0]!.payload as { operationId: string }).operationId });
    expect(replayed.initiating_user).toMatchObject({ provider_id: writer.providerId });
    expect(vectors(editor.received)).toEqual([1, 2, 3]);
  });

  it('sends the state when the log has a gap the feed never heard of', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const { events } = await openStream(owner, ids.session);
    // A change that is not in the log and whose event never came.
    await server.deps.db.prisma.diagram.update({ where: { id: ids.diagram }, data: { updateVector: 1 } });
    const { operations } = await applyQuietly(ids.session, 1, 1);
    await server.deps.pubsub.publish('diagram.events', operations[0]!.key, operations[0]!.payload);
    const state = await host.next('diagram_state', (m) => m.update_vector === 2);
    expect(state.cells).toHaveLength(1);
    expect(vectors(host.received)).toEqual([]);
    await until(() => events.some((e) => e.type === 'state' && e.updateVector === 2));
    expect(events.filter((e) => e.type === 'operation')).toEqual([]);
  });
});

describe('Fanned', () => {
  it('renders an event once for every listener that asks', () => {
    const fanned = new Fanned({ sessionId: 's', type: 'ended' });
    const render = vi.fn(() => 'frame');
    expect([fanned.render(render), fanned.render(render), fanned.render(render)]).toEqual(['frame', 'frame', 'frame']);
    expect(render).toHaveBeenCalledTimes(1);
  });
});
