import type pg from 'pg';
import { insertEventsStatement } from '../events/events.js';
import { fanOutStatement } from '../webhooks/fanout.js';
import { accessTuplesSql } from '../threat-models/read.js';
import type { Cell } from '../diagrams/cells.js';
import { cellsJsonSql } from '../diagrams/store.js';
import { type CellOperation, OperationRejected } from './cell-operations.js';

// The statements of a collaborative edit, hand-written: an edit is the hottest write of the server (a
// session of fifty editors sends a hundred a second). An edit is planned on a snapshot of the diagram and
// written in one statement that applies only if the diagram is still as planned; when it is not, the same
// statement answers the diagram as it is now, to plan again on. An edit planned on a snapshot read for it
// costs two round trips; one planned on what the instance already knows (`edits.ts`), one. No
// transaction is held open, and nothing is written twice.

/** The diagram of a session (`session`), its threat model's access, whether an operation id (`operation`)
 *  was seen, and the cells each logged operation after a base vector (`base`) changed. */
const snapshotSelect = (session: string, operation: string, base: string) => `
SELECT d.id, d.update_vector::text AS update_vector, ${cellsJsonSql('d.id')} AS cells, d.name, s.id AS session_id,
       s.threat_model_id, tm.owner_id, ${accessTuplesSql} AS authorization,
       EXISTS (SELECT 1 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.operation_id = ${operation}::uuid) AS duplicate,
       COALESCE((SELECT json_agg(json_build_array(o.update_vector, o.affected_cells))
                 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.update_vector > ${base}::bigint), '[]') AS since
FROM collaboration_sessions s
JOIN diagrams d ON d.id = s.diagram_id
JOIN threat_models tm ON tm.id = s.threat_model_id
WHERE s.id = ${session}::uuid`;

const snapshotSql = snapshotSelect('$1', '$2', '$3');

/**
 * How stale a session's recorded activity may get while it is being edited: an idle session is one left
 * alone for minutes, and rewriting its row on every edit would add a row version per edit for nothing.
 */
const SESSION_ACTIVITY_GRANULARITY_SECONDS = 10;

/**
 * An edit in one statement, applied only if the diagram is still at the vector it was planned on (`$13`),
 * the cells it updates or removes exist (`$2`: their ids, with the new cell for an update), the cells it
 * adds do not (`$17`, drawn after the others) and its session still exists (`$6`): the cell rows, the
 * log entry, the operation it undoes or redoes marked (`$15`), the session's activity (when its record is
 * older than the granularity) and the events, all or nothing. Only the cells the edit changes are written,
 * whatever the size of the diagram.
 * Applied, the rows are the stored events (`snapshot` null); not applied, one row whose `snapshot` is the
 * diagram as it is now (for base vector `$16`), or null when the session is gone.
 */
const editSql = `
WITH diagram AS (
  UPDATE diagrams SET update_vector = $3::bigint, version = version + 1, modified_at = $4::timestamptz
  WHERE id = $1::uuid AND update_vector = $13::bigint
    AND (SELECT count(*) FROM diagram_cells c JOIN jsonb_to_recordset($2::jsonb) AS change(id text) ON c.id = change.id
         WHERE c.diagram_id = $1::uuid) = jsonb_array_length($2::jsonb)
    AND NOT EXISTS (SELECT 1 FROM diagram_cells c JOIN jsonb_array_elements($17::jsonb) AS added(cell)
                    ON c.id = added.cell ->> 'id' WHERE c.diagram_id = $1::uuid)
    AND EXISTS (SELECT 1 FROM collaboration_sessions WHERE id = $6::uuid)
  RETURNING id
), updated AS (
  UPDATE diagram_cells c SET cell = change.cell
  FROM diagram, jsonb_to_recordset($2::jsonb) AS change(id text, cell jsonb)
  WHERE c.diagram_id = $1::uuid AND c.id = change.id AND change.cell IS NOT NULL
), removed AS (
  DELETE FROM diagram_cells c
  USING diagram, jsonb_to_recordset($2::jsonb) AS change(id text, cell jsonb)
  WHERE c.diagram_id = $1::uuid AND c.id = change.id AND change.cell IS NULL
), added AS (
  INSERT INTO diagram_cells (diagram_id, id, position, cell)
  SELECT $1::uuid, added.cell ->> 'id',
         (SELECT COALESCE(max(position), 0) FROM diagram_cells WHERE diagram_id = $1::uuid) + added.ordinality,
         added.cell
  FROM diagram, jsonb_array_elements($17::jsonb) WITH ORDINALITY AS added(cell, ordinality)
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
SELECT events.*, (SELECT COALESCE(array_agg(id::text), '{}') FROM deliveries) AS delivery_ids, latest.snapshot
FROM (SELECT 1) AS one
LEFT JOIN events ON true
LEFT JOIN LATERAL (
  SELECT row_to_json(now_) AS snapshot FROM (${snapshotSelect('$6', '$5', '$16')}) AS now_
  WHERE NOT EXISTS (SELECT 1 FROM diagram)
) AS latest ON true`;

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
  /** The client's base vector (for the snapshot answered when the edit does not apply). */
  baseVector: number | null;
}

/** What an edit's statement did: written (the stored event rows), or not, with the diagram as it is now. */
export type EditOutcome = { written: true; rows: unknown[] } | { written: false; current: DiagramSnapshot | undefined };

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

/** Writes an edit if the diagram is still as planned; else answers the diagram as it is now. */
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
      edit.baseVector ?? Number.MAX_SAFE_INTEGER,
      JSON.stringify(edit.added),
    ],
  });
  const first = rows[0] as { id: string | null; snapshot: SnapshotRow | null } | undefined;
  if (first?.id) return { written: true, rows };
  return { written: false, current: first?.snapshot ? toSnapshot(first.snapshot) : undefined };
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
