import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../src/infra/context.js';
import { AppError, type ErrorCode } from '../src/infra/errors/registry.js';
import type { CellOperation } from '../src/modules/collaboration/cell-operations.js';
import type { CollaborationUser as CollaborationUserShape } from '../src/modules/collaboration/events.js';
import {
  type AppliedOperation,
  CollaborationService,
  OperationRejected,
  type UserReference,
} from '../src/modules/collaboration/service.js';
import { type LiveEvent, SessionStream } from '../src/modules/collaboration/stream.js';
import { type AppSchemaTypes, builder } from './builder.js';
import { CollaborationParticipant, CollaborationSession, CollaborationUser } from './collaboration.js';
import type { GraphQLContext } from './context.js';

// The live face of a collaboration session over GraphQL: mutations that act in the session (the TMI
// socket's client messages) and `diagramEvents`, the stream the socket sends. Joining is subscribing;
// leaving is ending the subscription. Every rule is CollaborationService's.

// ── events ─────────────────────────────────────────────────────────────────────────────────────────

type Of<T extends LiveEvent['type']> = Extract<LiveEvent, { type: T }>;

const DiagramStateEvent = builder.objectRef<Of<'state'>>('DiagramStateEvent').implement({
  description: "The diagram's whole state: first on the stream, and again whenever the client must resynchronize",
  fields: (t) => ({
    diagramId: t.exposeID('diagramId'),
    updateVector: t.exposeInt('updateVector'),
    cells: t.field({ type: 'JSON', description: "TMI's X6 nodes and edges", resolve: (e) => e.cells }),
    colorPalette: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.colorPalette ?? null }),
  }),
});

const DiagramOperationEvent = builder.objectRef<Of<'operation'>>('DiagramOperationEvent').implement({
  description:
    'An applied operation (an edit, an undo or a redo), in update-vector order; unlike the TMI socket, ' +
    'also delivered to the user who applied it',
  fields: (t) => ({
    updateVector: t.exposeInt('updateVector'),
    sequenceNumber: t.int({ description: 'The same as updateVector, as TMI sends it', resolve: (e) => e.updateVector }),
    operationId: t.exposeID('operationId'),
    initiatingUser: t.field({ type: CollaborationUser, resolve: (e) => e.user }),
    cells: t.field({
      type: 'JSON',
      description: "The cell operations as applied ({id, operation: add|update|remove, data}), TMI's patch cells",
      resolve: (e) => e.cells,
    }),
  }),
});

const ParticipantsUpdateEvent = builder.objectRef<Of<'participants'>>('ParticipantsUpdateEvent').implement({
  description: 'Who is connected, who hosts and who presents: after the state on subscribing, then on every change',
  fields: (t) => ({
    participants: t.field({ type: [CollaborationParticipant], resolve: (e) => e.participants }),
    host: t.field({ type: CollaborationUser, resolve: (e) => e.host }),
    presenter: t.field({ type: CollaborationUser, nullable: true, resolve: (e) => e.presenter }),
  }),
});

const PresenterRequestEvent = builder.objectRef<Of<'presenter_request'>>('PresenterRequestEvent').implement({
  description: 'Someone asks to present (delivered to the host only)',
  fields: (t) => ({ requestingUser: t.field({ type: CollaborationUser, resolve: (e) => e.user }) }),
});

const PresenterDeniedEvent = builder.objectRef<Of<'presenter_denied'>>('PresenterDeniedEvent').implement({
  description: 'The host refused your request to present (delivered to that user only)',
  fields: (t) => ({ deniedUser: t.field({ type: CollaborationUser, resolve: (e) => e.user }) }),
});

const PresenterCursorEvent = builder.objectRef<Of<'presenter_cursor'>>('PresenterCursorEvent').implement({
  description: "The presenter's pointer",
  fields: (t) => ({
    x: t.exposeFloat('x'),
    y: t.exposeFloat('y'),
    presenter: t.field({ type: CollaborationUser, resolve: (e) => e.user }),
  }),
});

const PresenterSelectionEvent = builder.objectRef<Of<'presenter_selection'>>('PresenterSelectionEvent').implement({
  description: "The presenter's selection (cell ids)",
  fields: (t) => ({
    cells: t.field({ type: ['String'], resolve: (e) => e.cells }),
    presenter: t.field({ type: CollaborationUser, resolve: (e) => e.user }),
  }),
});

type RemovedShape = Of<'removed'> & { user: CollaborationUserShape };

const ParticipantRemovedEvent = builder.objectRef<RemovedShape>('ParticipantRemovedEvent').implement({
  description: 'The host removed a participant; for the removed user, the last event of the stream',
  fields: (t) => ({ user: t.field({ type: CollaborationUser, resolve: (e) => e.user }) }),
});

