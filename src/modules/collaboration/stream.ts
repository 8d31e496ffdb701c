import { randomUUID } from 'node:crypto';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import type { SessionEvent } from './events.js';
import { type Fanned, type FeedEvent, type FeedListener, type FeedMembership, SessionFeeds } from './feed.js';
import type { ConnectionPresence } from './presence.js';
import { CollaborationService } from './service.js';

/** What a live session stream delivers: the diagram's state (first, and again after a resync), then its events. */
export type LiveEvent = FeedEvent;

/**
 * One participant's view of a session as a stream, for transports that pull (GraphQL subscriptions): an
 * async iterator over the instance's feed of the session (`SessionFeeds`, `feed.ts`), which puts the
 * events in update-vector order. Opening it registers a connection (`CollaborationService.join`, one
 * connection row, kept alive by `presence`); closing it — `return()`, when the client unsubscribes or
 * disconnects, or the end of the session — leaves. The stream starts with the diagram's state and the
 * participants, then delivers the session's events addressed to the user. Unlike the TMI socket, which
 * never echoes a sender's own operations, the stream delivers every operation, including those its user
 * applied (a stream is not a sender: operations come in through mutations).
 */
export class SessionStream implements AsyncIterableIterator<LiveEvent>, FeedListener {
  readonly connectionId = randomUUID();
  readonly userId: string;
  private readonly service: CollaborationService;
  private readonly output: LiveEvent[] = [];
  private waiting: ((result: IteratorResult<LiveEvent>) => void) | undefined;
  private membership: FeedMembership | undefined;
  private lastParticipants = '';
  private finished = false;
  private closing: Promise<void> | undefined;

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
    const target = await this.service.feedTarget(this.sessionId);
    // Listen first: whatever happens after the join's state read is then heard.
    this.membership = await SessionFeeds.of(this.ctx).join(target, this);
    let joined: Awaited<ReturnType<CollaborationService['join']>>;
    try {
      joined = await this.service.join(target.id, {
        id: this.connectionId,
        instanceId: this.presence.instanceId,
      });
    } catch (error) {
      this.finished = true;
      this.membership.leave();
      throw error;
    }
    this.presence.hold(this.connectionId, joined.session.id, this.userId, () => this.return());
    this.push({ sessionId: joined.session.id, type: 'state', ...joined.state });
    this.participants({
      sessionId: joined.session.id,
      type: 'participants',
      participants: joined.session.participants,
      host: joined.session.host,
      presenter: joined.session.presenter,
    });
    // What arrived meanwhile, after the state just sent, then everything as it comes.
    this.membership.start(joined.state.updateVector);
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

  /** The feed's events meant for this user, in order. */
  deliver({ event }: Fanned): void {
    if (this.finished) return;
    switch (event.type) {
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
    this.membership?.leave();
    this.presence.release(this.connectionId);
    try {
      await this.service.leave(this.connectionId);
    } catch (error) {
      this.ctx.log.warn({ err: error, sessionId: this.sessionId }, 'could not leave the collaboration session');
    }
  }
}
