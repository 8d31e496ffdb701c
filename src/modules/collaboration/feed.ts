import type { ServiceContext } from '../../infra/context.js';
import type { DomainEventMessage, PubSubBus } from '../../infra/pubsub.js';
import type { CellOperation } from './cell-operations.js';
import { SessionEdits } from './edits.js';
import { type CollaborationUser, diagramGone, type SessionEvent } from './events.js';
import { CollaborationService, type DiagramState } from './service.js';

export type OperationEvent = Extract<SessionEvent, { type: 'operation' }>;
export type StateEvent = { sessionId: string; to?: undefined; except?: undefined; type: 'state' } & DiagramState;
/**
 * What a session feed delivers: the session's events, and the diagram's whole state whenever its
 * participants must start again from it (a write outside the session, or a gap in the operation log).
 */
export type FeedEvent = SessionEvent | StateEvent;

/** How long a feed waits for a missing update vector before reading it from the operation log. */
export const REORDER_WAIT_MS = 250;

/**
 * One event on its way to every listener of a feed. A transport renders it the same way for each of
 * its listeners (a WebSocket frame): `render` does it once and shares the result.
 */
export class Fanned {
  private rendered: Map<(event: FeedEvent) => string, string> | undefined;

  constructor(readonly event: FeedEvent) {}

  render(as: (event: FeedEvent) => string): string {
    this.rendered ??= new Map();
    let text = this.rendered.get(as);
    if (text === undefined) {
      text = as(this.event);
      this.rendered.set(as, text);
    }
    return text;
  }
}

/** A participant (a socket connection, a GraphQL stream) listening to a session's feed. */
export interface FeedListener {
  /** Its connection id: events `except` it are not delivered to it. */
  readonly connectionId: string;
  /** Its user: events `to` someone else are not delivered to it. */
  readonly userId: string;
  /** Called synchronously for each event meant for it, in order. */
  deliver(fanned: Fanned): void;
}

/**
 * A listener's place in a feed: the update vector its client has. Operations and states at or below it
 * are not delivered; everything after it is, strictly in order, from the moment it `start`s (events that
 * arrive before, while the listener joins, wait until then).
 */
export class FeedMembership {
  /** The update vector the listener's client has; undefined until it starts. */
  private position: number | undefined;
  private early: Fanned[] | undefined = [];

  constructor(
    private readonly feed: SessionFeed,
    private readonly listener: FeedListener,
  ) {}

  get vector(): number {
    return this.position ?? 0;
  }

  /** The client has everything up to `vector` (its own operation, a state it was sent): move past it. */
  set vector(vector: number) {
    this.position = Math.max(this.position ?? 0, vector);
  }

  /** The client has the state at `vector`: deliver what came since, then everything as it comes. */
  start(vector: number): void {
    const early = this.early ?? [];
    this.early = undefined;
    this.position = vector;
    for (const fanned of early) this.offer(fanned);
  }

  /** Stops listening; the feed stops when its last listener leaves. */
  leave(): void {
    this.early = undefined;
    this.feed.remove(this);
  }

  /** @internal The feed offers every event of the session; the membership passes on what is meant for it. */
  offer(fanned: Fanned): void {
    const event = fanned.event;
    if (event.to && event.to !== this.listener.userId) return;
    if (event.except === this.listener.connectionId) return;
    if (this.early) {
      this.early.push(fanned);
      return;
    }
    if (event.type === 'operation' || event.type === 'state') {
      if (event.updateVector <= this.vector) return;
      this.position = event.updateVector;
    }
    this.listener.deliver(fanned);
  }
}

type Input =
  | { kind: 'event'; event: SessionEvent }
  | { kind: 'changed'; event: DomainEventMessage }
  | { kind: 'catch-up' }
  | { kind: 'resync' };

export interface FeedTarget {
  /** The session's id. */
  id: string;
  diagramId: string;
  threatModelId: string;
}

/**
 * A session's events as one instance hears them, for every participant connected to the instance: it
 * listens once to the session's pubsub channel (`diagram.events`) and to what changes its threat model's
 * diagrams outside sessions (`diagram.changes`), puts operations back in update-vector order (broadcasts
 * from different instances can overtake each other: an operation that skips a vector waits briefly for it,
 * then the missing ones are read from the operation log once for everyone, or the whole state when the log
 * has a gap), turns a write outside the session into the diagram's new state, and hands each event to the
 * local listeners synchronously.
 *
 * What it fans out is contiguous: after the vector it started at, every update vector is covered once,
 * by its operation or by a state at or above it; each membership skips what its client already has.
 */
