import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../../infra/context.js';
import { CollaborationService } from './service.js';

/** How often an instance tells the database its connections are alive (well within PARTICIPANT_STALE_MS). */
export const PRESENCE_INTERVAL_MS = 30_000;

/**
 * The collaboration connections one instance holds for a transport (the GraphQL subscriptions; the TMI
 * socket keeps its own): it names the instance (`instanceId` of their connection rows) and refreshes
 * those rows while they last, so the sweep does not take them for an instance that is gone. Activity
 * (a user acting in a session through this instance) is recorded on the user's connections there.
 */
export class ConnectionPresence {
  readonly instanceId = randomUUID();
  private readonly connections = new Map<
    string,
    { sessionId: string; userId: string; close: () => Promise<unknown> }
  >();
  private readonly active = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly systemContext: () => ServiceContext,
    private readonly intervalMs = PRESENCE_INTERVAL_MS,
  ) {}

  /** `close` ends the connection (and leaves the session) when the instance shuts down. */
  hold(connectionId: string, sessionId: string, userId: string, close: () => Promise<unknown>): void {
    this.connections.set(connectionId, { sessionId, userId, close });
    if (!this.timer) {
      this.timer = setInterval(() => void this.refresh(), this.intervalMs);
      this.timer.unref();
    }
  }

  release(connectionId: string): void {
    this.connections.delete(connectionId);
    this.active.delete(connectionId);
    if (this.connections.size === 0) this.stop();
  }

  /** The user acted in the session: their connections to it held here count as active. */
  acted(sessionId: string, userId: string): void {
    for (const [id, connection] of this.connections) {
      if (connection.sessionId === sessionId && connection.userId === userId) this.active.add(id);
    }
  }

  /** Shutting down: every connection held here leaves its session while the database and pubsub are up. */
  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((connection) => connection.close()));
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refresh(): Promise<void> {
    const active = [...this.active];
    this.active.clear();
    const ctx = this.systemContext();
    try {
      await new CollaborationService(ctx).touchConnections(this.instanceId, active);
    } catch (error) {
      ctx.log.warn({ err: error }, 'could not refresh collaboration connections');
    }
  }
}
