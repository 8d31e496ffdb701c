import { randomUUID } from 'node:crypto';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { SessionCursor } from './cursor.js';
import { diagramGone, type SessionEvent } from './events.js';
import type { ConnectionPresence } from './presence.js';
import { CollaborationService, type DiagramState } from './service.js';

/** What a live session stream delivers: the diagram's state (first, and again after a resync), then its events. */
export type LiveEvent = ({ sessionId: string; type: 'state' } & DiagramState) | SessionEvent;

/**
 * One participant's view of a session as a stream, for transports that pull (GraphQL subscriptions).
 * Opening it registers a connection (`CollaborationService.join`, one connection row, kept alive by
 * `presence`); closing it — `return()`, when the client unsubscribes or disconnects, or the end of the
 * session — leaves. The stream starts with the diagram's state and the participants, then delivers the
 * session's events addressed to the user (`to`) strictly in update-vector order: an operation that
 * skips vectors (broadcasts can overtake each other between instances) is preceded by the missed ones
 * from the log, or replaced by the whole state when the log has gaps (a REST write). Unlike the TMI
 * socket, which never echoes a sender's own operations, the stream delivers every operation, including
 * those its user applied (a stream is not a sender: operations come in through mutations).
 */
export class SessionStream implements AsyncIterableIterator<LiveEvent> {
  readonly connectionId = randomUUID();
  private readonly service: CollaborationService;
  private readonly userId: string;
  private readonly output: LiveEvent[] = [];
  private waiting: ((result: IteratorResult<LiveEvent>) => void) | undefined;
  /** Events that arrived before the join completed; null once joined. */
  private early: SessionEvent[] | null = [];
  private chain: Promise<void> = Promise.resolve();
  private diagramId = '';
  private cursor: SessionCursor | undefined;
  private lastParticipants = '';
  private finished = false;
  private closing: Promise<void> | undefined;
  private stopListening: (() => void) | undefined;
  private stopChanges: (() => void) | undefined;

  private constructor(
    private readonly ctx: ServiceContext,
    private readonly sessionId: string,
    private readonly presence: ConnectionPresence,
  ) {
    this.service = new CollaborationService(ctx);
    this.userId = requirePrincipal(ctx).userId;
  }

  /** Joins the session (the caller must be able to read its threat model) and starts listening to it. */
  static async open(ctx: ServiceContext, sessionId: string, presence: ConnectionPresence): Promise<SessionStream> {
    const stream = new SessionStream(ctx, sessionId, presence);
    await stream.start();
    return stream;
  }

  private async start(): Promise<void> {
    // Listen first: whatever happens after the join's state read is then heard.
    this.stopListening = await this.ctx.pubsub.listen('diagram.events', this.sessionId, (event) => this.receive(event));
    let joined: Awaited<ReturnType<CollaborationService['join']>>;
    try {
      joined = await this.service.join(this.sessionId, {
        id: this.connectionId,
        instanceId: this.presence.instanceId,
      });
    } catch (error) {
      this.finished = true;
      this.stopListening();
      throw error;
    }
    this.presence.hold(this.connectionId, joined.session.id, this.userId, () => this.return());
    this.diagramId = joined.session.diagramId;
    this.cursor = new SessionCursor(this.service, joined.session.id, this.diagramId, joined.state.updateVector);
    this.push({ sessionId: joined.session.id, type: 'state', ...joined.state });
    this.participants({
      sessionId: joined.session.id,
      type: 'participants',
      participants: joined.session.participants,
      host: joined.session.host,
      presenter: joined.session.presenter,
    });
    const early = this.early ?? [];
    this.early = null;
    for (const event of early) this.receive(event);
    // A write to the diagram outside the session (REST, GraphQL) has no operation: send the new state.
    this.stopChanges = await this.ctx.pubsub.listen('threat_model.events', joined.session.threatModelId, (event) => {
      if (diagramGone(event, this.diagramId)) {
        // Its session went with it (the rows cascade): the stream ends.
        this.receive({ sessionId: this.sessionId, type: 'ended' });
        return;
      }
      if (event.eventType !== 'diagram.updated' || event.objectId !== this.diagramId) return;
      if ((event.data as { operationId?: string }).operationId) return;
      this.chain = this.chain
        .then(async () => {
          if (this.finished) return;
          const state = await this.cursor!.refresh();
          if (state) this.push(state);
        })
        .catch((error: unknown) => this.resync(error));
    });
    if (this.finished) this.stopChanges();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LiveEvent>> {
    const value = this.output.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The client is gone or unsubscribed: leave the session (once), drop what was not delivered. */
  async return(): Promise<IteratorResult<LiveEvent>> {
    this.output.length = 0;
    this.finish();
    await this.closing;
    return { value: undefined, done: true };
  }

  throw(): Promise<IteratorResult<LiveEvent>> {
    return this.return();
  }

  private receive(event: SessionEvent): void {
    if (this.finished) return;
    if (this.early) {
      this.early.push(event);
      return;
    }
    this.chain = this.chain.then(() => this.handle(event)).catch((error: unknown) => this.resync(error));
  }

  private async handle(event: SessionEvent): Promise<void> {
    if (this.finished) return;
    if (event.to && event.to !== this.userId) return;
    // `except` names a socket connection that sent the event itself; a stream never sends.
    if (event.except === this.connectionId) return;
    switch (event.type) {
      case 'operation':
        for (const next of await this.cursor!.advance(event)) this.push(next);
        return;
      case 'participants':
        this.participants(event);
        return;
      case 'removed':
        this.push(event);
        // The removed user's connections are gone; everyone else only hears of it.
        if (event.userId === this.userId) this.finish();
        return;
      case 'ended':
        this.push(event);
        this.finish();
        return;
      default:
        this.push(event);
    }
  }

  private async sendState(): Promise<void> {
    this.push(await this.cursor!.state());
  }

  /** Something failed while delivering: the client gets the whole state; when even that fails, the end. */
  private async resync(error: unknown): Promise<void> {
    this.ctx.log.warn({ err: error, sessionId: this.sessionId }, 'collaboration stream resynchronizes');
    try {
      await this.sendState();
    } catch (failure) {
      this.ctx.log.error({ err: failure, sessionId: this.sessionId }, 'collaboration stream failed');
      this.finish();
    }
  }

  /** Participants updates repeating the last one delivered (the stream's own join, heard back) are dropped. */
  private participants(event: Extract<SessionEvent, { type: 'participants' }>): void {
    const key = JSON.stringify([event.participants, event.host, event.presenter]);
    if (key === this.lastParticipants) return;
    this.lastParticipants = key;
    this.push(event);
  }

  private push(event: LiveEvent): void {
    if (this.finished) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: event, done: false });
    } else {
      this.output.push(event);
    }
  }

  /** No more events: what is queued is still delivered. The connection leaves once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
    this.closing ??= this.close();
  }

  private async close(): Promise<void> {
    this.stopListening?.();
    this.stopChanges?.();
    this.presence.release(this.connectionId);
    try {
      await this.service.leave(this.connectionId);
    } catch (error) {
      this.ctx.log.warn({ err: error, sessionId: this.sessionId }, 'could not leave the collaboration session');
    }
  }
}
