import { hashSecret, randomSecret } from '../../auth/tokens.js';
import type { Prisma, User } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { deliveryIdsOf, eventMessages, eventsParameter, publishEvents } from '../events/events.js';
import { enqueueDeliveries } from '../webhooks/fanout.js';
import type { Cell } from '../diagrams/cells.js';
import { cellsInDrawingOrder } from '../diagrams/store.js';
import { authorizeThreatModel } from '../threat-models/access.js';
import { parseId } from '../threat-models/input.js';
import { can, roleOf } from '../threat-models/policy.js';
import { accessEntries, loadThreatModelAccess } from '../threat-models/read.js';
import { SessionEdits } from './edits.js';
import { type OperationEvent, SessionFeeds } from './feed.js';
import {
  type DiagramSnapshot,
  type EditOutcome,
  latestOperation,
  operationAt,
  sessionAccess,
  cellChanges,
  snapshotForEdit,
  tryEdit,
} from './operation-log.js';
import { applyCellOperations, type CellOperation, OperationRejected, parseCellOperations } from './cell-operations.js';
import type { CollaborationUser, ParticipantView, SessionEvent } from './events.js';

/** How often an edit is planned again when other edits keep getting to the diagram first. */
const MAX_EDIT_ATTEMPTS = 20;

/** Tickets open one WebSocket connection, once, within this many milliseconds. */
export const TICKET_LIFETIME_MS = 30_000;
/** A session nobody is connected to ends after this long without activity. */
export const SESSION_IDLE_MS = 15 * 60_000;
/** A connection row not refreshed for this long belongs to an instance that is gone. */
export const PARTICIPANT_STALE_MS = 90_000;

/** How messages name a user: TMI's User (provider + provider_id, or email). */
export interface UserReference {
  provider?: string | null;
  providerId?: string | null;
  email?: string | null;
}

export interface SessionView {
  id: string;
  threatModelId: string;
  threatModelName: string;
  diagramId: string;
  diagramName: string;
  host: CollaborationUser;
  presenter: CollaborationUser | null;
  participants: ParticipantView[];
}

export interface DiagramState {
  diagramId: string;
  updateVector: number;
  cells: Cell[];
  colorPalette: unknown;
}

export interface AppliedOperation {
  updateVector: number;
  operationId: string;
  cells: CellOperation[];
}

export const toCollaborationUser = (user: User): CollaborationUser => ({
  userId: user.id,
  provider: user.provider,
  providerId: user.providerId,
  email: user.email,
  displayName: user.name,
});

function sessionNotFound(diagramId: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'No collaboration session for this diagram', {
    context: { resource_type: 'collaboration_session', diagram_id: diagramId },
  });
}

/**
 * Collaboration sessions on diagrams: who hosts them, who may join (the threat model's readers;
 * only writers edit), the single-use tickets that open a WebSocket, and the cell operations applied
 * through them. Every operation is serialized on the diagram's row and logged under the update
 * vector it produced, so two instances can never hand out the same vector. Transport-free: the
 * WebSocket adapter and the GraphQL resolvers call these methods and fan out what they return.
 */
