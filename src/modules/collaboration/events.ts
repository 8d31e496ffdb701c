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

declare module '../../infra/pubsub.js' {
  interface ChannelMap {
    'diagram.events': SessionEvent;
  }
}
