import type pg from 'pg';
import { insertEventsStatement } from '../events/events.js';
import { fanOutStatement } from '../webhooks/fanout.js';
import { accessTuplesSql } from '../threat-models/read.js';
import type { Cell } from '../diagrams/cells.js';
import { cellsJsonSql } from '../diagrams/store.js';
import { type CellOperation, OperationRejected } from './cell-operations.js';

// The statements of a collaborative edit, hand-written: an edit is the hottest write of the server (a
// session of fifty editors sends a hundred a second). An edit is planned on a snapshot of the diagram and
// written in one statement that applies only if the diagram is still as planned; when it is not, the
// diagram is read again to plan on. An edit planned on what the instance already knows (`edits.ts`) costs
// one round trip; one planned on a snapshot read for it, two; one that finds the diagram moved on, one more
// (rare: the edits of an instance go one at a time). No transaction is held open, and nothing is written
// twice.

/** The diagram of a session ($1), its threat model's access, whether an operation id ($2) was seen, and the
 *  cells each logged operation after a base vector ($3) changed. */
const snapshotSql = `
SELECT d.id, d.update_vector::text AS update_vector, ${cellsJsonSql('d.id')} AS cells, d.name, s.id AS session_id,
       s.threat_model_id, tm.owner_id, ${accessTuplesSql} AS authorization,
       EXISTS (SELECT 1 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.operation_id = $2::uuid) AS duplicate,
       COALESCE((SELECT json_agg(json_build_array(o.update_vector, o.affected_cells))
                 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.update_vector > $3::bigint), '[]') AS since
FROM collaboration_sessions s
JOIN diagrams d ON d.id = s.diagram_id
JOIN threat_models tm ON tm.id = s.threat_model_id
WHERE s.id = $1::uuid`;

/**
 * How stale a session's recorded activity may get while it is being edited: an idle session is one left
 * alone for minutes, and rewriting its row on every edit would add a row version per edit for nothing.
 */
const SESSION_ACTIVITY_GRANULARITY_SECONDS = 10;

/**
 * An edit in one statement, applied only if the diagram is still at the vector it was planned on (`$13`),
 * the cells it updates or removes exist (`$17`: their ids; `$2`: the same with the new cell for an update),
 * the cells it adds do not (`$18`: their ids; `$16`: the cells, drawn after the others) and its session still
 * exists (`$6`): the cell rows, the log entry, the operation it undoes or redoes marked (`$15`), the session's
 * activity (when its record is older than the granularity) and the events, all or nothing. It reads and
 * writes only the rows of the cells the edit changes (by key), whatever the size of the diagram.
 * One row says whether it was `written`; written, the rows are the stored events.
 */
const editSql = `
WITH diagram AS (
  UPDATE diagrams SET update_vector = $3::bigint, version = version + 1, modified_at = $4::timestamptz
  WHERE id = $1::uuid AND update_vector = $13::bigint
    AND (SELECT count(*) FROM diagram_cells c WHERE c.diagram_id = $1::uuid AND c.id = ANY ($17::text[]))
        = cardinality($17::text[])
    AND NOT EXISTS (SELECT 1 FROM diagram_cells c WHERE c.diagram_id = $1::uuid AND c.id = ANY ($18::text[]))
    AND EXISTS (SELECT 1 FROM collaboration_sessions WHERE id = $6::uuid)
  RETURNING id
), updated AS (
  UPDATE diagram_cells c SET cell = change.cell
  FROM diagram, jsonb_to_recordset($2::jsonb) AS change(id text, cell jsonb)
  WHERE c.diagram_id = $1::uuid AND c.id = ANY ($17::text[]) AND c.id = change.id AND change.cell IS NOT NULL
), removed AS (
  DELETE FROM diagram_cells c
  USING diagram, jsonb_to_recordset($2::jsonb) AS change(id text, cell jsonb)
  WHERE c.diagram_id = $1::uuid AND c.id = ANY ($17::text[]) AND c.id = change.id AND change.cell IS NULL
), added AS (
  INSERT INTO diagram_cells (diagram_id, id, position, cell)
  SELECT $1::uuid, added.cell ->> 'id',
         (SELECT COALESCE(max(position), 0) FROM diagram_cells WHERE diagram_id = $1::uuid) + added.ordinality,
         added.cell
  FROM diagram, jsonb_array_elements($16::jsonb) WITH ORDINALITY AS added(cell, ordinality)
), logged AS (
  INSERT INTO diagram_operations
    (diagram_id, update_vector, operation_id, session_id, user_id, kind, cells, inverse, affected_cells, target_vector, created_at)
  SELECT $1::uuid, $3::bigint, $5::uuid, $6::uuid, $7::uuid, $8::text, $9::jsonb, $10::jsonb, $11::text[], $12::bigint,
         $4::timestamptz FROM diagram
), undone AS (
  UPDATE diagram_operations SET undone_at = $4::timestamptz
  WHERE diagram_id = $1::uuid AND update_vector = $15::bigint AND EXISTS (SELECT 1 FROM diagram)
), session AS (
  UPDATE collaboration_sessions SET last_activity_at = $4::timestamptz
  WHERE id = $6::uuid AND last_activity_at < $4::timestamptz - interval '${SESSION_ACTIVITY_GRANULARITY_SECONDS} seconds'
    AND EXISTS (SELECT 1 FROM diagram)
), events AS (${insertEventsStatement(14, 4, 'diagram')}
), deliveries AS (${fanOutStatement('events')})
SELECT outcome.written, events.*, (SELECT COALESCE(array_agg(id::text), '{}') FROM deliveries) AS delivery_ids
FROM (SELECT EXISTS (SELECT 1 FROM diagram) AS written) AS outcome
LEFT JOIN events ON outcome.written`;