const SessionEndedEvent = builder.objectRef<Of<'ended'>>('SessionEndedEvent').implement({
  description: 'The session ended; the last event of the stream',
  fields: (t) => ({ sessionId: t.exposeID('sessionId') }),
});

type DiagramEventShape = Exclude<LiveEvent, { type: 'removed' }> | RemovedShape;

const eventTypes = {
  state: DiagramStateEvent,
  operation: DiagramOperationEvent,
  participants: ParticipantsUpdateEvent,
  presenter_request: PresenterRequestEvent,
  presenter_denied: PresenterDeniedEvent,
  presenter_cursor: PresenterCursorEvent,
  presenter_selection: PresenterSelectionEvent,
  removed: ParticipantRemovedEvent,
  ended: SessionEndedEvent,
} as const;

const DiagramEvent = builder.unionType('DiagramEvent', {
  description: "What happens in a diagram's collaboration session (TMI's WebSocket messages)",
  types: Object.values(eventTypes),
  resolveType: (event: DiagramEventShape) => eventTypes[event.type],
});

// ── mutations ──────────────────────────────────────────────────────────────────────────────────────

const AppliedDiagramOperation = builder.objectRef<AppliedOperation>('AppliedDiagramOperation').implement({
  description: 'An operation as applied: the update vector it produced and the cell operations',
  fields: (t) => ({
    updateVector: t.exposeInt('updateVector'),
    operationId: t.exposeID('operationId'),
    cells: t.field({ type: 'JSON', resolve: (op) => op.cells as CellOperation[] }),
  }),
});

const CollaborationUserInput = builder.inputType('CollaborationUserInput', {
  description: 'A participant named as TMI names users: provider and provider id, or email',
  fields: (t) => ({
    provider: t.string(),
    providerId: t.string(),
    email: t.string(),
  }),
});

/** TMI's rejection reasons, each under the registry code of its kind; `extensions.reason` keeps TMI's. */
const rejectionCodes: Record<OperationRejected['reason'], ErrorCode> = {
  conflict_detected: 'OPERATION_CONFLICT',
  no_state_change: 'OPERATION_CONFLICT',
  validation_failed: 'OPERATION_INVALID',
  invalid_operation_type: 'OPERATION_INVALID',
  empty_operation: 'OPERATION_INVALID',
  permission_denied: 'INSUFFICIENT_PERMISSIONS',
  diagram_not_found: 'RESOURCE_NOT_FOUND',
};

/**
 * Runs an operation, translating TMI's `operation_rejected` into an error: its code by the kind of
 * refusal, and in `extensions` the reason, whether the client must resynchronize, the diagram's
 * update vector now (not for callers who may not write) and the cells concerned.
 */
async function applying(
  service: CollaborationService,
  sessionId: string,
  operationId: string,
  run: () => Promise<AppliedOperation>,
): Promise<AppliedOperation> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof OperationRejected)) throw error;
    const code = rejectionCodes[error.reason];
    const vector = code.startsWith('OPERATION_') ? await service.vectorOf(sessionId).catch(() => undefined) : undefined;
    const extensions = {
      reason: error.reason,
      operationId,
      requiresResync: error.reason === 'conflict_detected',
      ...(vector !== undefined ? { updateVector: vector } : {}),
      affectedCells: error.affectedCells,
      ...(error.details ? { details: error.details } : {}),
    };
    throw new AppError(code, error.message, {
      context: {
        reason: extensions.reason,
        operation_id: operationId,
        requires_resync: extensions.requiresResync,
        ...(vector !== undefined ? { update_vector: vector } : {}),
        affected_cells: error.affectedCells,
      },
      extensions,
    });
  }
}

/** Acting in a session counts as activity on the caller's live connections to it held here. */
function acted(ctx: GraphQLContext, sessionId: string): void {
  if (ctx.service.principal) ctx.collaboration?.acted(sessionId.toLowerCase(), ctx.service.principal.userId);
}

const named = (user: { provider?: string | null; providerId?: string | null; email?: string | null }) =>
  ({ provider: user.provider, providerId: user.providerId, email: user.email }) satisfies UserReference;

const service = (ctx: GraphQLContext) => new CollaborationService(ctx.service);

