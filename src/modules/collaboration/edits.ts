import type { Database } from '../../infra/db.js';
import { applyCellOperations, type CellOperation } from './cell-operations.js';
import type { DiagramSnapshot } from './operation-log.js';

/**
 * How long what an instance knows of a diagram may stand in for a snapshot read: the authorization in it
 * (who may write) is at most this old when an edit is planned on it.
 */
export const KNOWN_MAX_AGE_MS = 500;

/** What an instance knows of a session's diagram without reading it. */
export interface Known {
  /** The diagram at some update vector. */
  snapshot: DiagramSnapshot;
  /** `snapshot.since` lists every logged operation after this vector. */
  sinceFrom: number;
  /** When the snapshot it grew from was read. */
  readAt: number;
}

interface Entry extends Known {
  /** Operations after the snapshot, heard from the session's feed, not applied to it yet. */
  heard: { updateVector: number; cells: CellOperation[] }[];
}

/**
 * The collaborative edits of one instance, per session. They go one at a time: racing for the same update
 * vector, all but one would have to plan again (under load over and over). And an edit needs no snapshot
 * read when the instance knows the diagram: as its own last edit wrote it, followed by the operations its
 * session feed heard since, for at most `KNOWN_MAX_AGE_MS`. What is known may be behind (an operation not
 * heard yet) or wrong; the edit's statement writes only if the diagram is still at the planned vector with
 * the planned cells, and otherwise answers the diagram as it is, so knowing wrong costs nothing extra.
 */
export class SessionEdits {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly known = new Map<string, Entry>();
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
    if (!entry) return undefined;
    if (now - entry.readAt > KNOWN_MAX_AGE_MS) {
      this.known.delete(sessionId);
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
      entry.snapshot = snapshot;
      entry.heard = [];
    }
    return { snapshot: { ...entry.snapshot, duplicate: false }, sinceFrom: entry.sinceFrom, readAt: entry.readAt };
  }

  /** An edit through this instance left the session's diagram as `known` says. */
  wrote(sessionId: string, known: Known): void {
    this.known.set(sessionId, { ...known, heard: [] });
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

  private forgetOld(): void {
    this.sweep = undefined;
    const now = Date.now();
    for (const [sessionId, entry] of this.known) {
      if (now - entry.readAt > KNOWN_MAX_AGE_MS) this.known.delete(sessionId);
    }
    if (this.known.size > 0) this.sweep = setTimeout(() => this.forgetOld(), KNOWN_MAX_AGE_MS * 2).unref();
  }
}

const instances = new WeakMap<Database, SessionEdits>();
