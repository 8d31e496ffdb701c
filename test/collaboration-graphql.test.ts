import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionPresence } from '../src/modules/collaboration/presence.js';
import { SessionStream } from '../src/modules/collaboration/stream.js';
import { graphqlClient, restClient } from './helpers/clients.js';
import { collaborationAs, type Message, SocketClient, socketUrl } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The GraphQL face of a live collaboration session: mutations acting in it and the diagramEvents stream,
// over real graphql-ws and TMI WebSocket clients, on one instance and across two sharing Redis.

let first: TestServer;
let second: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;
const clients: Client[] = [];
const sockets: SocketClient[] = [];

beforeAll(async () => {
  first = await startTestServer();
  second = await startTestServer({}, { shareDatabaseWith: first });
  owner = await signIn(first, 'live-owner');
  writer = await signIn(first, 'live-writer');
  reader = await signIn(first, 'live-reader');
  stranger = await signIn(first, 'live-stranger');
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await Promise.all(clients.map((client) => client.dispose()));
  await second?.close();
  await first?.close();
});

const EVENTS = `subscription($diagramId: ID!) {
  diagramEvents(diagramId: $diagramId) {
    __typename
    ... on DiagramStateEvent { diagramId updateVector cells }
    ... on DiagramOperationEvent { updateVector sequenceNumber operationId initiatingUser { providerId } cells }
    ... on ParticipantsUpdateEvent {
      participants { user { providerId } permissions }
      host { providerId }
      presenter { providerId }
    }
    ... on PresenterRequestEvent { requestingUser { providerId } }
    ... on PresenterDeniedEvent { deniedUser { providerId } }
    ... on ParticipantRemovedEvent { user { providerId } }
    ... on SessionEndedEvent { sessionId }
  }
}`;

const APPLY = `mutation($s: ID!, $o: ID!, $b: Int, $op: JSON!) {
  applyDiagramOperation(sessionId: $s, operationId: $o, baseVector: $b, operation: $op) { updateVector operationId cells }
}`;
const UNDO = `mutation($s: ID!) { undoDiagramOperation(sessionId: $s) { updateVector operationId cells } }`;
const REDO = `mutation($s: ID!) { redoDiagramOperation(sessionId: $s) { updateVector operationId cells } }`;

type Event = Record<string, any> & { __typename: string };