builder.mutationFields((t) => ({
  applyDiagramOperation: t.field({
    type: AppliedDiagramOperation,
    description:
      'Applies a writer\'s cell operations ({type: "patch", cells: [{id, operation, data}]}) built on ' +
      "baseVector. Refusals carry TMI's reason in extensions: OPERATION_CONFLICT (409: conflict_detected, " +
      'no_state_change), OPERATION_INVALID (400: validation_failed, invalid_operation_type, empty_operation), ' +
      'INSUFFICIENT_PERMISSIONS (permission_denied)',
    authScopes: { authenticated: true },
    args: {
      sessionId: t.arg.id({ required: true }),
      operationId: t.arg.id({ required: true, description: 'A UUID the client chooses; an operation applies once' }),
      baseVector: t.arg.int({ description: 'The update vector the operation was built on' }),
      operation: t.arg({ type: 'JSON', required: true }),
    },
    resolve: (_root, args, ctx) => {
      const [sessionId, operationId] = [String(args.sessionId), String(args.operationId)];
      acted(ctx, sessionId);
      const collaboration = service(ctx);
      return applying(collaboration, sessionId, operationId, () =>
        collaboration.applyOperation(sessionId, {
          operationId,
          baseVector: args.baseVector,
          operation: args.operation,
        }),
      );
    },
  }),
  undoDiagramOperation: t.field({
    type: AppliedDiagramOperation,
    description: "Undoes the session's latest operation not undone yet; everyone (the caller too) gets the result",
    authScopes: { authenticated: true },
    args: { sessionId: t.arg.id({ required: true }), operationId: t.arg.id({ description: 'Generated when absent' }) },
    resolve: (_root, args, ctx) => {
      const [sessionId, operationId] = [String(args.sessionId), String(args.operationId ?? randomUUID())];
      acted(ctx, sessionId);
      const collaboration = service(ctx);
      return applying(collaboration, sessionId, operationId, () => collaboration.undo(sessionId, operationId));
    },
  }),
  redoDiagramOperation: t.field({
    type: AppliedDiagramOperation,
    description: "Redoes the session's latest undo, unless the session changed the diagram since",
    authScopes: { authenticated: true },
    args: { sessionId: t.arg.id({ required: true }), operationId: t.arg.id({ description: 'Generated when absent' }) },
    resolve: (_root, args, ctx) => {
      const [sessionId, operationId] = [String(args.sessionId), String(args.operationId ?? randomUUID())];
      acted(ctx, sessionId);
      const collaboration = service(ctx);
      return applying(collaboration, sessionId, operationId, () => collaboration.redo(sessionId, operationId));
    },
  }),
  requestPresenter: t.field({
    type: CollaborationSession,
    description: 'The host presents at once; anyone else asks the host (PresenterRequestEvent)',
    authScopes: { authenticated: true },
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const collaboration = service(ctx);
      await collaboration.requestPresenter(String(args.sessionId));
      return collaboration.viewOf(String(args.sessionId));
    },
  }),
  changePresenter: hostAction(
    t,
    'The host hands presenting to a connected participant (or takes it back)',
    (collaboration, sessionId, user) => collaboration.changePresenter(sessionId, user),
  ),
  denyPresenter: hostAction(
    t,
    "The host refuses a participant's request to present; they get PresenterDeniedEvent",
    (collaboration, sessionId, user) => collaboration.denyPresenter(sessionId, user),
  ),
  removeParticipant: hostAction(
    t,
    'The host removes a participant: their connections close and their streams end',
    (collaboration, sessionId, user) => collaboration.removeParticipant(sessionId, user),
  ),
}));

/** A host's action on a named participant, answered with the session as it is afterwards. */
function hostAction(
  t: PothosSchemaTypes.MutationFieldBuilder<AppSchemaTypes, object>,
  description: string,
  act: (collaboration: CollaborationService, sessionId: string, user: UserReference) => Promise<void>,
) {
  return t.field({
    type: CollaborationSession,
    description,
    authScopes: { authenticated: true },
    args: { sessionId: t.arg.id({ required: true }), user: t.arg({ type: CollaborationUserInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const collaboration = service(ctx);
      await act(collaboration, String(args.sessionId), named(args.user));
      return collaboration.viewOf(String(args.sessionId));
    },
  });
}

// ── the stream ─────────────────────────────────────────────────────────────────────────────────────

async function withUser(ctx: ServiceContext, event: LiveEvent): Promise<DiagramEventShape> {
  if (event.type !== 'removed') return event;
  return { ...event, user: await new CollaborationService(ctx).userOf(event.userId) };
}

builder.subscriptionFields((t) => ({
  diagramEvents: t.field({
    type: DiagramEvent,
    description:
      "Joins the diagram's active collaboration session for as long as the subscription lasts (one " +
      'connection, leaving when it ends): first DiagramStateEvent, then ParticipantsUpdateEvent, then ' +
      'every event of the session meant for the caller, operations in update-vector order. Operations ' +
      'the caller applied are delivered too (the TMI socket leaves them out). NOT_FOUND without a session',
    authScopes: { authenticated: true },
    args: { diagramId: t.arg.id({ required: true }) },
    subscribe: async (_root, { diagramId }, ctx) => {
      if (!ctx.collaboration) {
        throw new AppError('INVALID_REQUEST', 'diagramEvents is served over graphql-ws and server-sent events');
      }
      const session = await new CollaborationService(ctx.service).getByDiagram(String(diagramId));
      return SessionStream.open(ctx.service, session.id, ctx.collaboration);
    },
    resolve: (event: LiveEvent, _args, ctx) => withUser(ctx.service, event),
  }),
}));