export class SessionFeed {
  readonly members = new Set<FeedMembership>();
  /** Resolves once the feed hears the session and knows where the diagram is. */
  readonly ready: Promise<void>;
  /** The last update vector fanned out. */
  private vector = 0;
  /** Operations that overtook a missing vector, by vector. */
  private readonly held = new Map<number, OperationEvent>();
  private timer: NodeJS.Timeout | undefined;
  /** Inputs waiting while an asynchronous step (the start, a log or state read) runs. */
  private readonly queue: Input[] = [];
  private busy = true;
  private closed = false;
  private readonly stops: Promise<() => void>[] = [];
  private readonly users = new Map<string, Promise<CollaborationUser>>();
  private readonly service: CollaborationService;
  private readonly edits: SessionEdits;

  constructor(
    private readonly ctx: ServiceContext,
    readonly target: FeedTarget,
    private readonly onClosed: (feed: SessionFeed) => void,
  ) {
    const service = new CollaborationService(ctx);
    this.service = service;
    this.edits = SessionEdits.of(ctx.db);
    this.stops.push(
      ctx.pubsub.listen('diagram.events', target.id, (event) => this.input({ kind: 'event', event })),
      ctx.pubsub.listen('diagram.changes', target.threatModelId, (event) => this.input({ kind: 'changed', event })),
    );
    this.ready = (async () => {
      // Listening first: every change committed after this read is heard; those before it are in it.
      await Promise.all(this.stops);
      this.vector = await service.diagramVector(target.diagramId);
    })();
    this.ready.then(
      () => this.idle(),
      () => this.close(),
    );
  }

  join(listener: FeedListener): FeedMembership {
    const membership = new FeedMembership(this, listener);
    this.members.add(membership);
    return membership;
  }

  remove(membership: FeedMembership): void {
    this.members.delete(membership);
    if (this.members.size === 0) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.held.clear();
    this.onClosed(this);
    for (const stop of this.stops) void stop.then((unlisten) => unlisten()).catch(() => undefined);
  }

  /** @internal See `SessionFeeds.wrote`. */
  heardHere(event: OperationEvent): void {
    this.input({ kind: 'event', event });
  }

  private input(input: Input): void {
    if (this.closed) return;
    this.queue.push(input);
    if (!this.busy) this.drain();
  }

  private drain(): void {
    while (!this.busy && !this.closed && this.queue.length > 0) this.process(this.queue.shift()!);
  }

  private idle(): void {
    this.busy = false;
    this.drain();
  }

  private process(input: Input): void {
    switch (input.kind) {
      case 'event': {
        const event = input.event;
        if (event.type === 'operation') this.operation(event);
        else this.fanOut(event);
        return;
      }
      case 'changed': {
        const event = input.event;
        if (diagramGone(event, this.target.diagramId)) {
          // Its session went with it (the rows cascade).
          this.fanOut({ sessionId: this.target.id, type: 'ended' });
          return;
        }
        // A write outside the sessions (their edits arrive as operations): send the new state.
        if (event.eventType !== 'diagram.updated' || event.objectId !== this.target.diagramId) return;
        this.step(() => this.resync());
        return;
      }
      case 'catch-up':
        if (this.held.size > 0) this.step(() => this.catchUp());
        return;
      case 'resync':
        this.step(() => this.resync());
        return;
    }
  }

