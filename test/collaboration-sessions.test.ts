import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { assertMatchesSchema } from './helpers/openapi.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Collaboration sessions of diagrams on both faces: TMI's /collaborate (GET, POST, DELETE), /ws/ticket and
// /me/sessions, and the GraphQL queries and mutations they run on. The WebSocket itself is tested apart.

const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'access_denied',
  404: 'not_found',
  409: 'conflict',
};

const SESSION = `id threatModelId threatModelName diagramId diagramName websocketUrl
  host { principalType provider providerId email displayName }
  presenter { principalType provider providerId email displayName }
  participants { user { principalType provider providerId email displayName } permissions lastActivity }`;
const OP = {
  get: `query($tm: ID!, $d: ID!) { collaborationSession(threatModelId: $tm, diagramId: $d) { ${SESSION} } }`,
  mine: `query { myCollaborationSessions { ${SESSION} } }`,
  start: `mutation($tm: ID!, $d: ID!) { startCollaborationSession(threatModelId: $tm, diagramId: $d) { ${SESSION} } }`,
  end: `mutation($tm: ID!, $d: ID!) { endCollaborationSession(threatModelId: $tm, diagramId: $d) }`,
  ticket: `mutation($id: ID!) { issueWebSocketTicket(sessionId: $id) }`,
};

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;
let tm: string;

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const collaborate = (threatModelId: string, diagramId: string) =>
  `/threat_models/${threatModelId}/diagrams/${diagramId}/collaborate`;
const gqlError = (response: GraphQLResponse) => response.errors?.[0]?.extensions;

function expectError(response: RestResponse, status: number) {
  expect([response.status, response.body?.error], JSON.stringify(response.body)).toEqual([status, TMI_ERROR[status]]);
  expect(typeof response.body.error_description, JSON.stringify(response.body)).toBe('string');
}

/** The same failure on both faces: REST status and TMI body, GraphQL code, status and `extensions.tmi`. */
function expectSameError(rest: RestResponse, gql: GraphQLResponse, status: number, code: string) {
  expectError(rest, status);
  expect(gql.data ?? null).toBeNull();
  expect(gqlError(gql)?.code, JSON.stringify(gql.errors)).toBe(code);
  expect(gqlError(gql)?.tmi).toEqual(rest.body);
}

const userOf = (user: TestUser) => ({
  principal_type: 'user',
  provider: user.provider,
  provider_id: user.providerId,
  email: user.email,
  display_name: user.name,
});

/** A REST session body as a GraphQL CollaborationSession, to compare the faces. */
function restToGql(session: Record<string, any>) {
  const user = (u: Record<string, any> | undefined) =>
    u && {
      principalType: 'USER',
      provider: u.provider,
      providerId: u.provider_id,
      email: u.email,
      displayName: u.display_name,
    };
  return {
    id: session.session_id,
    threatModelId: session.threat_model_id,
    threatModelName: session.threat_model_name,
    diagramId: session.diagram_id,
    diagramName: session.diagram_name,
    websocketUrl: session.websocket_url,
    host: user(session.host),
    presenter: user(session.presenter) ?? null,
    participants: (session.participants as Record<string, any>[]).map((p) => ({
      user: user(p.user),
      permissions: p.permissions.toUpperCase(),
      lastActivity: p.last_activity,
    })),
  };
}

async function newDiagram(name: string): Promise<string> {
  const created = await restAs(owner).post(`/threat_models/${tm}/diagrams`, { name, type: 'DFD-1.0.0' });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'collab-owner');
  writer = await signIn(server, 'collab-writer');
  reader = await signIn(server, 'collab-reader');
  stranger = await signIn(server, 'collab-stranger');
  const created = await restAs(owner).post('/threat_models', {
    name: 'Collaboration model',
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  tm = created.body.id;
});
afterAll(async () => server?.close());

