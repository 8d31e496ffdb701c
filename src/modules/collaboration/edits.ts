import type { Database } from '../../infra/db.js';
import { applyCellOperations, type CellOperation } from './cell-operations.js';
import type { DiagramSnapshot } from './operation-log.js';

/**
 * How long what an instance knows of a diagram may stand in for a snapshot read: the authorization in it
 * (who may write) is at most this old when an edit is planned on it.
 */
export const KNOWN_MAX_AGE_MS = 500;

/**
 * How many logged operations what is known lists (their vectors and the cells they changed, for the
 * conflict check); a client whose base is older than the oldest listed gets its edit planned on a read.
 */
export const KNOWN_OPERATIONS = 256;

/** What an instance knows of a session's diagram without reading it. */
export interface Known {
  /** The diagram at some update vector. */
  snapshot: DiagramSnapshot;
  /** `snapshot.since` lists every logged operation after this vector. */
  sinceFrom: number;
  /** When the authorization in the snapshot was read. */
  readAt: number;
}

interface Entry {
  snapshot: DiagramSnapshot;
  sinceFrom: number;
  /** Operations after the snapshot, heard from the session's feed, not applied to it yet. */
  heard: { updateVector: number; cells: CellOperation[] }[];
}

/** Who may write to a session's diagram, as read at `readAt`. */
interface Access {
  ownerId: string;
  authorization: unknown;
  readAt: number;
  /** A read of it is under way. */
  refreshing: boolean;
}

/**
 * The collaborative edits of one instance, per session. They go one at a time: racing for the same update
 * vector, all but one would have to plan again (under load over and over). And an edit needs no snapshot
 * read when the instance knows the diagram: as its own last edit wrote it, followed by the operations its
 * session feed heard since. What is known may be behind (an operation not heard yet): the edit's statement
 * writes only if the diagram is still at the planned vector, the cells it updates or removes exist and those
 * it adds do not; otherwise the diagram is read and the edit planned again, so knowing late costs one read.
 * It writes only the cells the edit changes: the others stay as stored, whatever is known of them.
 *
 * Who may write is known apart from the cells, and for at most `KNOWN_MAX_AGE_MS`: while a session is
 * being edited, it is read again once half of that has passed (`refreshDue`, `refreshed`), beside the
 * edits, so that they keep planning without waiting for a read.
 */
export class SessionEdits {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly known = new Map<string, Entry>();
  private readonly access = new Map<string, Access>();
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
   * The diagram as this instance knows it, when an edit built on `baseVector` (null: unknown) can be
   * planned on it without reading it.
   */
  current(sessionId: string, baseVector: number | null, now: number): Known | undefined {
    const entry = this.known.get(sessionId);
    const access = this.access.get(sessionId);
    if (!entry || !access) return undefined;
    if (now - access.readAt > KNOWN_MAX_AGE_MS) {
      this.known.delete(sessionId);
      this.access.delete(sessionId);
      return undefined;
    }
    // Its list of changes since the client's base must be complete for the conflict check.
    if (baseVector !== null && baseVector < entry.sinceFrom) return undefined;
    if (entry.heard.length > 0) {
      let { snapshot } = entry;
      try {
        for (const op of entry.heard) {
          const applied = applyCellOperations(snapshot.cells, op.cells);
          snapshot = {
            ...snapshot,
            updateVector: op.updateVector,
            cells: applied.cells,
            since: [...snapshot.since, { updateVector: op.updateVector, affectedCells: applied.affectedCells }],
          };
        }
      } catch {
        // Not what the other instance applied: read the diagram.
        this.known.delete(sessionId);
        return undefined;
      }
      Object.assign(entry, trimmed({ snapshot, sinceFrom: entry.sinceFrom }));
      entry.heard = [];
      if (baseVector !== null && baseVector < entry.sinceFrom) return undefined;
    }
    return {
      snapshot: { ...entry.snapshot, ownerId: access.ownerId, authorization: access.authorization, duplicate: false },
      sinceFrom: entry.sinceFrom,
      readAt: access.readAt,
    };
  }

  /**
   * Whether who may write to the session should be read again (half its allowed age has passed) and no
   * read is under way; true claims the read, whose result goes to `refreshed`.
   */
  refreshDue(sessionId: string, now: number): boolean {
    const access = this.access.get(sessionId);
    if (!access || access.refreshing || now - access.readAt <= KNOWN_MAX_AGE_MS / 2) return false;
    access.refreshing = true;
    return true;
  }

  /**
   * Who may write to the session, as a read started at `readAt` found it: undefined when the session is
   * gone, null when the read failed (what is known then ages out).
   */
  refreshed(
    sessionId: string,
    read: { ownerId: string; authorization: unknown } | undefined | null,
    readAt: number,
  ): void {
    const access = this.access.get(sessionId);
    if (!access) return;
    access.refreshing = false;
    if (read === undefined) this.forgetAll(sessionId);
    else if (read !== null && readAt > access.readAt) Object.assign(access, read, { readAt });
  }

  /** An edit through this instance left the session's diagram as `known` says. */
  wrote(sessionId: string, known: Known): void {
    this.known.set(sessionId, { ...trimmed(known), heard: [] });
    const access = this.access.get(sessionId);
    if (!access || known.readAt > access.readAt) {
      const { ownerId, authorization } = known.snapshot;
      this.access.set(sessionId, { ownerId, authorization, readAt: known.readAt, refreshing: !!access?.refreshing });
    }
    this.sweep ??= setTimeout(() => this.forgetOld(), KNOWN_MAX_AGE_MS * 2).unref();
  }

  /** The session's feed delivered an operation (in update-vector order): the diagram moved on with it. */
  heard(sessionId: string, operation: { updateVector: number; cells: CellOperation[] }): void {
    const entry = this.known.get(sessionId);
    if (!entry) return;
    const vector = entry.snapshot.updateVector + entry.heard.length;
    if (operation.updateVector <= vector) return;
    if (operation.updateVector === vector + 1) entry.heard.push(operation);
    else this.known.delete(sessionId);
  }

  /** The diagram changed in a way the instance cannot follow (a write outside the session). */
  forget(sessionId: string): void {
    this.known.delete(sessionId);
  }

  private forgetAll(sessionId: string): void {
    this.known.delete(sessionId);
    this.access.delete(sessionId);
  }

  private forgetOld(): void {
    this.sweep = undefined;
    const now = Date.now();
    for (const [sessionId, access] of this.access) {
      if (now - access.readAt > KNOWN_MAX_AGE_MS && !access.refreshing) this.forgetAll(sessionId);
    }
    for (const sessionId of this.known.keys()) if (!this.access.has(sessionId)) this.known.delete(sessionId);
    if (this.access.size > 0) this.sweep = setTimeout(() => this.forgetOld(), KNOWN_MAX_AGE_MS * 2).unref();
  }
}

/** What is known, listing at most the last `KNOWN_OPERATIONS` logged operations. */
function trimmed<T extends { snapshot: DiagramSnapshot; sinceFrom: number }>(known: T): T {
  const { since } = known.snapshot;
  if (since.length <= KNOWN_OPERATIONS) return known;
  const kept = since.slice(since.length - KNOWN_OPERATIONS);
  return {
    ...known,
    snapshot: { ...known.snapshot, since: kept },
    sinceFrom: since[since.length - KNOWN_OPERATIONS - 1]!.updateVector,
  };
}

const instances = new WeakMap<Database, SessionEdits>();