  private operation(event: OperationEvent): void {
    if (event.updateVector <= this.vector) return;
    if (event.updateVector === this.vector + 1) {
      this.fanOut(event);
      this.vector = event.updateVector;
      this.release();
      return;
    }
    this.held.set(event.updateVector, event);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.input({ kind: 'catch-up' });
    }, REORDER_WAIT_MS);
  }

  /** Fans out the held operations that follow the last vector; keeps waiting for a gap that remains. */
  private release(): void {
    for (const [vector] of this.held) if (vector <= this.vector) this.held.delete(vector);
    for (let next = this.held.get(this.vector + 1); next; next = this.held.get(this.vector + 1)) {
      this.held.delete(next.updateVector);
      this.fanOut(next);
      this.vector = next.updateVector;
    }
    if (this.held.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Runs an asynchronous step; inputs wait behind it. A failure is logged and the state read again later. */
  private step(run: () => Promise<void>): void {
    this.busy = true;
    run().then(
      () => this.idle(),
      (error: unknown) => {
        this.ctx.log.warn({ err: error, sessionId: this.target.id }, 'collaboration feed resynchronizes later');
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.input({ kind: 'resync' });
        }, REORDER_WAIT_MS);
        this.idle();
      },
    );
  }

  /** The missing vectors did not come: read them from the log (once, for every listener), in order. */
  private async catchUp(): Promise<void> {
    const upTo = Math.max(...this.held.keys());
    const missed = await this.service.operationsSince(this.target.diagramId, this.vector, upTo);
    if (this.closed) return;
    if (missed.length < upTo - this.vector) {
      // A change that is not in the log (a write outside the session) happened meanwhile.
      await this.resync();
      return;
    }
    for (const op of missed) {
      const vector = Number(op.updateVector);
      if (vector <= this.vector) continue;
      const event: OperationEvent = this.held.get(vector) ?? {
        sessionId: this.target.id,
        type: 'operation',
        updateVector: vector,
        operationId: op.operationId,
        user: await this.userOf(op.userId ?? ''),
        cells: op.cells as unknown as CellOperation[],
      };
      if (this.closed || vector <= this.vector) continue;
      this.fanOut(event);
      this.vector = vector;
    }
    this.release();
  }

  /** Everyone behind the diagram's current state gets it; held operations it includes are dropped. */
  private async resync(): Promise<void> {
    const state = await this.service.state(this.target.diagramId);
    if (this.closed) return;
    this.vector = Math.max(this.vector, state.updateVector);
    this.fanOut({ sessionId: this.target.id, type: 'state', ...state });
    this.release();
    if (this.held.size > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.input({ kind: 'catch-up' });
      }, REORDER_WAIT_MS);
    }
  }

  private userOf(userId: string): Promise<CollaborationUser> {
    let user = this.users.get(userId);
    if (!user) {
      user = this.service.userOf(userId);
      user.catch(() => this.users.delete(userId));
      this.users.set(userId, user);
    }
    return user;
  }

  private fanOut(event: FeedEvent): void {
    // What this instance knows of the diagram, to plan its next edit on without reading it.
    if (event.type === 'operation') this.edits.heard(this.target.id, event);
    else if (event.type === 'state') this.edits.forget(this.target.id);
    const fanned = new Fanned(event);
    for (const membership of this.members) membership.offer(fanned);
  }
}

const registries = new WeakMap<PubSubBus, SessionFeeds>();

/**
 * The session feeds of one instance: one per session that has listeners here, started by the first and
 * stopped when the last leaves. Every transport of the instance (the TMI socket, the GraphQL stream)
 * listens through the same feeds; an instance is its pubsub bus, so `of` finds them by the context's bus.
 */
export class SessionFeeds {
  private readonly feeds = new Map<string, SessionFeed>();

  private constructor(private readonly ctx: ServiceContext) {}

  /** This instance's feeds; the first caller's context (without its principal) serves their reads. */
  static of(ctx: ServiceContext): SessionFeeds {
    let feeds = registries.get(ctx.pubsub);
    if (!feeds) {
      feeds = new SessionFeeds({ ...ctx, principal: undefined, requestId: 'collaboration-feed' });
      registries.set(ctx.pubsub, feeds);
    }
    return feeds;
  }

  /**
   * Listens to a session: resolves once its feed hears the session, so whatever a state read after this
   * does not hold is delivered. The membership holds events until `start(vector)`.
   */
  async join(target: FeedTarget, listener: FeedListener): Promise<FeedMembership> {
    let feed = this.feeds.get(target.id);
    if (!feed) {
      const created = new SessionFeed(this.ctx, target, (closed) => {
        if (this.feeds.get(closed.target.id) === closed) this.feeds.delete(closed.target.id);
      });
      this.feeds.set(target.id, created);
      feed = created;
    }
    const membership = feed.join(listener);
    try {
      await feed.ready;
    } catch (error) {
      membership.leave();
      throw error;
    }
    return membership;
  }

  /**
   * An operation this instance just wrote: its own listeners get it now rather than after the broadcast's
   * trip through Redis. The broadcast's copy arrives later and is dropped (its vector is behind the feed).
   */
  wrote(event: OperationEvent): void {
    this.feeds.get(event.sessionId)?.heardHere(event);
  }

  /** How many sessions this instance listens to (for tests and diagnostics). */
  get size(): number {
    return this.feeds.size;
  }
}
