import { z } from 'zod';
import {
  EndCollaborationSessionDocument,
  GetCollaborationSessionDocument,
  IssueWebSocketTicketDocument,
  MyCollaborationSessionsDocument,
  StartCollaborationSessionDocument,
} from '../generated/graphql.js';
import { defineRoute } from '../route-table.js';

const collaborate = '/threat_models/{threat_model_id}/diagrams/{diagram_id}/collaborate';
const diagramParams = z.object({ threat_model_id: z.string(), diagram_id: z.string() });
const noQuery = z.object({}).passthrough();
const diagramVariables = ({ params }: { params: z.infer<typeof diagramParams> }) => ({
  threatModelId: params.threat_model_id,
  diagramId: params.diagram_id,
});

/** TMI names the session's id `session_id`; the rest maps mechanically. */
const presentSession = (session: unknown): unknown => {
  const { id, ...rest } = session as Record<string, unknown>;
  return { session_id: id, ...rest };
};

export const collaborationRoutes = [
  defineRoute({
    method: 'GET',
    path: collaborate,
    document: GetCollaborationSessionDocument,
    params: diagramParams,
    query: noQuery,
    variables: diagramVariables,
    present: presentSession,
    status: 200,
  }),
  // TMI's contract also lists 200 here; a second start is refused (409) so that clients GET and join.
  defineRoute({
    method: 'POST',
    path: collaborate,
    document: StartCollaborationSessionDocument,
    params: diagramParams,
    query: noQuery,
    variables: diagramVariables,
    present: presentSession,
    status: 201,
    // TMI's own 409 body for this endpoint: where to join the session that exists.
    presentError: (error, { params, baseUrl }) =>
      error.code === 'CONFLICT'
        ? {
            status: 409,
            body: {
              error: 'collaboration_session_exists',
              join_url: `${baseUrl}/threat_models/${params.threat_model_id}/diagrams/${params.diagram_id}/collaborate`,
            },
          }
        : undefined,
  }),
  defineRoute({
    method: 'DELETE',
    path: collaborate,
    document: EndCollaborationSessionDocument,
    params: diagramParams,
    query: noQuery,
    variables: diagramVariables,
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/ws/ticket',
    document: IssueWebSocketTicketDocument,
    params: z.object({}),
    query: z.object({ session_id: z.string() }),
    variables: ({ query }) => ({ sessionId: query.session_id }),
    present: (ticket) => ({ ticket }),
    headers: { 'cache-control': 'no-store' },
    status: 200,
  }),
  // A bare array of CollaborationSession, as TMI's web client reads it (the contract's example shows an
  // object `{sessions: [...]}` of another shape).
  defineRoute({
    method: 'GET',
    path: '/me/sessions',
    document: MyCollaborationSessionsDocument,
    params: z.object({}),
    query: noQuery,
    variables: () => ({}),
    present: (sessions) => (sessions as unknown[]).map(presentSession),
    status: 200,
  }),
];
