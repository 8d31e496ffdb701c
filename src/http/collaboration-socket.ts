import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import type { AppDeps } from '../app-deps.js';
import { principalOfUser } from '../auth/principal.js';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../infra/errors/registry.js';
import type { ServiceContext } from '../infra/context.js';
import { OperationRejected } from '../modules/collaboration/cell-operations.js';
import type { CollaborationUser } from '../modules/collaboration/events.js';
import { type Fanned, type FeedEvent, type FeedMembership, SessionFeeds } from '../modules/collaboration/feed.js';
import { CollaborationService, type DiagramState, type SessionView } from '../modules/collaboration/service.js';
import { tokenFromHeaders } from './auth.js';

// TMI's diagram-collaboration WebSocket protocol (tmi-asyncapi.yml), translated onto the collaboration
// service. This file speaks the wire format only: every decision is the service's.

const SOCKET_PATH = /^\/threat_models\/([^/]+)\/diagrams\/([^/]+)\/ws$/;

/** Whether an upgrade request is for TMI's collaboration socket. */
export const isCollaborationSocketPath = (path: string): boolean => SOCKET_PATH.test(path);
/** TMI's limits: 4 KB per message, 50 KB per operation. */
const MAX_MESSAGE_BYTES = 64 * 1024;

const user = z
  .object({
    principal_type: z.string().optional(),
    provider: z.string().max(100).optional(),
    provider_id: z.string().max(500).optional(),
    email: z.string().max(254).optional(),
    display_name: z.string().max(256).optional(),
  })
  .passthrough();

/** Every message a client may send, by `message_type`; the older names are accepted too. */
const clientMessage = z.discriminatedUnion('message_type', [
  z.object({
    message_type: z.literal('diagram_operation_request'),
    operation_id: z.string(),
    base_vector: z.number().int().min(0).nullish(),
    operation: z.unknown(),
  }),
  z.object({
    message_type: z.literal('diagram_operation'),
    operation_id: z.string(),
    base_vector: z.number().int().min(0).nullish(),
    operation: z.unknown(),
    user_id: z.string().optional(),
  }),
  z.object({ message_type: z.literal('undo_request'), user_id: z.string().optional() }),
  z.object({ message_type: z.literal('redo_request'), user_id: z.string().optional() }),
  z.object({ message_type: z.literal('sync_status_request') }),
  z.object({ message_type: z.literal('sync_request'), update_vector: z.number().int().min(0).nullish() }),
  z.object({ message_type: z.literal('diagram_state_sync'), update_vector: z.number().int().min(0).nullish() }),
  z.object({ message_type: z.literal('presenter_request'), user_id: z.string().optional() }),
  z.object({ message_type: z.literal('presenter_denied_request'), denied_user: user }),
  z.object({ message_type: z.literal('change_presenter_request'), new_presenter: user }),
  z.object({
    message_type: z.literal('presenter_cursor'),
    cursor_position: z.object({ x: z.number(), y: z.number() }),
    user_id: z.string().optional(),
  }),
  z.object({ message_type: z.literal('presenter_selection'), selected_cells: z.array(z.string()).max(10_000) }),
  z.object({ message_type: z.literal('remove_participant_request'), removed_user: user }),
]);
type ClientMessage = z.infer<typeof clientMessage>;

const wireUser = (u: CollaborationUser) => ({
  principal_type: 'user',
  provider: u.provider,
  provider_id: u.providerId,
  email: u.email,
  display_name: u.displayName,
});

const named = (u: z.infer<typeof user>) => ({ provider: u.provider, providerId: u.provider_id, email: u.email });

/**
 * One client's connection: a listener of the instance's feed of its session (`SessionFeeds`), which
 * delivers the session's events in update-vector order; this adapter only turns them into frames.
 */
