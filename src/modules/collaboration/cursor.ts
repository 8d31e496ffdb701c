import type { CellOperation } from './cell-operations.js';
import type { CollaborationUser, SessionEvent } from './events.js';
import type { CollaborationService, DiagramState } from './service.js';

export type OperationEvent = Extract<SessionEvent, { type: 'operation' }>;
export type StateEvent = { sessionId: string; type: 'state' } & DiagramState;

/**
 * Where one participant (a socket connection or a GraphQL stream) is in a diagram's history: the update
 * vector it has. It turns the operations it hears into what to deliver, strictly in vector order:
 * nothing for one it already has, the operation itself when it is the next, the missed ones from the
 * log first when it skips (broadcasts can overtake each other between instances), or the whole state
 * when the log has a gap (a write outside the session).
 */
export class SessionCursor {
  private readonly users = new Map<string, CollaborationUser>();

  constructor(
    private readonly service: CollaborationService,
    private readonly sessionId: string,
    private readonly diagramId: string,
    public vector: number,
  ) {}

  async advance(event: OperationEvent): Promise<(OperationEvent | StateEvent)[]> {
    if (event.updateVector <= this.vector) return [];
    if (event.updateVector === this.vector + 1) {
      this.vector = event.updateVector;
      return [event];
    }
    const missed = await this.service.operationsSince(this.diagramId, this.vector, event.updateVector);
    if (missed.length < event.updateVector - this.vector) return [await this.state()];
    const replayed: OperationEvent[] = [];
    for (const op of missed) {
      const userId = op.userId ?? '';
      if (!this.users.has(userId)) this.users.set(userId, await this.service.userOf(userId));
      this.vector = Number(op.updateVector);
      replayed.push({
        sessionId: this.sessionId,
        type: 'operation',
        updateVector: this.vector,
        operationId: op.operationId,
        user: this.users.get(userId)!,
        cells: op.cells as unknown as CellOperation[],
      });
    }
    return replayed;
  }

  /** The diagram's whole state, from now on the participant's position. */
  async state(): Promise<StateEvent> {
    const state = await this.service.state(this.diagramId);
    this.vector = state.updateVector;
    return { sessionId: this.sessionId, type: 'state', ...state };
  }

  /** After a write outside the session: the new state, if it is newer than what the participant has. */
  async refresh(): Promise<StateEvent | undefined> {
    const state = await this.service.state(this.diagramId);
    if (state.updateVector <= this.vector) return undefined;
    this.vector = state.updateVector;
    return { sessionId: this.sessionId, type: 'state', ...state };
  }
}
