import type { DomainEventMessage } from '../../infra/pubsub.js';
import type { CellOperation } from './cell-operations.js';

/** A user as collaboration messages name them (TMI's `User`). */
export interface CollaborationUser {
  userId: string;
  provider: string;
  providerId: string;
  email: string;
  displayName: string;
}

export interface ParticipantView {
  user: CollaborationUser;
  permissions: 'reader' | 'writer';
  lastActivity: string;
}

/**
 * What happens in a session, fanned out to every instance that holds one of its connections (channel
 * `diagram.events`, keyed by session id). `to` limits delivery to one user; `except` skips one
 * connection (the sender's, which gets its own answer).
 */
export type SessionEvent = { sessionId: string; to?: string; except?: string } & (
  | {
      type: 'operation';
      updateVector: number;
      operationId: string;
      user: CollaborationUser;
      cells: CellOperation[];
    }
  | {
      type: 'participants';
      participants: ParticipantView[];
      host: CollaborationUser;
      presenter: CollaborationUser | null;
    }
  | { type: 'presenter_request'; user: CollaborationUser }
  | { type: 'presenter_denied'; user: CollaborationUser }
  | { type: 'presenter_cursor'; user: CollaborationUser; x: number; y: number }
  | { type: 'presenter_selection'; user: CollaborationUser; cells: string[] }
  | { type: 'removed'; userId: string }
  | { type: 'ended' }
);

/** Whether a domain event deleted the diagram (itself, or its threat model with everything under it). */
export function diagramGone(event: DomainEventMessage, diagramId: string): boolean {
  return (
    (event.eventType === 'diagram.deleted' && event.objectId === diagramId) ||
    event.eventType === 'threat_model.deleted'
  );
}

/**
 * Whether a session must hear a domain event from outside: a write to a diagram that is not one of its
 * sessions' operations (those arrive as operations), or a deletion that takes a diagram with it. Such
 * events go out on `diagram.changes` too, so a session's feed does not hear every event of its threat
 * model, among them one for each collaborative edit.
 */
export function concernsSessions(event: DomainEventMessage): boolean {
  if (event.eventType === 'diagram.deleted' || event.eventType === 'threat_model.deleted') return true;
  if (event.eventType !== 'diagram.updated') return false;
  const data = event.data as { operationId?: unknown } | null;
  return !data?.operationId;
}

declare module '../../infra/pubsub.js' {
  interface ChannelMap {
    'diagram.events': SessionEvent;
    /** The domain events of a threat model (keyed by its id) its diagrams' sessions must hear (`concernsSessions`). */
    'diagram.changes': DomainEventMessage;
  }
}