/** A diagramEvents subscription over graphql-ws: every event kept, `next(type)` waits for the first unread one. */
class EventStream {
  readonly events: Event[] = [];
  errors: unknown;
  completed = false;
  private readonly read = new Set<Event>();
  private readonly waiters: { match: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  private readonly ended: Promise<void>;
  private readonly unsubscribe: () => void;

  constructor(client: Client, diagramId: string) {
    let done!: () => void;
    this.ended = new Promise((resolve) => (done = resolve));
    this.unsubscribe = client.subscribe<{ diagramEvents: Event }>(
      { query: EVENTS, variables: { diagramId } },
      {
        next: (result) => {
          if (result.errors) this.errors = result.errors;
          const event = result.data?.diagramEvents;
          if (!event) return;
          this.events.push(event);
          const index = this.waiters.findIndex((waiter) => waiter.match(event));
          if (index >= 0) {
            const [waiter] = this.waiters.splice(index, 1);
            this.read.add(event);
            waiter!.resolve(event);
          }
        },
        error: (error) => {
          this.errors = error;
          done();
        },
        complete: () => {
          this.completed = true;
          done();
        },
      },
    );
  }

  next(type: string, where: (e: Event) => boolean = () => true, ms = 5000): Promise<Event> {
    const match = (e: Event) => e.__typename === type && where(e);
    const already = this.events.find((e) => !this.read.has(e) && match(e));
    if (already) {
      this.read.add(already);
      return Promise.resolve(already);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no ${type} within ${ms} ms; got ${JSON.stringify(this.events.map((e) => e.__typename))}` +
                (this.errors ? `, errors ${JSON.stringify(this.errors)}` : ''),
            ),
          ),
        ms,
      );
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  all(type: string): Event[] {
    return this.events.filter((e) => e.__typename === type);
  }

  /** Resolves when the server completes the stream or fails it. */
  end(ms = 5000): Promise<void> {
    return Promise.race([
      this.ended,
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), ms)),
    ]);
  }

  stop(): void {
    this.unsubscribe();
  }
}

function wsClient(server: TestServer, user: TestUser): Client {
  const client = createClient({
    url: `${server.baseUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

async function subscribe(user: TestUser, diagramId: string, server = first): Promise<EventStream> {
  const stream = new EventStream(wsClient(server, user), diagramId);
  // Joined once the first two events are there.
  await stream.next('ParticipantsUpdateEvent');
  return stream;
}

const gql = (user: TestUser, server = first) => graphqlClient(server.baseUrl, user.token);

interface Ids {
  tm: string;
  diagram: string;
  session: string;
}

async function newSession(): Promise<Ids> {
  const rest = restClient(first.baseUrl, owner.token);
  const { body: tm } = await rest.post('/threat_models', {
    name: 'Live over GraphQL',
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'Flows', type: 'DFD-1.0.0' });
  const started = await gql(owner)<{ startCollaborationSession: { id: string } }>(
    `mutation($tm: ID!, $d: ID!) { startCollaborationSession(threatModelId: $tm, diagramId: $d) { id } }`,
    { tm: tm.id, d: diagram.id },
  );
  return { tm: tm.id, diagram: diagram.id, session: started.data!.startCollaborationSession.id };
}

async function connectSocket(user: TestUser, ids: Ids): Promise<SocketClient> {
  const ticket = await (await collaborationAs(first, user)).issueTicket(ids.session);
  const socket = await SocketClient.open(socketUrl(first, ids.tm, ids.diagram, { session_id: ids.session, ticket }));
  sockets.push(socket);
  await socket.next('participants_update');
  return socket;
}

const node = (id: string, x = 100) => ({ id, shape: 'process', x, y: 100, width: 120, height: 60 });
const add = (id: string, x = 100) => ({ type: 'patch', cells: [{ id, operation: 'add', data: node(id, x) }] });
const update = (id: string, x: number) => ({
  type: 'patch',
  cells: [{ id, operation: 'update', data: node(id, x) }],
});

const providerIds = (message: Message) =>
  (message.participants as { user: { provider_id: string } }[]).map((p) => p.user.provider_id);

describe('diagramEvents', () => {
  it('joins on subscribing: the state first, then the participants; socket clients see the newcomer', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const stream = await subscribe(writer, ids.diagram);
    expect(stream.events.slice(0, 2)).toEqual([
      { __typename: 'DiagramStateEvent', diagramId: ids.diagram, updateVector: 0, cells: [] },
      {
        __typename: 'ParticipantsUpdateEvent',
        participants: [
          { user: { providerId: owner.providerId }, permissions: 'WRITER' },
          { user: { providerId: writer.providerId }, permissions: 'WRITER' },
        ],
        host: { providerId: owner.providerId },
        presenter: null,
      },
    ]);
    const seen = await host.next('participants_update', (m) => providerIds(m).includes(writer.providerId));
    expect(providerIds(seen)).toEqual([owner.providerId, writer.providerId]);

    // A reader joins as a reader; the session lists them.
    const watching = await subscribe(reader, ids.diagram);
    expect(watching.events[1]!.participants).toContainEqual({
      user: { providerId: reader.providerId },
      permissions: 'READER',
    });
    const { data } = await gql(owner)(
      `query($tm: ID!, $d: ID!) { collaborationSession(threatModelId: $tm, diagramId: $d) { participants { user { providerId } } } }`,
      { tm: ids.tm, d: ids.diagram },
    );
    expect(data.collaborationSession.participants).toHaveLength(3);
  });

  it('refuses strangers and diagrams without a session', async () => {
    const ids = await newSession();
    const refused = new EventStream(wsClient(first, stranger), ids.diagram);
    await refused.end();
    expect(JSON.stringify(refused.errors)).toMatch(/INSUFFICIENT_PERMISSIONS|RESOURCE_NOT_FOUND/);
    expect(refused.events).toEqual([]);

    const rest = restClient(first.baseUrl, owner.token);
    const { body: quiet } = await rest.post(`/threat_models/${ids.tm}/diagrams`, { name: 'Quiet', type: 'DFD-1.0.0' });
    const none = new EventStream(wsClient(first, owner), quiet.id);
    await none.end();
    expect(JSON.stringify(none.errors)).toContain('RESOURCE_NOT_FOUND');
  });

  it('a mutation applies an operation: the socket client and the GraphQL subscriber (its author) get it', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const stream = await subscribe(writer, ids.diagram);
    const cell = randomUUID();
    const operationId = randomUUID();
    const { data, errors } = await gql(writer)(APPLY, { s: ids.session, o: operationId, b: 0, op: add(cell) });
    expect(errors).toBeUndefined();
    expect(data.applyDiagramOperation).toEqual({
      updateVector: 1,
      operationId,
      cells: [{ id: cell, operation: 'add', data: node(cell) }],
    });
    expect(await host.next('diagram_operation_event')).toMatchObject({
      operation_id: operationId,
      update_vector: 1,
      initiating_user: { provider_id: writer.providerId },
      operation: { type: 'patch', cells: [{ id: cell, operation: 'add', data: node(cell) }] },
    });
    expect(await stream.next('DiagramOperationEvent')).toEqual({
      __typename: 'DiagramOperationEvent',
      updateVector: 1,
      sequenceNumber: 1,
      operationId,
      initiatingUser: { providerId: writer.providerId },
      cells: [{ id: cell, operation: 'add', data: node(cell) }],
    });

    // And the other way round: a socket client's operation reaches the GraphQL subscriber.
    const fromSocket = randomUUID();
    host.send({
      message_type: 'diagram_operation_request',
      operation_id: fromSocket,
      base_vector: 1,
      operation: update(cell, 250),
    });
    expect(await stream.next('DiagramOperationEvent')).toMatchObject({
      updateVector: 2,
      operationId: fromSocket,
      initiatingUser: { providerId: owner.providerId },
    });
  });

  it('rejections carry TMI’s reason: conflicts (409), invalid operations (400), readers (403)', async () => {
    const ids = await newSession();
    const stream = await subscribe(owner, ids.diagram);
    const cell = randomUUID();
    await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 0, op: add(cell) });

    // The same cell moved on a base that has not seen the add.
    const stale = randomUUID();
    const conflict = await gql(writer)(APPLY, { s: ids.session, o: stale, b: 0, op: update(cell, 300) });
    expect(conflict.status).toBe(409);
    expect(conflict.data).toBeNull();
    expect(conflict.errors![0]!.extensions).toMatchObject({
      code: 'OPERATION_CONFLICT',
      status: 409,
      reason: 'conflict_detected',
      requiresResync: true,
      updateVector: 1,
      affectedCells: [cell],
      operationId: stale,
      tmi: {
        error: 'conflict',
        details: { code: 'OPERATION_CONFLICT', context: { reason: 'conflict_detected', update_vector: 1 } },
      },
    });

    const invalid = await gql(writer)(APPLY, {
      s: ids.session,
      o: randomUUID(),
      b: 1,
      op: { type: 'patch', cells: [{ id: randomUUID(), operation: 'add', data: { shape: 'cloud' } }] },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.errors![0]!.extensions).toMatchObject({
      code: 'OPERATION_INVALID',
      reason: 'validation_failed',
      requiresResync: false,
      updateVector: 1,
    });
    const empty = await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 1, op: { type: 'patch', cells: [] } });
    expect(empty.errors![0]!.extensions).toMatchObject({ code: 'OPERATION_INVALID', reason: 'empty_operation' });

    const denied = await gql(reader)(APPLY, { s: ids.session, o: randomUUID(), b: 1, op: add(randomUUID()) });
    expect(denied.status).toBe(403);
    expect(denied.errors![0]!.extensions).toMatchObject({
      code: 'INSUFFICIENT_PERMISSIONS',
      reason: 'permission_denied',
    });
    expect(denied.errors![0]!.extensions).not.toHaveProperty('updateVector');
    const undoDenied = await gql(reader)(UNDO, { s: ids.session });
    expect(undoDenied.errors![0]!.extensions).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS' });

    // Nothing changed: the stream saw one operation only, and the diagram is at vector 1.
    await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 1, op: update(cell, 400) });
    expect(await stream.next('DiagramOperationEvent', (e) => e.updateVector === 2)).toBeTruthy();
    expect(stream.all('DiagramOperationEvent').map((e) => e.updateVector)).toEqual([1, 2]);
  });

  it('undo and redo through mutations replay the history for everyone', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const stream = await subscribe(writer, ids.diagram);
    const cell = randomUUID();
    await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 0, op: add(cell) });
    const undone = await gql(writer)(UNDO, { s: ids.session });
    expect(undone.data.undoDiagramOperation).toMatchObject({
      updateVector: 2,
      cells: [{ id: cell, operation: 'remove' }],
    });
    expect(await host.next('diagram_operation_event', (m) => m.update_vector === 2)).toMatchObject({
      operation: { cells: [{ id: cell, operation: 'remove' }] },
    });
    const redone = await gql(writer)(REDO, { s: ids.session });
    expect(redone.data.redoDiagramOperation).toMatchObject({
      updateVector: 3,
      cells: [{ id: cell, operation: 'add', data: node(cell) }],
    });
    await stream.next('DiagramOperationEvent', (e) => e.updateVector === 3);
    expect(stream.all('DiagramOperationEvent').map((e) => [e.updateVector, e.cells[0].operation])).toEqual([
      [1, 'add'],
      [2, 'remove'],
      [3, 'add'],
    ]);
    const nothing = await gql(writer)(REDO, { s: ids.session });
    expect(nothing.status).toBe(409);
    expect(nothing.errors![0]!.extensions).toMatchObject({ code: 'OPERATION_CONFLICT', reason: 'no_state_change' });
  });

  it('sends the state when the diagram changes outside the session (a REST write), then continues in order', async () => {
    const ids = await newSession();
    const stream = await subscribe(owner, ids.diagram);
    const outside = randomUUID();
    const rest = restClient(first.baseUrl, owner.token);
    const { status } = await rest.patch(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`, [
      { op: 'add', path: '/cells/-', value: node(outside) },
    ]);
    expect(status).toBe(200);
    // The write outside the session is announced at once, as the whole new state.
    const state = await stream.next('DiagramStateEvent', (e) => e.updateVector === 1);
    expect(state.cells).toEqual([node(outside)]);
    const cell = randomUUID();
    await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 1, op: add(cell, 300) });
    expect(await stream.next('DiagramOperationEvent')).toMatchObject({ updateVector: 2 });
    await gql(writer)(APPLY, { s: ids.session, o: randomUUID(), b: 2, op: update(cell, 350) });
    expect(await stream.next('DiagramOperationEvent')).toMatchObject({ updateVector: 3 });
    expect(stream.all('DiagramOperationEvent')).toHaveLength(2);
  });

  it('ending the subscription leaves: the socket client sees the participant go', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const stream = await subscribe(writer, ids.diagram);
    await host.next('participants_update', (m) => providerIds(m).includes(writer.providerId));
    stream.stop();
    const after = await host.next('participants_update', (m) => !providerIds(m).includes(writer.providerId));
    expect(providerIds(after)).toEqual([owner.providerId]);
    expect(await first.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(1);

    // Closing the whole graphql-ws connection leaves as well.
    const client = wsClient(first, reader);
    const watching = new EventStream(client, ids.diagram);
    await watching.next('ParticipantsUpdateEvent');
    await host.next('participants_update', (m) => providerIds(m).includes(reader.providerId));
    await client.dispose();
    await host.next('participants_update', (m) => !providerIds(m).includes(reader.providerId));
    expect(await first.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(1);
  });

  it('presenter mode and removal through mutations', async () => {
    const ids = await newSession();
    const hostStream = await subscribe(owner, ids.diagram);
    const guest = await subscribe(writer, ids.diagram);
    const user = { provider: 'tmi', providerId: writer.providerId };

    await gql(writer)(`mutation($s: ID!) { requestPresenter(sessionId: $s) { id } }`, { s: ids.session });
    expect(await hostStream.next('PresenterRequestEvent')).toMatchObject({
      requestingUser: { providerId: writer.providerId },
    });
    expect(guest.all('PresenterRequestEvent')).toEqual([]);
    await gql(owner)(
      `mutation($s: ID!, $u: CollaborationUserInput!) { denyPresenter(sessionId: $s, user: $u) { id } }`,
      {
        s: ids.session,
        u: user,
      },
    );
    expect(await guest.next('PresenterDeniedEvent')).toMatchObject({ deniedUser: { providerId: writer.providerId } });
    const changed = await gql(owner)(
      `mutation($s: ID!, $u: CollaborationUserInput!) { changePresenter(sessionId: $s, user: $u) { presenter { providerId } } }`,
      { s: ids.session, u: user },
    );
    expect(changed.data.changePresenter.presenter).toEqual({ providerId: writer.providerId });
    expect(await guest.next('ParticipantsUpdateEvent', (e) => e.presenter !== null)).toMatchObject({
      presenter: { providerId: writer.providerId },
    });
    const notHost = await gql(writer)(
      `mutation($s: ID!, $u: CollaborationUserInput!) { removeParticipant(sessionId: $s, user: $u) { id } }`,
      { s: ids.session, u: { email: owner.email } },
    );
    expect(notHost.errors![0]!.extensions).toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS' });

    const removed = await gql(owner)(
      `mutation($s: ID!, $u: CollaborationUserInput!) { removeParticipant(sessionId: $s, user: $u) { participants { user { providerId } } } }`,
      { s: ids.session, u: { email: writer.email } },
    );
    expect(removed.data.removeParticipant.participants).toEqual([{ user: { providerId: owner.providerId } }]);
    expect(await guest.next('ParticipantRemovedEvent')).toMatchObject({ user: { providerId: writer.providerId } });
    await guest.end();
    expect(guest.completed).toBe(true);
    expect(await hostStream.next('ParticipantRemovedEvent')).toMatchObject({ user: { providerId: writer.providerId } });
  });

  it('ending the session ends the stream with SessionEndedEvent', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const stream = await subscribe(writer, ids.diagram);
    const ended = await gql(owner)(
      `mutation($tm: ID!, $d: ID!) { endCollaborationSession(threatModelId: $tm, diagramId: $d) }`,
      {
        tm: ids.tm,
        d: ids.diagram,
      },
    );
    expect(ended.data.endCollaborationSession).toBe(ids.session);
    expect(await stream.next('SessionEndedEvent')).toEqual({ __typename: 'SessionEndedEvent', sessionId: ids.session });
    await stream.end();
    expect(stream.completed).toBe(true);
    expect(await host.closed()).toMatchObject({ code: 1000 });
  });

  it('deleting the diagram ends the stream with SessionEndedEvent', async () => {
    const ids = await newSession();
    const stream = await subscribe(writer, ids.diagram);
    const deleted = await restClient(first.baseUrl, owner.token).delete(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(deleted.status).toBe(204);
    expect(await stream.next('SessionEndedEvent')).toEqual({ __typename: 'SessionEndedEvent', sessionId: ids.session });
    await stream.end();
    expect(stream.completed).toBe(true);
  });

  it('across two instances sharing Redis: a mutation on one reaches a subscriber on the other', async () => {
    const ids = await newSession();
    const stream = await subscribe(owner, ids.diagram, second);
    const host = await connectSocket(reader, ids);
    expect(providerIds(host.all('participants_update')[0]!)).toEqual([owner.providerId, reader.providerId]);
    const cell = randomUUID();
    const operationId = randomUUID();
    const { errors } = await gql(writer, first)(APPLY, { s: ids.session, o: operationId, b: 0, op: add(cell) });
    expect(errors).toBeUndefined();
    expect(await stream.next('DiagramOperationEvent')).toMatchObject({ updateVector: 1, operationId });
    // And back: an operation applied on the second instance reaches the socket on the first.
    const back = randomUUID();
    await gql(writer, second)(APPLY, { s: ids.session, o: back, b: 1, op: update(cell, 500) });
    expect(await host.next('diagram_operation_event', (m) => m.update_vector === 2)).toMatchObject({
      operation_id: back,
    });
    expect(await stream.next('DiagramOperationEvent')).toMatchObject({ updateVector: 2, operationId: back });
    stream.stop();
    await host.next('participants_update', (m) => !providerIds(m).includes(owner.providerId));
  });

  it('is served over server-sent events too; aborting the request leaves', async () => {
    const ids = await newSession();
    const host = await connectSocket(owner, ids);
    const controller = new AbortController();
    const response = await fetch(`${first.baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${writer.token}`,
      },
      body: JSON.stringify({ query: EVENTS, variables: { diagramId: ids.diagram } }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('ParticipantsUpdateEvent')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text.indexOf('DiagramStateEvent')).toBeLessThan(text.indexOf('ParticipantsUpdateEvent'));
    await host.next('participants_update', (m) => providerIds(m).includes(writer.providerId));
    controller.abort();
    await host.next('participants_update', (m) => !providerIds(m).includes(writer.providerId));
  });

  it('keeps its connection row fresh while it lasts, so the sweep does not take it for a dead instance', async () => {
    const ids = await newSession();
    const principal = await first.deps.tokens.verify(writer.token);
    const ctx = first.deps.serviceContext({ principal, requestId: 'presence-test' });
    const presence = new ConnectionPresence(
      () => first.deps.serviceContext({ principal: undefined, requestId: 't' }),
      50,
    );
    const stream = await SessionStream.open(ctx, ids.session, presence);
    const rows = first.deps.db.prisma.collaborationParticipant;
    const long_ago = new Date(Date.now() - 10 * 60_000);
    await rows.updateMany({ where: { id: stream.connectionId }, data: { seenAt: long_ago } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const row = await rows.findUniqueOrThrow({ where: { id: stream.connectionId } });
    expect(row.instanceId).toBe(presence.instanceId);
    expect(row.seenAt.getTime()).toBeGreaterThan(Date.now() - 5000);
    await presence.close();
    expect(await rows.count({ where: { id: stream.connectionId } })).toBe(0);
    expect(await stream.next()).toMatchObject({ done: true });
  });
});