interface Connection {
  connectionId: string;
  socket: WebSocket;
  principal: Principal;
  sessionId: string;
  diagramId: string;
  permissions: 'reader' | 'writer';
  service: CollaborationService;
  /** Its place in the session's feed: the update vector its client has. */
  membership: FeedMembership;
  /**
   * Its client's messages are handled one at a time, in order. Events from the feed do not wait behind
   * them (a broadcast is not held up by the receiver's own operation in flight), except where a message
   * sends the client a state or a vector (`holdEvents`).
   */
  queue: Promise<void>;
  /** Events kept back while a message's answer that carries the diagram's vector is prepared. */
  held: Fanned[] | undefined;
  alive: boolean;
  active: boolean;
  /** The participants list last sent, so an identical one is not sent twice. */
  lastParticipants?: string;
  /** Operation ids this connection sent: the others' broadcast, never echoed back to it. */
  own: Set<string>;
  /**
   * The vectors this connection's accepted operations got, which its client cannot know (nothing is
   * echoed): its later operations are built on them, so they are no conflict for those.
   */
  applied: Set<number>;
}

/** The frame an event becomes, the same for every connection it goes to (rendered once, `Fanned.render`). */
function serialize(event: FeedEvent): string {
  switch (event.type) {
    case 'state':
      return JSON.stringify(stateMessage(event));
    case 'operation':
      return JSON.stringify(operationMessage(event));
    case 'participants':
      return JSON.stringify(participantsMessage(event));
    case 'presenter_request':
      return JSON.stringify({ message_type: 'presenter_request_event', requesting_user: wireUser(event.user) });
    case 'presenter_denied':
      return JSON.stringify({ message_type: 'presenter_denied_event', denied_user: wireUser(event.user) });
    case 'presenter_cursor':
      return JSON.stringify({ message_type: 'presenter_cursor', cursor_position: { x: event.x, y: event.y } });
    case 'presenter_selection':
      return JSON.stringify({ message_type: 'presenter_selection', selected_cells: event.cells });
    default:
      return '';
  }
}

function enqueue(connection: Connection, step: () => Promise<void>): void {
  connection.queue = connection.queue.then(step).catch((error: unknown) => {
    sendError(connection.socket, 'internal_error', error instanceof Error ? error.message : 'internal error');
  });
}

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

function sendError(socket: WebSocket, error: string, message: string, details?: object): void {
  send(socket, {
    message_type: 'error',
    error,
    message,
    ...(details ? { details } : {}),
    timestamp: new Date().toISOString(),
  });
}

function stateMessage(state: DiagramState) {
  return {
    message_type: 'diagram_state',
    diagram_id: state.diagramId,
    update_vector: state.updateVector,
    cells: state.cells,
    ...(state.colorPalette ? { color_palette: state.colorPalette } : {}),
  };
}

function participantsMessage(view: Pick<SessionView, 'participants' | 'host' | 'presenter'>) {
  return {
    message_type: 'participants_update',
    participants: view.participants.map((p) => ({
      user: wireUser(p.user),
      permissions: p.permissions,
      last_activity: p.lastActivity,
    })),
    host: wireUser(view.host),
    current_presenter: view.presenter ? wireUser(view.presenter) : null,
  };
}

function operationMessage(op: { updateVector: number; operationId: string; user: CollaborationUser; cells: unknown }) {
  return {
    message_type: 'diagram_operation_event',
    initiating_user: wireUser(op.user),
    operation_id: op.operationId,
    sequence_number: op.updateVector,
    update_vector: op.updateVector,
    operation: { type: 'patch', cells: op.cells },
  };
}

/** Sends one of the feed's events (already in order, and past what the client has) to a connection. */
function deliverTo(connection: Connection, fanned: Fanned): void {
  if (connection.held) {
    connection.held.push(fanned);
    return;
  }
  const { socket } = connection;
  const event = fanned.event;
  const sendFrame = () => {
    if (socket.readyState === socket.OPEN) socket.send(fanned.render(serialize));
  };
  switch (event.type) {
    case 'operation':
      // The sender applied it already: it is never echoed.
      if (!connection.own.delete(event.operationId)) sendFrame();
      return;
    case 'state':
      sendFrame();
      return;
    case 'participants': {
      // The joining connection got the list directly; the same list again (its own join) is noise.
      const message = fanned.render(serialize);
      if (message !== connection.lastParticipants) sendFrame();
      connection.lastParticipants = message;
      return;
    }
    case 'presenter_request':
    case 'presenter_denied':
    case 'presenter_cursor':
    case 'presenter_selection':
      sendFrame();
      return;
    case 'removed':
      if (event.userId !== connection.principal.userId) return;
      sendError(socket, 'removed', 'The host removed you from the session');
      socket.close(4003, 'removed from the session');
      return;
    case 'ended':
      sendError(socket, 'session_ended', 'The collaboration session has ended');
      socket.close(1000, 'session ended');
      return;
  }
}

