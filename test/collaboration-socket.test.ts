import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { collaborationAs, type Message, SocketClient, socketUrl } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// TMI's diagram-collaboration WebSocket protocol against a real server, with real WebSocket clients.

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;
const clients: SocketClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'ws-owner');
  writer = await signIn(server, 'ws-writer');
  reader = await signIn(server, 'ws-reader');
  stranger = await signIn(server, 'ws-stranger');
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
});

async function newSession() {
  const rest = restClient(server.baseUrl, owner.token);
  const { body: tm } = await rest.post('/threat_models', {
    name: 'Collaborative',
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'Flows', type: 'DFD-1.0.0' });
  const session = await (await collaborationAs(server, owner)).start(tm.id, diagram.id);
  return { tm: tm.id as string, diagram: diagram.id as string, session: session.id };
}

async function connect(user: TestUser, ids: { tm: string; diagram: string; session: string }) {
  const ticket = await (await collaborationAs(server, user)).issueTicket(ids.session);
  const client = await SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket }));
  clients.push(client);
  await client.joined();
  return client;
}

const node = (id: string, x = 100) => ({ id, shape: 'process', x, y: 100, width: 120, height: 60 });
const add = (id: string, x = 100) => ({ type: 'patch', cells: [{ id, operation: 'add', data: node(id, x) }] });
const operation = (op: object, baseVector: number, operationId = randomUUID()) => ({
  message_type: 'diagram_operation_request',
  operation_id: operationId,
  base_vector: baseVector,
  operation: op,
});