export interface DiagramSnapshot {
  id: string;
  updateVector: number;
  cells: Cell[];
  name: string;
  sessionId: string;
  threatModelId: string;
  ownerId: string;
  authorization: unknown;
  duplicate: boolean;
  /** The logged operations after the base vector asked for: their vectors and the cells they changed. */
  since: { updateVector: number; affectedCells: string[] }[];
}

export interface LoggedOperation {
  updateVector: number;
  operationId: string;
  kind: string;
  cells: CellOperation[];
  inverse: CellOperation[];
  affectedCells: string[];
  targetVector: number | null;
}

/** A stored cell an edit replaces (`cell`) or removes (no `cell`). */
export interface CellChange {
  id: string;
  cell?: Cell;
}

export interface Edit {
  diagramId: string;
  /** The stored cells it updates or removes. */
  changes: CellChange[];
  /** The cells it adds, after the others. */
  added: Cell[];
  updateVector: number;
  expectedVector: number;
  at: Date;
  operationId: string;
  sessionId: string;
  userId: string;
  kind: 'operation' | 'undo' | 'redo';
  applied: CellOperation[];
  inverse: CellOperation[];
  affectedCells: string[];
  /** For undo and redo: the operation undone or redone. */
  targetVector: number | null;
  /** The logged operation this edit marks undone (the target of an undo, the undo a redo reverses). */
  marksUndone: number | null;
  /** The events' JSON parameter (`eventsParameter`). */
  events: string;
}

/** What an edit's statement did: written (the stored event rows), or not (the diagram was not as planned). */
export type EditOutcome = { written: true; rows: unknown[] } | { written: false };

/** Reads an edit's plan; `baseVector` null means the client's base is not known (no conflict check). */
export async function snapshotForEdit(
  pool: pg.Pool,
  sessionId: string,
  operationId: string,
  baseVector: number | null,
): Promise<DiagramSnapshot | undefined> {
  const { rows } = await pool.query({
    name: 'collab_snapshot',
    text: snapshotSql,
    values: [sessionId, operationId, baseVector ?? Number.MAX_SAFE_INTEGER],
  });
  return rows[0] ? toSnapshot(rows[0] as SnapshotRow) : undefined;
}

interface SnapshotRow {
  id: string;
  update_vector: string;
  cells: Cell[];
  name: string;
  session_id: string;
  threat_model_id: string;
  owner_id: string;
  authorization: unknown;
  duplicate: boolean;
  since: [string | number, string[]][];
}

const toSnapshot = (row: SnapshotRow): DiagramSnapshot => ({
  id: row.id,
  updateVector: Number(row.update_vector),
  cells: row.cells,
  name: row.name,
  sessionId: row.session_id,
  threatModelId: row.threat_model_id,
  ownerId: row.owner_id,
  authorization: row.authorization,
  duplicate: row.duplicate,
  since: row.since.map(([vector, cells]) => ({ updateVector: Number(vector), affectedCells: cells })),
});