/**
 * Runs a step that sends the client the diagram's vector (`update_vector`), holding the feed's events
 * meanwhile: afterwards the client has what the step sent (`vector`), and only events past it follow.
 */
async function holdEvents(connection: Connection, step: () => Promise<number | undefined>): Promise<void> {
  connection.held ??= [];
  let vector: number | undefined;
  try {
    vector = await step();
  } finally {
    const held = connection.held;
    connection.held = undefined;
    if (vector !== undefined) connection.membership.vector = vector;
    for (const fanned of held) {
      const event = fanned.event;
      if (
        vector !== undefined &&
        (event.type === 'operation' || event.type === 'state') &&
        event.updateVector <= vector
      ) {
        continue;
      }
      deliverTo(connection, fanned);
    }
  }
}

async function handleMessage(connection: Connection, message: ClientMessage): Promise<void> {
  const { service, socket, sessionId } = connection;
  switch (message.message_type) {
    case 'diagram_operation_request':
    case 'diagram_operation': {
      if (connection.permissions !== 'writer') {
        send(socket, {
          message_type: 'authorization_denied',
          original_operation_id: message.operation_id,
          reason: 'read_only_user',
        });
        return;
      }
      connection.own.add(message.operation_id.toLowerCase());
      // Vectors at or below the client's base it knows of already.
      for (const vector of connection.applied) {
        if (vector <= (message.base_vector ?? 0)) connection.applied.delete(vector);
      }
      try {
        const applied = await service.applyOperation(sessionId, {
          operationId: message.operation_id,
          baseVector: message.base_vector ?? null,
          operation: message.operation,
          ownVectors: connection.applied,
        });
        connection.applied.add(applied.updateVector);
        // Its client has it (it is never echoed): when it is the next vector, nothing is left to skip.
        if (applied.updateVector === connection.membership.vector + 1) {
          connection.membership.vector = applied.updateVector;
          connection.own.delete(applied.operationId);
        }
      } catch (error) {
        connection.own.delete(message.operation_id.toLowerCase());
        await reject(connection, message.operation_id, error);
      }
      return;
    }
    case 'undo_request':
    case 'redo_request': {
      if (connection.permissions !== 'writer') {
        send(socket, {
          message_type: 'authorization_denied',
          original_operation_id: randomUUID(),
          reason: 'read_only_user',
        });
        return;
      }
      const operationId = randomUUID();
      try {
        // The requester gets the resulting operation like everyone else: it must apply it too.
        await (message.message_type === 'undo_request'
          ? service.undo(sessionId, operationId)
          : service.redo(sessionId, operationId));
      } catch (error) {
        await reject(connection, operationId, error);
      }
      return;
    }
    case 'sync_status_request':
      send(socket, {
        message_type: 'sync_status_response',
        update_vector: await service.diagramVector(connection.diagramId),
      });
      return;
    case 'sync_request':
    case 'diagram_state_sync':
      await holdEvents(connection, async () => {
        const state = await service.state(connection.diagramId);
        if (message.update_vector != null && message.update_vector === state.updateVector) {
          send(socket, { message_type: 'sync_status_response', update_vector: state.updateVector });
        } else {
          send(socket, stateMessage(state));
        }
        return state.updateVector;
      });
      return;
    case 'presenter_request':
      await service.requestPresenter(sessionId);
      return;
    case 'presenter_denied_request':
      await service.denyPresenter(sessionId, named(message.denied_user));
      return;
    case 'change_presenter_request':
      await service.changePresenter(sessionId, named(message.new_presenter));
      return;
    case 'remove_participant_request':
      await service.removeParticipant(sessionId, named(message.removed_user));
      return;
    case 'presenter_cursor':
    case 'presenter_selection': {
      // Only the presenter's pointer is shared; anyone else's is dropped quietly.
      if (!(await service.isPresenter(sessionId))) return;
      const me = await service.userOf(connection.principal.userId);
      await service.publish(
        message.message_type === 'presenter_cursor'
          ? {
              sessionId,
              except: connection.connectionId,
              type: 'presenter_cursor',
              user: me,
              ...message.cursor_position,
            }
          : {
              sessionId,
              except: connection.connectionId,
              type: 'presenter_selection',
              user: me,
              cells: message.selected_cells,
            },
      );
      return;
    }
  }
}

