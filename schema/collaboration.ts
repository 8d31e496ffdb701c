import type {
  CollaborationUser as CollaborationUserShape,
  ParticipantView,
} from '../src/modules/collaboration/events.js';
import { CollaborationService, type SessionView } from '../src/modules/collaboration/service.js';
import { builder } from './builder.js';
import { PrincipalTypeEnum } from './principals.js';

/**
 * Where a client opens the session's WebSocket, relative to the API origin as TMI returns it: clients
 * prefix their API URL (http→ws) and append `&ticket=…` from `issueWebSocketTicket` (REST: GET /ws/ticket).
 */
export const websocketPath = (session: Pick<SessionView, 'id' | 'threatModelId' | 'diagramId'>): string =>
  `/threat_models/${session.threatModelId}/diagrams/${session.diagramId}/ws?session_id=${session.id}`;

const CollaborationPermissionEnum = builder.enumType('CollaborationPermission', {
  description: 'What a participant may do in a session: writers edit, readers watch',
  values: { READER: { value: 'reader' }, WRITER: { value: 'writer' } } as const,
});

export const CollaborationUser = builder.objectRef<CollaborationUserShape>('CollaborationUser').implement({
  description: "A user as collaboration sessions name them (TMI's User)",
  fields: (t) => ({
    principalType: t.field({ type: PrincipalTypeEnum, resolve: () => 'user' as const }),
    provider: t.exposeString('provider'),
    providerId: t.exposeString('providerId'),
    email: t.exposeString('email'),
    displayName: t.exposeString('displayName'),
  }),
});

export const CollaborationParticipant = builder.objectRef<ParticipantView>('CollaborationParticipant').implement({
  description: 'A user connected to the session (one entry per user, whatever the number of connections)',
  fields: (t) => ({
    user: t.field({ type: CollaborationUser, resolve: (p) => p.user }),
    permissions: t.field({ type: CollaborationPermissionEnum, resolve: (p) => p.permissions }),
    lastActivity: t.field({ type: 'DateTime', resolve: (p) => p.lastActivity }),
  }),
});

export const CollaborationSession = builder.objectRef<SessionView>('CollaborationSession').implement({
  description: 'The real-time editing session of a diagram (at most one per diagram)',
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    threatModelName: t.exposeString('threatModelName'),
    diagramId: t.exposeID('diagramId'),
    diagramName: t.exposeString('diagramName'),
    host: t.field({ type: CollaborationUser, resolve: (s) => s.host }),
    presenter: t.field({ type: CollaborationUser, nullable: true, resolve: (s) => s.presenter }),
    participants: t.field({ type: [CollaborationParticipant], resolve: (s) => s.participants }),
    websocketUrl: t.string({
      description:
        'Relative to the API origin, as TMI returns it: /threat_models/{tm}/diagrams/{d}/ws?session_id={id}; ' +
        'append &ticket=… from issueWebSocketTicket',
      resolve: (s) => websocketPath(s),
    }),
  }),
});

builder.queryFields((t) => ({
  collaborationSession: t.field({
    type: CollaborationSession,
    description: "The diagram's session; NOT_FOUND when there is none",
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), diagramId: t.arg.id({ required: true }) },
    resolve: (_root, { threatModelId, diagramId }, ctx) =>
      new CollaborationService(ctx.service).get(String(threatModelId), String(diagramId)),
  }),
  myCollaborationSessions: t.field({
    type: [CollaborationSession],
    description: 'The sessions the caller hosts or is connected to',
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => new CollaborationService(ctx.service).mine(),
  }),
}));

builder.mutationFields((t) => ({
  startCollaborationSession: t.field({
    type: CollaborationSession,
    description: 'Starts a session with the caller as host; CONFLICT when the diagram already has one',
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), diagramId: t.arg.id({ required: true }) },
    resolve: (_root, { threatModelId, diagramId }, ctx) =>
      new CollaborationService(ctx.service).start(String(threatModelId), String(diagramId)),
  }),
  endCollaborationSession: t.id({
    description: "Ends the diagram's session (its host or the threat model's owner may); returns its id",
    authScopes: { authenticated: true },
    args: { threatModelId: t.arg.id({ required: true }), diagramId: t.arg.id({ required: true }) },
    resolve: (_root, { threatModelId, diagramId }, ctx) =>
      new CollaborationService(ctx.service).end(String(threatModelId), String(diagramId)),
  }),
  issueWebSocketTicket: t.string({
    description: "A single-use ticket (30 seconds) for opening the session's WebSocket",
    authScopes: { authenticated: true },
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_root, { sessionId }, ctx) => new CollaborationService(ctx.service).issueTicket(String(sessionId)),
  }),
}));