describe('REST /collaborate', () => {
  it('starts a session hosted by the caller (201), refuses a second one (409), reads it (200) and ends it (204)', async () => {
    const diagram = await newDiagram('Checkout flow');
    expectError(await restAs(writer).get(collaborate(tm, diagram)), 404);

    const started = await restAs(writer).post(collaborate(tm, diagram));
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body).toEqual({
      session_id: UUID,
      threat_model_id: tm,
      threat_model_name: 'Collaboration model',
      diagram_id: diagram,
      diagram_name: 'Checkout flow',
      host: userOf(writer),
      participants: [],
      websocket_url: `/threat_models/${tm}/diagrams/${diagram}/ws?session_id=${started.body.session_id}`,
    });
    // Relative to the API origin, as TMI returns it: clients prefix their API URL and append &ticket=….
    expect(new URL(started.body.websocket_url, 'ws://api.example.com').searchParams.get('session_id')).toBe(
      started.body.session_id,
    );

    // TMI's own 409 body for this endpoint: where to join the session that exists.
    const again = await restAs(owner).post(collaborate(tm, diagram));
    expect([again.status, again.body]).toEqual([
      409,
      { error: 'collaboration_session_exists', join_url: `${server.baseUrl}${collaborate(tm, diagram)}` },
    ]);

    const read = await restAs(writer).get(collaborate(tm, diagram));
    expect(read.status).toBe(200);
    expect(read.body).toEqual(started.body);

    const ended = await restAs(writer).delete(collaborate(tm, diagram));
    expect([ended.status, ended.body]).toEqual([204, undefined]);
    expectError(await restAs(writer).get(collaborate(tm, diagram)), 404);
    expectError(await restAs(writer).delete(collaborate(tm, diagram)), 404);

    // A new session can start after the end, with a new id.
    const restarted = await restAs(owner).post(collaborate(tm, diagram));
    expect(restarted.status).toBe(201);
    expect(restarted.body.session_id).not.toBe(started.body.session_id);
    expect(restarted.body.host).toEqual(userOf(owner));
    expect((await restAs(owner).delete(collaborate(tm, diagram))).status).toBe(204);
  });

  it("follows the threat model's roles: readers read and start, strangers get 403, the host or the owner ends", async () => {
    const diagram = await newDiagram('Roles');
    // Strangers learn nothing, whether or not a session exists.
    expectError(await restAs(stranger).get(collaborate(tm, diagram)), 403);
    expectError(await restAs(stranger).post(collaborate(tm, diagram)), 403);

    // Anyone who may read the threat model may join, hence start, a session.
    const started = await restAs(reader).post(collaborate(tm, diagram));
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body.host).toEqual(userOf(reader));
    expect((await restAs(reader).get(collaborate(tm, diagram))).body).toEqual(started.body);
    expect((await restAs(writer).get(collaborate(tm, diagram))).body).toEqual(started.body);
    expectError(await restAs(stranger).get(collaborate(tm, diagram)), 403);
    expectError(await restAs(stranger).delete(collaborate(tm, diagram)), 403);

    // A writer who does not host it may not end it; the threat model's owner may.
    const byWriter = await restAs(writer).delete(collaborate(tm, diagram));
    expectError(byWriter, 403);
    expect((await restAs(reader).get(collaborate(tm, diagram))).status).toBe(200);
    expect((await restAs(owner).delete(collaborate(tm, diagram))).status).toBe(204);
    expectError(await restAs(reader).get(collaborate(tm, diagram)), 404);
  });

  it('answers 404 for unknown threat models and diagrams, 400 for malformed ids, 401 without a token', async () => {
    const diagram = await newDiagram('Errors');
    expectError(await restAs(owner).get(collaborate(UNKNOWN, diagram)), 404);
    expectError(await restAs(owner).post(collaborate(tm, UNKNOWN)), 404);
    expectError(await restAs(owner).delete(collaborate(tm, UNKNOWN)), 404);
    expectError(await restAs(owner).get(collaborate(tm, 'not-a-uuid')), 400);
    expectError(await restAs(owner).post(collaborate('not-a-uuid', diagram)), 400);
    // A diagram of another threat model is not found under this one.
    const other = await restAs(owner).post('/threat_models', { name: 'Other model' });
    expectError(await restAs(owner).post(collaborate(other.body.id, diagram)), 404);
    const anonymous = await restAs().post(collaborate(tm, diagram));
    expectError(anonymous, 401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expectError(await restAs().get(collaborate(tm, diagram)), 401);
    expectError(await restAs().delete(collaborate(tm, diagram)), 401);
  });

  it('ends the session when its diagram is deleted', async () => {
    const diagram = await newDiagram('Short-lived');
    expect((await restAs(owner).post(collaborate(tm, diagram))).status).toBe(201);
    expect((await restAs(owner).delete(`/threat_models/${tm}/diagrams/${diagram}`)).status).toBe(204);
    expectError(await restAs(owner).get(collaborate(tm, diagram)), 404);
    expect((await restAs(owner).get('/me/sessions')).body).toEqual([]);
  });
});