describe('collaboration over TMI’s WebSocket protocol', () => {
  it('sends diagram_state first, then participants_update with the newcomer’s own writer entry', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    await host.next('diagram_state');
    expect(host.received[0]).toEqual({
      message_type: 'diagram_state',
      diagram_id: ids.diagram,
      update_vector: 0,
      cells: [],
    });
    const first = await host.next('participants_update');
    expect(first).toMatchObject({
      host: { provider_id: owner.providerId, principal_type: 'user' },
      current_presenter: null,
      participants: [{ user: { provider_id: owner.providerId }, permissions: 'writer' }],
    });

    const guest = await connect(reader, ids);
    await guest.next('participants_update');
    expect(guest.received.map((m) => m.message_type).slice(0, 2)).toEqual(['diagram_state', 'participants_update']);
    const seen = await host.next('participants_update', (m) => (m.participants as unknown[]).length === 2);
    expect(
      (seen.participants as { permissions: string; user: { provider_id: string } }[]).map((p) => [
        p.user.provider_id,
        p.permissions,
      ]),
    ).toEqual([
      [owner.providerId, 'writer'],
      [reader.providerId, 'reader'],
    ]);
  });

  it('applies a writer’s operation, stores it and broadcasts it to the others (not back to the sender)', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const cell = randomUUID();
    const operationId = randomUUID();
    editor.send(operation(add(cell), 0, operationId));
    const event = await host.next('diagram_operation_event');
    expect(event).toMatchObject({
      operation_id: operationId,
      update_vector: 1,
      sequence_number: 1,
      initiating_user: { provider_id: writer.providerId, principal_type: 'user' },
      operation: { type: 'patch', cells: [{ id: cell, operation: 'add', data: node(cell) }] },
    });
    const { body: stored } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(stored.update_vector).toBe(1);
    expect(stored.cells).toEqual([node(cell)]);
    editor.send({ message_type: 'sync_status_request' });
    expect(await editor.next('sync_status_response')).toEqual({
      message_type: 'sync_status_response',
      update_vector: 1,
    });
    // Recorded for webhooks in the same statement as the change, with who made it.
    const events = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: ids.tm, eventType: 'diagram.updated' },
    });
    expect(events.map((e) => [e.objectId, e.actorId, (e.data as { operationId: string }).operationId])).toEqual([
      [ids.diagram, writer.id, operationId],
    ]);
    // The same operation id again changes nothing.
    editor.send(operation(add(randomUUID()), 1, operationId));
    expect(await editor.next('operation_rejected')).toMatchObject({
      operation_id: operationId,
      reason: 'no_state_change',
    });
    expect(editor.all('diagram_operation_event')).toEqual([]);
  });

  it('refuses readers (authorization_denied), stale conflicting operations and invalid cells, changing nothing', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const viewer = await connect(reader, ids);
    const editor = await connect(writer, ids);
    const cell = randomUUID();

    const denied = randomUUID();
    viewer.send(operation(add(randomUUID()), 0, denied));
    expect(await viewer.next('authorization_denied')).toEqual({
      message_type: 'authorization_denied',
      original_operation_id: denied,
      reason: 'read_only_user',
    });

    host.send(operation(add(cell), 0));
    await editor.next('diagram_operation_event');
    // The editor moves the cell without having seen the host's change: same cell, older base vector.
    const stale = randomUUID();
    editor.send(
      operation({ type: 'patch', cells: [{ id: cell, operation: 'update', data: node(cell, 300) }] }, 0, stale),
    );
    // A vector 0 client that saw the add (it got the event) is no longer stale at base 1.
    const conflictOrApplied = await Promise.race([
      editor.next('operation_rejected').then((m) => m),
      host.next('diagram_operation_event').then((m) => m),
    ]);
    expect(conflictOrApplied).toMatchObject({
      message_type: 'operation_rejected',
      reason: 'conflict_detected',
      requires_resync: true,
      update_vector: 1,
    });

    const invalid = randomUUID();
    editor.send(
      operation(
        { type: 'patch', cells: [{ id: randomUUID(), operation: 'add', data: { shape: 'cloud' } }] },
        1,
        invalid,
      ),
    );
    expect(await editor.next('operation_rejected', (m) => m.operation_id === invalid)).toMatchObject({
      reason: 'validation_failed',
      requires_resync: false,
    });
    const { body: stored } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(stored).toMatchObject({ update_vector: 1, cells: [node(cell)] });
  });

  it('answers malformed frames with error and keeps the connection', async () => {
    const ids = await newSession();
    const editor = await connect(writer, ids);
    editor.sendRaw('not json');
    expect(await editor.next('error')).toMatchObject({ error: 'invalid_message' });
    editor.send({ message_type: 'make_coffee' });
    expect(await editor.next('error')).toMatchObject({ error: 'invalid_message' });
    editor.send({ message_type: 'sync_request', update_vector: 0 });
    expect(await editor.next('sync_status_response')).toEqual({
      message_type: 'sync_status_response',
      update_vector: 0,
    });
  });

  it('undo and redo replay the session’s history for everyone, the requester included', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const cell = randomUUID();
    editor.send(operation(add(cell), 0));
    await host.next('diagram_operation_event');
    editor.send({ message_type: 'undo_request' });
    const undone = await editor.next('diagram_operation_event');
    expect(undone).toMatchObject({ update_vector: 2, operation: { cells: [{ id: cell, operation: 'remove' }] } });
    expect(await host.next('diagram_operation_event')).toMatchObject({ update_vector: 2 });
    editor.send({ message_type: 'redo_request' });
    expect(await editor.next('diagram_operation_event')).toMatchObject({
      update_vector: 3,
      operation: { cells: [{ id: cell, operation: 'add' }] },
    });
    const { body: stored } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(stored).toMatchObject({ update_vector: 3, cells: [node(cell)] });
  });

  it('tickets open one connection, for their session, within 30 seconds; other credentials work too', async () => {
    const ids = await newSession();
    const ticket = await (await collaborationAs(server, writer)).issueTicket(ids.session);
    const url = socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket });
    clients.push(await SocketClient.open(url));
    await expect(SocketClient.open(url)).rejects.toMatchObject({ status: 401 });
    await expect(
      SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket: 'tmi_ws_forged' })),
    ).rejects.toMatchObject({ status: 401 });
    const expired = await (await collaborationAs(server, writer)).issueTicket(ids.session);
    await server.deps.db.prisma.webSocketTicket.updateMany({
      where: { usedAt: null },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await expect(
      SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket: expired })),
    ).rejects.toMatchObject({ status: 401 });

    // The seed's ?token= and the web client's cookie.
    const byToken = await SocketClient.open(
      socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, token: reader.token }),
    );
    clients.push(byToken);
    expect((await byToken.next('diagram_state')).diagram_id).toBe(ids.diagram);
    const byCookie = await SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session }), {
      cookie: `tmi_access_token=${owner.token}`,
    });
    clients.push(byCookie);
    expect((await byCookie.next('diagram_state')).diagram_id).toBe(ids.diagram);
    await expect(
      SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, token: stranger.token })),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('presenter mode: the host decides; only the presenter’s cursor reaches the others', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const guest = await connect(writer, ids);
    guest.send({ message_type: 'presenter_request' });
    expect(await host.next('presenter_request_event')).toMatchObject({
      requesting_user: { provider_id: writer.providerId },
    });
    host.send({
      message_type: 'presenter_denied_request',
      denied_user: { provider: 'tmi', provider_id: writer.providerId },
    });
    expect(await guest.next('presenter_denied_event')).toMatchObject({
      denied_user: { provider_id: writer.providerId },
    });

    guest.send({ message_type: 'presenter_cursor', cursor_position: { x: 1, y: 2 } });
    host.send({
      message_type: 'change_presenter_request',
      new_presenter: { provider: 'tmi', provider_id: writer.providerId },
    });
    const update: Message = await host.next('participants_update', (m) => m.current_presenter !== null);
    expect(update.current_presenter).toMatchObject({ provider_id: writer.providerId });
    guest.send({ message_type: 'presenter_cursor', cursor_position: { x: 150, y: 300 } });
    expect(await host.next('presenter_cursor')).toEqual({
      message_type: 'presenter_cursor',
      cursor_position: { x: 150, y: 300 },
    });
    expect(host.all('presenter_cursor')).toHaveLength(1);
  });

  it('answers a WebSocket upgrade to any other path with 404 rather than leaving it hanging', async () => {
    const base = server.baseUrl.replace(/^http/, 'ws');
    await expect(SocketClient.open(`${base}/nowhere`)).rejects.toMatchObject({ status: 404 });
    await expect(SocketClient.open(`${base}/threat_models/x/diagrams/y/ws/extra`)).rejects.toMatchObject({
      status: 404,
    });
  });

  it('a REST write during the session sends everyone the new state; editing carries on after it', async () => {
    const ids = await newSession();
    const host = await connect(owner, ids);
    const editor = await connect(writer, ids);
    const first = randomUUID();
    editor.send(operation(add(first), 0));
    await host.next('diagram_operation_event');
    const replaced = [node(randomUUID(), 400)];
    const rest = restClient(server.baseUrl, owner.token);
    const patched = await rest.request('PATCH', `/threat_models/${ids.tm}/diagrams/${ids.diagram}`, {
      body: [{ op: 'replace', path: '/cells', value: replaced }],
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(patched.status).toBe(200);
    for (const client of [host, editor]) {
      const state = await client.next('diagram_state', (m) => m.update_vector === 2);
      expect(state.cells).toEqual(replaced);
    }
    // An edit based on the old state conflicts (the REST write is not in the operation log)…
    const stale = randomUUID();
    editor.send(operation(add(randomUUID()), 1, stale));
    expect(await editor.next('operation_rejected', (m) => m.operation_id === stale)).toMatchObject({
      reason: 'conflict_detected',
      requires_resync: true,
    });
    // …one based on the new state goes through to the others without delay.
    editor.send(operation(add(randomUUID()), 2));
    expect(await host.next('diagram_operation_event')).toMatchObject({ update_vector: 3 });
  });

  it('deleting the diagram (or its threat model) ends the session for everyone connected', async () => {
    const rest = restClient(server.baseUrl, owner.token);
    for (const path of [
      (ids: { tm: string; diagram: string }) => `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
      (ids: { tm: string }) => `/threat_models/${ids.tm}`,
    ]) {
      const ids = await newSession();
      const editor = await connect(writer, ids);
      const closed = editor.closed();
      expect((await rest.delete(path(ids))).status).toBe(204);
      expect(await editor.next('error')).toMatchObject({ error: 'session_ended' });
      expect((await closed).code).toBe(1000);
    }
  });

  it('a client that stops answering pings is dropped and leaves the session', async () => {
    const quick = await startTestServer({ TMI_WS_PING_INTERVAL_MS: '150' }, { shareDatabaseWith: server });
    try {
      const ids = await newSession();
      const ticket = await (await collaborationAs(quick, writer)).issueTicket(ids.session);
      const silent = await SocketClient.open(
        socketUrl(quick, ids.tm, ids.diagram, { session_id: ids.session, ticket }),
      );
      await silent.joined();
      const rows = () => server.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } });
      expect(await rows()).toBe(1);
      // A client that answers nothing (a dead network path): pings go unanswered.
      (silent.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const deadline = Date.now() + 5000;
      while ((await rows()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await rows()).toBe(0);
      silent.socket.terminate();
    } finally {
      await quick.close();
    }
  });
});