export class CollaborationService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The session of a diagram (404 when there is none). */
  async get(threatModelId: string, rawDiagramId: string): Promise<SessionView> {
    const { diagramId } = await this.diagram(threatModelId, rawDiagramId, 'threat_model:read');
    const session = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { diagramId } });
    if (!session) throw sessionNotFound(diagramId);
    return this.view(session.id);
  }

  /** Starts a session with the caller as host; 409 when the diagram already has one. */
  async start(threatModelId: string, rawDiagramId: string): Promise<SessionView> {
    const principal = requirePrincipal(this.ctx);
    const { diagramId, tmId } = await this.diagram(threatModelId, rawDiagramId, 'threat_model:read');
    const existing = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { diagramId } });
    if (existing) throw this.alreadyActive(existing.id);
    try {
      const session = await this.ctx.db.prisma.collaborationSession.create({
        data: { diagramId, threatModelId: tmId, hostId: principal.userId, lastActivityAt: this.ctx.now() },
      });
      return this.view(session.id);
    } catch (error) {
      if ((error as { code?: string }).code === 'P2002') {
        const raced = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { diagramId } });
        throw this.alreadyActive(raced?.id);
      }
      throw error;
    }
  }

  /** Ends the session: its host or the threat model's owner may. Open connections are closed. */
  async end(threatModelId: string, rawDiagramId: string): Promise<string> {
    const principal = requirePrincipal(this.ctx);
    const { diagramId, tmId } = await this.diagram(threatModelId, rawDiagramId, 'threat_model:read');
    const session = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { diagramId } });
    if (!session) throw sessionNotFound(diagramId);
    const access = await loadThreatModelAccess(this.ctx.db, tmId);
    if (session.hostId !== principal.userId && !(access && can(principal, 'threat_model:delete', access))) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'Only the host or the owner may end the session');
    }
    await this.ctx.db.prisma.collaborationSession.deleteMany({ where: { id: session.id } });
    await this.publish({ sessionId: session.id, type: 'ended' });
    return session.id;
  }

  /** The sessions the caller hosts or takes part in. */
  async mine(): Promise<SessionView[]> {
    const principal = requirePrincipal(this.ctx);
    const sessions = await this.ctx.db.prisma.collaborationSession.findMany({
      where: { OR: [{ hostId: principal.userId }, { participants: { some: { userId: principal.userId } } }] },
      orderBy: { createdAt: 'asc' },
      select: { id: true },
    });
    return Promise.all(sessions.map(({ id }) => this.view(id)));
  }

  /** A single-use ticket for opening the session's WebSocket, valid for 30 seconds. */
  async issueTicket(rawSessionId: string): Promise<string> {
    const principal = requirePrincipal(this.ctx);
    const session = await this.sessionById(rawSessionId);
    const access = await loadThreatModelAccess(this.ctx.db, session.threatModelId);
    // As TMI answers: a session one may not join is one that is not there.
    if (!access || !can(principal, 'threat_model:read', access)) throw this.sessionMissing(session.id);
    if (session.removedUserIds.includes(principal.userId)) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'The host removed you from this session');
    }
    const ticket = `tmi_ws_${randomSecret()}`;
    await this.ctx.db.prisma.webSocketTicket.create({
      data: {
        ticketHash: hashSecret(ticket),
        sessionId: session.id,
        userId: principal.userId,
        expiresAt: new Date(this.ctx.now().getTime() + TICKET_LIFETIME_MS),
      },
    });
    return ticket;
  }

  /**
   * Redeems a ticket for the session it was issued for: returns its user, once. Unknown, used,
   * expired or foreign tickets are all UNAUTHENTICATED.
   */
  async redeemTicket(rawSessionId: string, ticket: string): Promise<User> {
    const sessionId = parseId(rawSessionId, 'session_id');
    const rows = await this.ctx.db.prisma.$queryRaw<{ user_id: string }[]>`
      UPDATE websocket_tickets SET used_at = ${this.ctx.now()}
      WHERE ticket_hash = ${hashSecret(ticket)} AND session_id = ${sessionId}::uuid
        AND used_at IS NULL AND expires_at > ${this.ctx.now()}
      RETURNING user_id`;
    const userId = rows[0]?.user_id;
    if (!userId) throw new AppError('UNAUTHENTICATED', 'The ticket is unknown, used or expired');
    return this.ctx.db.prisma.user.findUniqueOrThrow({ where: { id: userId } });
  }

  /**
   * Registers a connection of the caller to a session (the caller must still be able to read the
   * threat model): returns the permissions it gets and the diagram's state to send first.
   */
  async join(
    rawSessionId: string,
    connection: { id: string; instanceId: string },
  ): Promise<{ session: SessionView; permissions: 'reader' | 'writer'; state: DiagramState }> {
    const principal = requirePrincipal(this.ctx);
    const session = await this.sessionById(rawSessionId);
    const access = await loadThreatModelAccess(this.ctx.db, session.threatModelId);
    const role = access && roleOf(principal, access);
    if (!role) throw new AppError('INSUFFICIENT_PERMISSIONS', 'You may not read this threat model');
    if (session.removedUserIds.includes(principal.userId)) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'The host removed you from this session');
    }
    const permissions = role === 'reader' ? 'reader' : 'writer';
    const now = this.ctx.now();
    await this.ctx.db.prisma.$transaction([
      this.ctx.db.prisma.collaborationParticipant.create({
        data: {
          id: connection.id,
          sessionId: session.id,
          userId: principal.userId,
          instanceId: connection.instanceId,
          permissions,
          connectedAt: now,
          lastActivityAt: now,
          seenAt: now,
        },
      }),
      this.ctx.db.prisma.collaborationSession.update({ where: { id: session.id }, data: { lastActivityAt: now } }),
    ]);
    const view = await this.view(session.id);
    await this.publishParticipants(view);
    return { session: view, permissions, state: await this.state(session.diagramId) };
  }

  /** Forgets a connection; when the host's last connection goes, the longest-present writer hosts. */
  async leave(connectionId: string): Promise<void> {
    const row = await this.ctx.db.prisma.collaborationParticipant.findUnique({ where: { id: connectionId } });
    if (!row) return;
    await this.ctx.db.prisma.collaborationParticipant.deleteMany({ where: { id: connectionId } });
    const session = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { id: row.sessionId } });
    if (!session) return;
    await this.handOverIfGone(session);
  }

  /** Where a diagram's history is: its current update vector. */
  async diagramVector(diagramId: string): Promise<number> {
    const diagram = await this.ctx.db.prisma.diagram.findUniqueOrThrow({
      where: { id: diagramId },
      select: { updateVector: true },
    });
    return Number(diagram.updateVector);
  }

  /** A session's diagram and threat model, what a feed of its events listens to (404 when there is none). */
  async feedTarget(rawSessionId: string): Promise<{ id: string; diagramId: string; threatModelId: string }> {
    const session = await this.sessionById(rawSessionId);
    return { id: session.id, diagramId: session.diagramId, threatModelId: session.threatModelId };
  }

  async state(diagramId: string): Promise<DiagramState> {
    const diagram = await this.ctx.db.prisma.diagram.findUniqueOrThrow({
      where: { id: diagramId },
      select: {
        id: true,
        updateVector: true,
        colorPalette: true,
        cellRows: cellsInDrawingOrder,
      },
    });
    return {
      diagramId: diagram.id,
      updateVector: Number(diagram.updateVector),
      cells: diagram.cellRows.map((row) => row.cell as Cell),
      colorPalette: diagram.colorPalette,
    };
  }

  /**
   * Applies a writer's cell operations. A client that built them on an older update vector is
   * refused (conflict) only when a change since then touched the same cells, or when a change it
   * cannot see cell by cell (a REST replace) happened. Throws OperationRejected.
   */
  async applyOperation(
    rawSessionId: string,
    request: {
      operationId: string;
      baseVector?: number | null;
      operation: unknown;
      /**
       * The vectors of the sender's own earlier operations (on the same connection): it built this one
       * on top of them, in order, though it cannot know their vectors (they are not echoed back to it),
       * so they never conflict with it.
       */
      ownVectors?: ReadonlySet<number>;
    },
  ): Promise<AppliedOperation> {
    const operations = parseCellOperations(request.operation);
    return this.edit(rawSessionId, request.operationId, 'operation', request.baseVector ?? null, async (diagram) => {
      if (request.baseVector != null && request.baseVector < diagram.updateVector) {
        conflictsSince(diagram.since, request.baseVector, diagram.updateVector, operations, request.ownVectors);
      }
      return { operations, targetVector: null, marksUndone: null };
    });
  }

  /** Undoes the session's latest operation that is not undone yet. */
  undo(sessionId: string, operationId: string): Promise<AppliedOperation> {
    return this.edit(sessionId, operationId, 'undo', null, async (diagram) => {
      const target = await latestOperation(this.ctx.db.pool, diagram.id, diagram.sessionId, ['operation', 'redo']);
      if (!target) throw new OperationRejected('no_state_change', 'Nothing to undo');
      return { operations: target.inverse, targetVector: target.updateVector, marksUndone: target.updateVector };
    });
  }

  /** Redoes the latest undo of the session, unless the session changed the diagram since. */
  redo(sessionId: string, operationId: string): Promise<AppliedOperation> {
    return this.edit(sessionId, operationId, 'redo', null, async (diagram) => {
      const latest = await latestOperation(this.ctx.db.pool, diagram.id, diagram.sessionId);
      const undone =
        latest?.kind === 'undo' && latest.targetVector != null
          ? await operationAt(this.ctx.db.pool, diagram.id, latest.targetVector)
          : undefined;
      if (!latest || !undone) throw new OperationRejected('no_state_change', 'Nothing to redo');
      return { operations: undone.cells, targetVector: undone.updateVector, marksUndone: latest.updateVector };
    });
  }

  /** Presenter mode: the host presents at once; anyone else's request goes to the host to decide. */
  async requestPresenter(rawSessionId: string): Promise<void> {
    const principal = requirePrincipal(this.ctx);
    const session = await this.sessionById(rawSessionId);
    if (session.hostId === principal.userId) {
      await this.setPresenter(session.id, principal.userId);
      return;
    }
    const user = await this.ctx.db.prisma.user.findUniqueOrThrow({ where: { id: principal.userId } });
    await this.publish({
      sessionId: session.id,
      to: session.hostId,
      type: 'presenter_request',
      user: toCollaborationUser(user),
    });
  }

  /** The host refuses someone's request to present; they are told. */
  async denyPresenter(rawSessionId: string, named: UserReference): Promise<void> {
    const session = await this.hostSession(rawSessionId);
    const user = await this.participantUser(session.id, named);
    await this.publish({
      sessionId: session.id,
      to: user.id,
      type: 'presenter_denied',
      user: toCollaborationUser(user),
    });
  }

  /** The host hands presenting to a participant (or takes it back). */
  async changePresenter(rawSessionId: string, named: UserReference): Promise<void> {
    const session = await this.hostSession(rawSessionId);
    const user = await this.participantUser(session.id, named);
    await this.setPresenter(session.id, user.id);
  }

  /** The host removes a participant: their connections are closed. */
  async removeParticipant(rawSessionId: string, named: UserReference): Promise<void> {
    const session = await this.hostSession(rawSessionId);
    const user = await this.participantUser(session.id, named);
    if (user.id === session.hostId) throw new AppError('VALIDATION_FAILED', 'The host cannot remove themselves');
    // Removed for the rest of the session: they may not come back in.
    await this.ctx.db.prisma.$transaction([
      this.ctx.db.prisma.collaborationSession.update({
        where: { id: session.id },
        data: { removedUserIds: { push: user.id } },
      }),
      this.ctx.db.prisma.collaborationParticipant.deleteMany({ where: { sessionId: session.id, userId: user.id } }),
    ]);
    await this.publish({ sessionId: session.id, type: 'removed', userId: user.id });
    await this.handOverIfGone(session);
  }

  /** Whether the caller presents in the session (only the presenter's cursor and selection are relayed). */
  async isPresenter(rawSessionId: string): Promise<boolean> {
    const principal = requirePrincipal(this.ctx);
    const session = await this.sessionById(rawSessionId);
    return session.presenterId === principal.userId;
  }

  /** Refreshes the connections an instance holds, and records activity on them. */
  async touchConnections(instanceId: string, active: string[]): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.prisma.collaborationParticipant.updateMany({ where: { instanceId }, data: { seenAt: now } });
    if (active.length > 0) {
      await this.ctx.db.prisma.collaborationParticipant.updateMany({
        where: { id: { in: active } },
        data: { lastActivityAt: now },
      });
    }
  }

  /** A session by id, for someone who may read its threat model. */
  async viewOf(rawSessionId: string): Promise<SessionView> {
    const session = await this.sessionById(rawSessionId);
    await authorizeThreatModel(this.ctx, session.threatModelId, 'threat_model:read');
    return this.view(session.id);
  }

  /** The session of a diagram named by its id alone (404 when there is none), for its threat model's readers. */
  async getByDiagram(rawDiagramId: string): Promise<SessionView> {
    const diagramId = parseId(rawDiagramId, 'diagram_id');
    const diagram = await this.ctx.db.prisma.diagram.findUnique({
      where: { id: diagramId },
      select: { threatModelId: true },
    });
    if (!diagram) {
      throw new AppError('RESOURCE_NOT_FOUND', 'Diagram not found', {
        context: { resource_type: 'diagram', resource_id: diagramId },
      });
    }
    return this.get(diagram.threatModelId, diagramId);
  }

  /** The current update vector of a session's diagram (what a refused writer must resynchronize to). */
  async vectorOf(rawSessionId: string): Promise<number> {
    return (await this.state((await this.sessionById(rawSessionId)).diagramId)).updateVector;
  }

  async userOf(userId: string): Promise<CollaborationUser> {
    return toCollaborationUser(await this.ctx.db.prisma.user.findUniqueOrThrow({ where: { id: userId } }));
  }

  /**
   * Housekeeping, run by a scheduled job: connections not refreshed by their instance are gone (their
   * sessions hear of it, and get a new host if theirs left); sessions idle for 15 minutes with nobody
   * connected end; expired tickets go.
   */
  async sweep(): Promise<{ connections: number; sessions: number; tickets: number }> {
    const now = this.ctx.now().getTime();
    const stale = await this.ctx.db.prisma.collaborationParticipant.findMany({
      where: { seenAt: { lt: new Date(now - PARTICIPANT_STALE_MS) } },
      select: { id: true, sessionId: true },
    });
    await this.ctx.db.prisma.collaborationParticipant.deleteMany({ where: { id: { in: stale.map((p) => p.id) } } });
    for (const sessionId of new Set(stale.map((p) => p.sessionId))) {
      const session = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { id: sessionId } });
      if (!session) continue;
      await this.handOverIfGone(session);
    }
    const idle = await this.ctx.db.prisma.collaborationSession.findMany({
      where: { lastActivityAt: { lt: new Date(now - SESSION_IDLE_MS) }, participants: { none: {} } },
      select: { id: true },
    });
    await this.ctx.db.prisma.collaborationSession.deleteMany({ where: { id: { in: idle.map((s) => s.id) } } });
    for (const { id } of idle) await this.publish({ sessionId: id, type: 'ended' });
    const tickets = await this.ctx.db.prisma.webSocketTicket.deleteMany({
      where: { expiresAt: { lt: new Date(now) } },
    });
    return { connections: stale.length, sessions: idle.length, tickets: tickets.count };
  }

  /** The operations a connection missed, in order (after `afterVector`, up to `upToVector`). */
  async operationsSince(diagramId: string, afterVector: number, upToVector: number) {
    return this.ctx.db.prisma.diagramOperation.findMany({
      where: { diagramId, updateVector: { gt: BigInt(afterVector), lte: BigInt(upToVector) } },
      orderBy: { updateVector: 'asc' },
    });
  }

  async publish(event: SessionEvent): Promise<void> {
    await this.ctx.pubsub.publish('diagram.events', event.sessionId, event);
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────────

  /**
   * One edit, optimistic: plan on a snapshot, then write in one statement (cells, log entry, events) only
   * if the diagram is still at the snapshot's vector; another edit getting there first means planning
   * again on the new state. Only writers edit; a repeated operation id changes nothing.
   */
  private async edit(
    rawSessionId: string,
    operationId: string,
    kind: 'operation' | 'undo' | 'redo',
    baseVector: number | null,
    plan: (diagram: DiagramSnapshot) => Promise<{
      operations: CellOperation[];
      targetVector: number | null;
      marksUndone: number | null;
    }>,
  ): Promise<AppliedOperation> {
    const principal = requirePrincipal(this.ctx);
    const sessionId = parseId(rawSessionId, 'session_id');
    const opId = parseId(operationId, 'operation_id');
    // Edits of a session through this instance go one at a time (`SessionEdits`), planned on what the
    // instance knows of the diagram when it can, else on a snapshot read for the edit. Each one's broadcast
    // is sent before the next is written, so this instance publishes a session's operations in vector order.
    const edits = SessionEdits.of(this.ctx.db);
    const { result, rows, published } = await edits.serially(sessionId, async () => {
      const readAt = this.ctx.now().getTime();
      let known = edits.current(sessionId, baseVector, readAt);
      if (known && edits.refreshDue(sessionId, readAt)) this.refreshAccess(edits, sessionId);
      let diagram = known?.snapshot ?? (await snapshotForEdit(this.ctx.db.pool, sessionId, opId, baseVector));
      for (let attempt = 0; attempt < MAX_EDIT_ATTEMPTS; attempt++) {
        if (!diagram) throw this.sessionMissing(sessionId);
        const access = { ownerId: diagram.ownerId, authorization: accessEntries(diagram.authorization) };
        if (!can(principal, 'threat_model:write', access)) {
          throw new OperationRejected('permission_denied', 'Readers cannot change the diagram');
        }
        if (diagram.duplicate) throw new OperationRejected('no_state_change', 'This operation was already applied');
        const { operations, targetVector, marksUndone } = await plan(diagram);
        const applied = applyCellOperations(diagram.cells, operations);
        const updateVector = diagram.updateVector + 1;
        const events = eventsParameter(this.ctx, [
          {
            resource: 'diagram',
            action: 'updated',
            threatModelId: diagram.threatModelId,
            objectId: diagram.id,
            // A compact snapshot: collaborative edits are frequent and the cells can be large.
            data: {
              id: diagram.id,
              name: diagram.name,
              updateVector,
              operationId: opId,
              cells: applied.applied as unknown as Prisma.InputJsonArray,
            },
          },
        ]);
        let outcome: EditOutcome;
        try {
          outcome = await tryEdit(this.ctx.db.pool, {
            diagramId: diagram.id,
            ...cellChanges(diagram.cells, applied.applied),
            updateVector,
            expectedVector: diagram.updateVector,
            at: this.ctx.now(),
            operationId: opId,
            sessionId: diagram.sessionId,
            userId: principal.userId,
            kind,
            applied: applied.applied,
            inverse: applied.inverse,
            affectedCells: applied.affectedCells,
            targetVector,
            marksUndone,
            events,
          });
        } catch (error) {
          // The same operation id, applied by a concurrent request a moment ago.
          if ((error as { code?: string }).code === '23505') {
            throw new OperationRejected('no_state_change', 'This operation was already applied');
          }
          throw error;
        }
        if (!outcome.written) {
          // Another change got there first: plan again on the diagram as it is now.
          edits.forget(sessionId);
          known = undefined;
          diagram = await snapshotForEdit(this.ctx.db.pool, sessionId, opId, baseVector);
          continue;
        }
        edits.wrote(sessionId, {
          snapshot: {
            ...diagram,
            updateVector,
            cells: applied.cells,
            since: [...diagram.since, { updateVector, affectedCells: applied.affectedCells }],
          },
          // What the snapshot's list of changes covers: after the base it was read for.
          sinceFrom: known?.sinceFrom ?? Math.min(baseVector ?? diagram.updateVector, diagram.updateVector),
          readAt: known?.readAt ?? readAt,
        });
        const result = { updateVector, operationId: opId, cells: applied.applied };
        // Participants wait for this broadcast: it is sent first (the command is on its way once called).
        const published = this.publishOperation(diagram.sessionId, result);
        published.catch(() => undefined);
        return { result, rows: outcome.rows, published };
      }
      throw new OperationRejected('conflict_detected', 'The diagram kept changing; send the operation again');
    });
    await published;
    // The edit is one statement outside a transaction: its deliveries are stored with it, their jobs
    // enqueued right after (the webhook sweep enqueues any a crash in between left without one).
    const deliveryIds = deliveryIdsOf(rows);
    if (deliveryIds.length > 0) await enqueueDeliveries(this.ctx, this.ctx.db.prisma, deliveryIds);
    await publishEvents(this.ctx, eventMessages(rows));
    return result;
  }

  /** Reads who may write to the session for what the instance knows of it, beside the edits. */
  private refreshAccess(edits: SessionEdits, sessionId: string): void {
    const startedAt = this.ctx.now().getTime();
    sessionAccess(this.ctx.db.pool, sessionId).then(
      (access) => edits.refreshed(sessionId, access, startedAt),
      (error: unknown) => {
        this.ctx.log.warn({ err: error, sessionId }, 'reading a session’s authorization failed');
        edits.refreshed(sessionId, null, startedAt);
      },
    );
  }

  private async publishOperation(sessionId: string, applied: AppliedOperation): Promise<void> {
    const principal = requirePrincipal(this.ctx);
    const event: OperationEvent = {
      sessionId,
      type: 'operation',
      ...applied,
      user: {
        userId: principal.userId,
        provider: principal.provider,
        providerId: principal.providerId,
        email: principal.email,
        displayName: principal.name,
      },
    };
    const sent = this.publish(event);
    SessionFeeds.of(this.ctx).wrote(event);
    await sent;
  }

  private async setPresenter(sessionId: string, userId: string) {
    await this.ctx.db.prisma.collaborationSession.update({ where: { id: sessionId }, data: { presenterId: userId } });
    await this.publishParticipants(await this.view(sessionId));
  }

  private async hostSession(rawSessionId: string) {
    const principal = requirePrincipal(this.ctx);
    const session = await this.sessionById(rawSessionId);
    if (session.hostId !== principal.userId) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'Only the host may do this');
    }
    return session;
  }

  /** A user named in a message (by provider and provider id, else by email) who is connected. */
  private async participantUser(sessionId: string, named: UserReference): Promise<User> {
    const users = await this.ctx.db.prisma.user.findMany({
      where: {
        participations: { some: { sessionId } },
        OR: [
          ...(named.provider && named.providerId ? [{ provider: named.provider, providerId: named.providerId }] : []),
          ...(named.email ? [{ email: named.email }] : []),
        ],
      },
    });
    if (users.length === 0) {
      throw new AppError('RESOURCE_NOT_FOUND', 'That user is not in the session', {
        context: { resource_type: 'participant' },
      });
    }
    return users[0]!;
  }

  /**
   * After connections went: a host or presenter no longer present is replaced (the longest-present
   * writer hosts), and the session is told who is left. Serialized on the session's row, so that
   * connections leaving at once (an instance stopping) cannot hand the session to one of themselves,
   * and announced from inside the lock, so that the last announcement is the final state.
   */
  private async handOverIfGone(session: { id: string }) {
    await this.ctx.db.prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ host_id: string; presenter_id: string | null }[]>`
        SELECT host_id, presenter_id FROM collaboration_sessions WHERE id = ${session.id}::uuid FOR UPDATE`;
      if (!locked) return;
      const present = await tx.collaborationParticipant.findMany({
        where: { sessionId: session.id },
        orderBy: { connectedAt: 'asc' },
      });
      const data: Prisma.CollaborationSessionUncheckedUpdateInput = {};
      if (locked.presenter_id && !present.some((p) => p.userId === locked.presenter_id)) data.presenterId = null;
      if (!present.some((p) => p.userId === locked.host_id)) {
        const heir = present.find((p) => p.permissions === 'writer');
        if (heir) data.hostId = heir.userId;
      }
      if (Object.keys(data).length > 0) {
        await tx.collaborationSession.update({ where: { id: session.id }, data });
      }
      await this.publishParticipants(await this.view(session.id, tx));
    });
  }

  private async publishParticipants(view: SessionView) {
    await this.publish({
      sessionId: view.id,
      type: 'participants',
      participants: view.participants,
      host: view.host,
      presenter: view.presenter,
    });
  }

  /** The diagram must exist under the threat model, which the caller may act on. */
  private async diagram(threatModelId: string, rawDiagramId: string, action: 'threat_model:read') {
    const tmId = await authorizeThreatModel(this.ctx, threatModelId, action);
    const diagramId = parseId(rawDiagramId, 'diagram_id');
    const found = await this.ctx.db.prisma.diagram.count({ where: { id: diagramId, threatModelId: tmId } });
    if (found === 0) {
      throw new AppError('RESOURCE_NOT_FOUND', 'Diagram not found', {
        context: { resource_type: 'diagram', resource_id: diagramId },
      });
    }
    return { tmId, diagramId };
  }

  private async sessionById(rawSessionId: string) {
    const id = parseId(rawSessionId, 'session_id');
    const session = await this.ctx.db.prisma.collaborationSession.findUnique({ where: { id } });
    if (!session) throw this.sessionMissing(id);
    return session;
  }

  private sessionMissing(id: string): AppError {
    return new AppError('RESOURCE_NOT_FOUND', 'Collaboration session not found', {
      context: { resource_type: 'collaboration_session', resource_id: id },
    });
  }

  private alreadyActive(sessionId: string | undefined): AppError {
    return new AppError('CONFLICT', 'A collaboration session is already active for this diagram', {
      context: { session_id: sessionId },
      suggestion: 'GET the session and join it through its websocket_url',
    });
  }

  /** The session as clients see it: host, presenter, and who is connected (one entry per user). */
  async view(
    sessionId: string,
    db: Pick<Tx, 'collaborationSession' | 'user'> = this.ctx.db.prisma,
  ): Promise<SessionView> {
    const session = await db.collaborationSession.findUniqueOrThrow({
      where: { id: sessionId },
      include: {
        host: true,
        presenter: true,
        diagram: { select: { name: true, threatModel: { select: { name: true } } } },
        participants: { orderBy: { connectedAt: 'asc' } },
      },
    });
    const fresh = new Date(this.ctx.now().getTime() - PARTICIPANT_STALE_MS);
    const live = session.participants.filter((p) => p.seenAt >= fresh);
    const userIds = [...new Set(live.map((p) => p.userId))];
    const users = new Map((await db.user.findMany({ where: { id: { in: userIds } } })).map((u) => [u.id, u]));
    const participants: ParticipantView[] = userIds.map((userId) => {
      const rows = live.filter((p) => p.userId === userId);
      return {
        user: toCollaborationUser(users.get(userId)!),
        permissions: rows.some((p) => p.permissions === 'writer') ? 'writer' : 'reader',
        lastActivity: new Date(Math.max(...rows.map((p) => p.lastActivityAt.getTime()))).toISOString(),
      };
    });
    return {
      id: session.id,
      threatModelId: session.threatModelId,
      threatModelName: session.diagram.threatModel.name,
      diagramId: session.diagramId,
      diagramName: session.diagram.name,
      host: toCollaborationUser(session.host),
      presenter: session.presenter ? toCollaborationUser(session.presenter) : null,
      participants,
    };
  }
}

export { OperationRejected };

/**
 * A client that built its operation on an older update vector is refused only when another change since
 * then touched the same cells (its own earlier operations on the connection excepted), or when a change
 * that is not in the log (a REST write) happened meanwhile.
 */
function conflictsSince(
  since: { updateVector: number; affectedCells: string[] }[],
  base: number,
  current: number,
  ops: CellOperation[],
  own: ReadonlySet<number> = new Set(),
): void {
  const relevant = since.filter((op) => op.updateVector > base && op.updateVector <= current);
  const touched = new Set(relevant.filter((op) => !own.has(op.updateVector)).flatMap((op) => op.affectedCells));
  const clash = ops.map((op) => op.id).filter((id) => touched.has(id));
  if (relevant.length < current - base || clash.length > 0) {
    throw new OperationRejected(
      'conflict_detected',
      clash.length > 0
        ? `Cell(s) ${clash.join(', ')} changed after update vector ${base}`
        : `The diagram was replaced after update vector ${base}`,
      clash,
    );
  }
}