describe('REST /ws/ticket', () => {
  it('issues a single-use ticket (no-store) to anyone who may read the threat model', async () => {
    const diagram = await newDiagram('Tickets');
    const session = (await restAs(owner).post(collaborate(tm, diagram))).body;
    for (const user of [owner, writer, reader]) {
      const issued = await restAs(user).get(`/ws/ticket?session_id=${session.session_id}`);
      expect(issued.status, JSON.stringify(issued.body)).toBe(200);
      expect(issued.body).toEqual({ ticket: expect.stringMatching(/^tmi_ws_[A-Za-z0-9_-]{43}$/) });
      expect(issued.headers.get('cache-control')).toBe('no-store');
    }
    const [first, second] = await Promise.all([
      restAs(reader).get(`/ws/ticket?session_id=${session.session_id}`),
      restAs(reader).get(`/ws/ticket?session_id=${session.session_id}`),
    ]);
    expect(first.body.ticket).not.toBe(second.body.ticket);
    // Tickets are stored as hashes only.
    const stored = await server.deps.db.prisma.webSocketTicket.findMany({ where: { sessionId: session.session_id } });
    expect(stored.length).toBe(5);
    expect(stored.some((row) => JSON.stringify(row).includes(first.body.ticket))).toBe(false);
    expect((await restAs(owner).delete(collaborate(tm, diagram))).status).toBe(204);
  });

  it('answers 400 for a missing or malformed session_id, 404 for an unknown session or one the caller may not join, 401', async () => {
    const diagram = await newDiagram('Ticket errors');
    const session = (await restAs(owner).post(collaborate(tm, diagram))).body;
    expectError(await restAs(owner).get('/ws/ticket?session_id=nope'), 400);
    expectError(await restAs(owner).get('/ws/ticket'), 400);
    expectError(await restAs(owner).get(`/ws/ticket?session_id=${UNKNOWN}`), 404);
    // As TMI answers: a session one may not join is one that is not there.
    const forbidden = await restAs(stranger).get(`/ws/ticket?session_id=${session.session_id}`);
    expectError(forbidden, 404);
    expect(forbidden.headers.get('cache-control')).not.toBe('no-store');
    const anonymous = await restAs().get(`/ws/ticket?session_id=${session.session_id}`);
    expectError(anonymous, 401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    // An ended session issues no more tickets.
    expect((await restAs(owner).delete(collaborate(tm, diagram))).status).toBe(204);
    expectError(await restAs(owner).get(`/ws/ticket?session_id=${session.session_id}`), 404);
  });
});

describe('REST /me/sessions', () => {
  it("lists the caller's sessions as a bare array of CollaborationSession", async () => {
    const first = await newDiagram('Mine 1');
    const second = await newDiagram('Mine 2');
    const a = (await restAs(writer).post(collaborate(tm, first))).body;
    const b = (await restAs(writer).post(collaborate(tm, second))).body;

    const mine = await restAs(writer).get('/me/sessions');
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual([a, b]);
    for (const session of mine.body) assertMatchesSchema('CollaborationSession', session);

    // Hosting is what makes a session yours here (participants are those connected over the WebSocket).
    expect((await restAs(stranger).get('/me/sessions')).body).toEqual([]);
    expect((await restAs(reader).get('/me/sessions')).body).toEqual([]);
    expectError(await restAs().get('/me/sessions'), 401);

    expect((await restAs(writer).delete(collaborate(tm, first))).status).toBe(204);
    expect((await restAs(writer).get('/me/sessions')).body).toEqual([b]);
    expect((await restAs(writer).delete(collaborate(tm, second))).status).toBe(204);
    expect((await restAs(writer).get('/me/sessions')).body).toEqual([]);
  });
});

describe('GraphQL parity', () => {
  it('serves the same sessions as REST', async () => {
    const diagram = await newDiagram('Parity');
    const started = await gqlAs(writer)(OP.start, { tm, d: diagram });
    expect(started.errors).toBeUndefined();
    const session = started.data.startCollaborationSession;
    expect(session).toMatchObject({
      id: UUID,
      threatModelId: tm,
      diagramId: diagram,
      diagramName: 'Parity',
      host: { principalType: 'USER', providerId: writer.providerId, displayName: writer.name, email: writer.email },
      presenter: null,
      participants: [],
      websocketUrl: `/threat_models/${tm}/diagrams/${diagram}/ws?session_id=${session.id}`,
    });

    const rest = await restAs(reader).get(collaborate(tm, diagram));
    expect(restToGql(rest.body)).toEqual(session);
    expect((await gqlAs(reader)(OP.get, { tm, d: diagram })).data.collaborationSession).toEqual(session);
    expect((await gqlAs(writer)(OP.mine)).data.myCollaborationSessions).toEqual([session]);
    expect((await restAs(writer).get('/me/sessions')).body.map(restToGql)).toEqual([session]);
    expect((await gqlAs(stranger)(OP.mine)).data.myCollaborationSessions).toEqual([]);

    const ticket = await gqlAs(reader)(OP.ticket, { id: session.id });
    expect(ticket.data.issueWebSocketTicket).toMatch(/^tmi_ws_/);

    const ended = await gqlAs(writer)(OP.end, { tm, d: diagram });
    expect(ended.data).toEqual({ endCollaborationSession: session.id });
    expect(gqlError(await gqlAs(writer)(OP.get, { tm, d: diagram }))?.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('fails as REST does, with the same codes and TMI bodies', async () => {
    const diagram = await newDiagram('Parity errors');
    const vars = { tm, d: diagram };
    const path = collaborate(tm, diagram);

    expectSameError(await restAs(owner).get(path), await gqlAs(owner)(OP.get, vars), 404, 'RESOURCE_NOT_FOUND');
    expectSameError(await restAs(owner).delete(path), await gqlAs(owner)(OP.end, vars), 404, 'RESOURCE_NOT_FOUND');
    const session = (await gqlAs(writer)(OP.start, vars)).data.startCollaborationSession;

    // A second start: the same status and code on both faces; REST answers the endpoint's own 409 body.
    const [twice, twiceGql] = [await restAs(owner).post(path), await gqlAs(owner)(OP.start, vars)];
    expect([twice.status, twice.body.error]).toEqual([409, 'collaboration_session_exists']);
    expect(gqlError(twiceGql)).toMatchObject({ code: 'CONFLICT', status: 409 });
    for (const op of [OP.get, OP.start, OP.end] as const) {
      const rest = await restAs(stranger).request(op === OP.get ? 'GET' : op === OP.start ? 'POST' : 'DELETE', path);
      expectSameError(rest, await gqlAs(stranger)(op, vars), 403, 'INSUFFICIENT_PERMISSIONS');
    }
    expectSameError(
      await restAs(reader).delete(path),
      await gqlAs(reader)(OP.end, vars),
      403,
      'INSUFFICIENT_PERMISSIONS',
    );
    expectSameError(
      await restAs(owner).get(collaborate(tm, 'nope')),
      await gqlAs(owner)(OP.get, { tm, d: 'nope' }),
      400,
      'VALIDATION_FAILED',
    );

    const ticket = (user: TestUser | undefined, id: string) =>
      Promise.all([restAs(user).get(`/ws/ticket?session_id=${id}`), gqlAs(user)(OP.ticket, { id })]);
    expectSameError(...(await ticket(owner, 'nope')), 400, 'VALIDATION_FAILED');
    expectSameError(...(await ticket(owner, UNKNOWN)), 404, 'RESOURCE_NOT_FOUND');
    expectSameError(...(await ticket(stranger, session.id)), 404, 'RESOURCE_NOT_FOUND');
    expectSameError(...(await ticket(undefined, session.id)), 401, 'UNAUTHENTICATED');
    const anonymous = await Promise.all([restAs().get('/me/sessions'), gqlAs()(OP.mine)]);
    expectSameError(...anonymous, 401, 'UNAUTHENTICATED');

    // The owner may end a session someone else hosts, on either face.
    expect((await gqlAs(owner)(OP.end, vars)).data).toEqual({ endCollaborationSession: session.id });
  });
});