async function reject(connection: Connection, operationId: string, error: unknown): Promise<void> {
  if (!(error instanceof OperationRejected)) throw error;
  const state = await connection.service.state(connection.diagramId);
  send(connection.socket, {
    message_type: 'operation_rejected',
    operation_id: operationId,
    update_vector: state.updateVector,
    reason: error.reason,
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
    ...(error.affectedCells.length > 0 ? { affected_cells: error.affectedCells } : {}),
    requires_resync: error.reason === 'conflict_detected',
    timestamp: new Date().toISOString(),
  });
}

/** Answers an upgrade that cannot proceed with a plain HTTP error in TMI's format. */
function refuse(socket: Duplex, status: number, error: Error): void {
  const body = JSON.stringify({
    error: error instanceof AppError ? error.spec.tmiError : 'server_error',
    error_description: error instanceof AppError ? error.message : 'An internal server error occurred',
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Serves `/threat_models/{tm}/diagrams/{d}/ws?session_id=…` with a ticket (`&ticket=`), a token
 * (`&token=`), the Authorization header or the web client's cookie.
 */
export function registerCollaborationSocket(app: FastifyInstance, deps: AppDeps) {
  const instanceId = randomUUID();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const contextFor = (principal: Principal | undefined): ServiceContext =>
    deps.serviceContext({ principal, requestId: randomUUID() });
  /** The sessions' events, one feed per session for every transport of this instance. */
  const feeds = SessionFeeds.of(contextFor(undefined));
  /** This instance's open connections. */
  const connections = new Set<Connection>();

  async function authenticate(request: IncomingMessage, url: URL): Promise<Principal> {
    const sessionId = url.searchParams.get('session_id');
    const ticket = url.searchParams.get('ticket');
    if (ticket) {
      if (!sessionId) throw new AppError('INVALID_REQUEST', 'session_id is required with a ticket');
      const user = await new CollaborationService(contextFor(undefined)).redeemTicket(sessionId, ticket);
      return principalOfUser(user, {
        tokenId: `ws-ticket:${sessionId}`,
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      });
    }
    const token =
      url.searchParams.get('token') ?? tokenFromHeaders(request.headers.authorization, request.headers.cookie);
    if (!token) throw new AppError('UNAUTHENTICATED');
    return deps.tokens.verify(token);
  }

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = SOCKET_PATH.exec(url.pathname);
    if (!match) return;
    void (async () => {
      let principal: Principal;
      try {
        principal = await authenticate(request, url);
      } catch (error) {
        refuse(socket, error instanceof AppError && error.code === 'INVALID_REQUEST' ? 400 : 401, error as Error);
        return;
      }
      const service = new CollaborationService(contextFor(principal));
      let session: SessionView;
      try {
        const sessionId = url.searchParams.get('session_id');
        session = sessionId
          ? await service.viewOf(sessionId)
          : await service.get(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!));
        if (session.diagramId !== decodeURIComponent(match[2]!).toLowerCase()) {
          throw new AppError('RESOURCE_NOT_FOUND', 'The session is not on this diagram');
        }
      } catch (error) {
        refuse(socket, error instanceof AppError ? error.status : 500, error as Error);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        void open(ws, principal, service, session).catch((error: unknown) => {
          sendError(ws, 'join_failed', error instanceof Error ? error.message : 'could not join');
          ws.close(4003, 'could not join');
        });
      });
    })();
  });

  async function open(socket: WebSocket, principal: Principal, service: CollaborationService, session: SessionView) {
    const id = randomUUID();
    const pending: RawData[] = [];
    socket.on('message', (data) => pending.push(data));
    let closedEarly = false;
    socket.once('close', () => (closedEarly = true));
    // Listen before reading the state, so no change committed after that read can be missed; the
    // membership skips what the state already holds. It delivers nothing before `start`, after the join.
    const membership = await feeds.join(
      { id: session.id, diagramId: session.diagramId, threatModelId: session.threatModelId },
      { connectionId: id, userId: principal.userId, deliver: (fanned) => deliverTo(connection, fanned) },
    );
    let joined: Awaited<ReturnType<CollaborationService['join']>>;
    try {
      joined = await service.join(session.id, { id, instanceId });
    } catch (error) {
      membership.leave();
      throw error;
    }
    const connection: Connection = {
      connectionId: id,
      socket,
      principal,
      sessionId: session.id,
      diagramId: session.diagramId,
      permissions: joined.permissions,
      service,
      membership,
      queue: Promise.resolve(),
      held: undefined,
      alive: true,
      active: false,
      own: new Set(),
      applied: new Set(),
    };
    connections.add(connection);
    const leave = () => {
      connections.delete(connection);
      membership.leave();
      enqueue(connection, () => service.leave(id));
    };
    if (closedEarly) {
      leave();
      return;
    }
    socket.on('close', leave);
    // The client renders nothing before the diagram's state, then needs its own entry to edit.
    send(socket, stateMessage(joined.state));
    connection.lastParticipants = JSON.stringify(participantsMessage(joined.session));
    if (socket.readyState === socket.OPEN) socket.send(connection.lastParticipants);
    // What the session did meanwhile, past that state, then everything as it comes.
    membership.start(joined.state.updateVector);
    socket.removeAllListeners('message');
    const onMessage = (data: RawData) => {
      connection.active = true;
      enqueue(connection, async () => {
        let parsed: ClientMessage;
        try {
          const result = clientMessage.safeParse(JSON.parse(data.toString()));
          if (!result.success) {
            const issue = result.error.issues[0]!;
            sendError(
              socket,
              'invalid_message',
              `Invalid message: ${issue.path.join('.') || 'message'}: ${issue.message}`,
            );
            return;
          }
          parsed = result.data;
        } catch {
          sendError(socket, 'invalid_message', 'Messages must be JSON objects');
          return;
        }
        try {
          await handleMessage(connection, parsed);
        } catch (error) {
          if (error instanceof AppError) {
            sendError(socket, error.code.toLowerCase(), error.message);
          } else {
            deps.log.error({ err: error }, 'collaboration message failed');
            sendError(socket, 'internal_error', 'The message could not be handled');
          }
        }
      });
    };
    socket.on('message', onMessage);
    for (const data of pending) onMessage(data);
    socket.on('pong', () => {
      connection.alive = true;
    });
  }

  // Protocol keepalive: a connection that misses a pong for a whole interval is gone. The same tick
  // tells the database this instance's connections are alive.
  const keepalive = setInterval(() => {
    const all = [...connections];
    for (const connection of all) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
    const active = all.filter((c) => c.active).map((c) => c.connectionId);
    for (const connection of all) connection.active = false;
    void new CollaborationService(contextFor(undefined))
      .touchConnections(instanceId, active)
      .catch((error: unknown) => deps.log.warn({ err: error }, 'could not refresh collaboration connections'));
  }, deps.config.collaboration.pingIntervalMs);
  keepalive.unref();

  return {
    /**
     * Closes every connection (1001) and waits for each to be gone and left (its participant row deleted,
     * the others told), so a stopping instance leaves no one behind; a peer that does not answer the
     * close handshake within a second is cut off.
     */
    async close() {
      clearInterval(keepalive);
      const all = [...connections];
      await Promise.all(
        all.map(
          ({ socket }) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === socket.CLOSED) return resolve();
              const timer = setTimeout(() => socket.terminate(), 1000);
              socket.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              socket.close(1001, 'server shutting down');
            }),
        ),
      );
      // The close handlers queued each connection's leave: wait for it.
      await Promise.all(all.map((connection) => connection.queue));
      wss.close();
    },
  };
}
