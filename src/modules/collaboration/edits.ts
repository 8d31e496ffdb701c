import type { Database } from '../../infra/db.js';
import type { DiagramSnapshot } from './operation-log.js';

/**
 * How long a diagram as this instance last wrote it may stand in for a fresh snapshot. The snapshot's
 * authorization (who may write) is therefore at most this old when an edit is planned on it.
 */
export const WRITTEN_MAX_AGE_MS = 500;

export interface Written {
  /** The diagram as the last edit through this instance left it. */
  snapshot: DiagramSnapshot;
  /** `snapshot.since` lists every logged operation after this vector. */
  sinceFrom: number;
  /** When the snapshot it grew from was read. */
  readAt: number;
}

/**
 * The collaborative edits of one instance, per session. They go one at a time: racing for the same update
 * vector, all but one would have to plan again (under load over and over). And an edit that follows this
 * instance's own last one needs no snapshot read: it is planned on what that one wrote, as long as the
 * instance has heard of no later change (its session feed says so) and the snapshot is recent. The write
 * applies only if the diagram is still at the planned vector, so a change the instance has not heard of
 * yet costs a fresh snapshot, never a wrong write.
 */
export class SessionEdits {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly written = new Map<string, Written>();
  private sweep: NodeJS.Timeout | undefined;

  /** This instance's edits (found by its database handle). */
  static of(db: Database): SessionEdits {
    let edits = instances.get(db);
    if (!edits) {
      edits = new SessionEdits();
      instances.set(db, edits);
    }
    return edits;
  }

  /** Runs `work` after the session's earlier edits through this instance, in the order asked. */
  async serially<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(sessionId);
    let done!: () => void;
    const tail = new Promise<void>((resolve) => (done = resolve));
    this.tails.set(sessionId, tail);
    try {
      await previous;
      return await work();
    } finally {
      done();
      if (this.tails.get(sessionId) === tail) this.tails.delete(sessionId);
    }
  }

  /**
   * The diagram as this instance's last edit of the session wrote it, when an edit built on `baseVector`
   * (null: unknown) can be planned on it without reading it again.
   */
  lastWritten(sessionId: string, baseVector: number | null, now: number): Written | undefined {
    const written = this.written.get(sessionId);
    if (!written) return undefined;
    if (now - written.readAt > WRITTEN_MAX_AGE_MS) {
      this.written.delete(sessionId);
      return undefined;
    }
    // Its list of changes since the client's base must be complete for the conflict check.
    if (baseVector !== null && baseVector < written.sinceFrom) return undefined;
    return written;
  }

  /** An edit through this instance wrote the session's diagram as `written` describes it. */
  wrote(sessionId: string, written: Written): void {
    this.written.set(sessionId, written);
    this.sweep ??= setTimeout(() => this.forgetOld(), WRITTEN_MAX_AGE_MS * 2).unref();
  }

  /** The instance heard of the session's diagram at `vector`: what it wrote before that is stale. */
  heard(sessionId: string, vector: number): void {
    const written = this.written.get(sessionId);
    if (written && vector > written.snapshot.updateVector) this.written.delete(sessionId);
  }

  /** The diagram changed in a way the instance cannot follow (a write outside the session). */
  forget(sessionId: string): void {
    this.written.delete(sessionId);
  }

  private forgetOld(): void {
    this.sweep = undefined;
    const now = Date.now();
    for (const [sessionId, written] of this.written) {
      if (now - written.readAt > WRITTEN_MAX_AGE_MS) this.written.delete(sessionId);
    }
    if (this.written.size > 0) this.sweep = setTimeout(() => this.forgetOld(), WRITTEN_MAX_AGE_MS * 2).unref();
  }
}

const instances = new WeakMap<Database, SessionEdits>();