/** Who may write to a session's diagram: its threat model's owner and authorization (undefined: no session). */
export async function sessionAccess(
  pool: pg.Pool,
  sessionId: string,
): Promise<{ ownerId: string; authorization: unknown } | undefined> {
  const { rows } = await pool.query({
    name: 'collab_access',
    text: `SELECT tm.owner_id, ${accessTuplesSql} AS authorization
           FROM collaboration_sessions s JOIN threat_models tm ON tm.id = s.threat_model_id
           WHERE s.id = $1::uuid`,
    values: [sessionId],
  });
  const row = rows[0] as { owner_id: string; authorization: unknown } | undefined;
  return row && { ownerId: row.owner_id, authorization: row.authorization };
}

/** What an edit writes, from the cells it was planned on and its operations as applied to them. */
export function cellChanges(planned: readonly Cell[], applied: CellOperation[]): Pick<Edit, 'changes' | 'added'> {
  const ids = new Set(planned.map((cell) => cell.id));
  const changes: CellChange[] = [];
  const added: Cell[] = [];
  for (const op of applied) {
    if (op.operation === 'add') {
      added.push(op.data!);
      continue;
    }
    if (!ids.has(op.id)) throw new OperationRejected('conflict_detected', `Cell ${op.id} does not exist`, [op.id]);
    changes.push(op.operation === 'update' ? { id: op.id, cell: op.data! } : { id: op.id });
  }
  return { changes, added };
}

/** Writes an edit if the diagram is still as planned. */
export async function tryEdit(pool: pg.Pool, edit: Edit): Promise<EditOutcome> {
  const { rows } = await pool.query({
    name: 'collab_edit',
    text: editSql,
    values: [
      edit.diagramId,
      JSON.stringify(edit.changes),
      edit.updateVector,
      edit.at,
      edit.operationId,
      edit.sessionId,
      edit.userId,
      edit.kind,
      JSON.stringify(edit.applied),
      JSON.stringify(edit.inverse),
      edit.affectedCells,
      edit.targetVector,
      edit.expectedVector,
      edit.events,
      edit.marksUndone,
      JSON.stringify(edit.added),
      edit.changes.map((change) => change.id),
      edit.added.map((cell) => cell.id),
    ],
  });
  return (rows[0] as { written: boolean } | undefined)?.written ? { written: true, rows } : { written: false };
}

interface LogRow {
  update_vector: string;
  operation_id: string;
  kind: string;
  cells: CellOperation[];
  inverse: CellOperation[];
  affected_cells: string[];
  target_vector: string | null;
}

const logColumns = `update_vector::text AS update_vector, operation_id, kind, cells, inverse, affected_cells,
  target_vector::text AS target_vector`;

const fromRow = (row: LogRow): LoggedOperation => ({
  updateVector: Number(row.update_vector),
  operationId: row.operation_id,
  kind: row.kind,
  cells: row.cells,
  inverse: row.inverse,
  affectedCells: row.affected_cells,
  targetVector: row.target_vector === null ? null : Number(row.target_vector),
});

/** The session's latest operation that is not undone (of the given kinds, if any). */
export async function latestOperation(
  pool: pg.Pool,
  diagramId: string,
  sessionId: string,
  kinds?: string[],
): Promise<LoggedOperation | undefined> {
  const { rows } = await pool.query({
    text: `SELECT ${logColumns} FROM diagram_operations
           WHERE diagram_id = $1::uuid AND session_id = $2::uuid AND undone_at IS NULL
             AND ($3::text[] IS NULL OR kind = ANY($3::text[]))
           ORDER BY update_vector DESC LIMIT 1`,
    values: [diagramId, sessionId, kinds ?? null],
  });
  return rows[0] ? fromRow(rows[0] as LogRow) : undefined;
}

export async function operationAt(
  pool: pg.Pool,
  diagramId: string,
  updateVector: number,
): Promise<LoggedOperation | undefined> {
  const { rows } = await pool.query({
    text: `SELECT ${logColumns} FROM diagram_operations WHERE diagram_id = $1::uuid AND update_vector = $2`,
    values: [diagramId, updateVector],
  });
  return rows[0] ? fromRow(rows[0] as LogRow) : undefined;
}
