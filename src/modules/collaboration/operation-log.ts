import type pg from 'pg';
import { insertEventsStatement } from '../events/events.js';
import { fanOutStatement } from '../webhooks/fanout.js';
import { accessTuplesSql } from '../threat-models/read.js';
import type { Cell } from '../diagrams/cells.js';
import type { CellOperation } from './cell-operations.js';

// The statements of a collaborative edit, hand-written: an edit is the hottest write of the server (a
// session of fifty editors sends a hundred a second). Each edit is planned on a snapshot read in one
// statement and written in one statement that applies only if the diagram is still at the snapshot's
// update vector — two round trips, no transaction held open, and nothing written twice.

/** The diagram of a session, its threat model's access, whether an operation id was seen, and the cells
 *  each logged operation after a base vector (`$3`) changed. */
const snapshotSql = `
SELECT d.id, d.update_vector::text AS update_vector, d.cells, d.name, s.id AS session_id, s.threat_model_id,
       tm.owner_id, ${accessTuplesSql} AS authorization,
       EXISTS (SELECT 1 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.operation_id = $2::uuid) AS duplicate,
       COALESCE((SELECT json_agg(json_build_array(o.update_vector, o.affected_cells))
                 FROM diagram_operations o WHERE o.diagram_id = d.id AND o.update_vector > $3), '[]') AS since
FROM collaboration_sessions s
JOIN diagrams d ON d.id = s.diagram_id
JOIN threat_models tm ON tm.id = s.threat_model_id
WHERE s.id = $1::uuid`;

/**
 * An edit in one statement, applied only if the diagram is still at the vector it was planned on
 * (`$13`) and its session still exists (`$6`; an edit may be planned on what the previous one wrote): the cells, the log entry, the operation it undoes or redoes marked (`$15`), the session's
 * activity and the events, all or nothing. No rows back means another edit got there first.
 */
const editSql = `
WITH diagram AS (
  UPDATE diagrams SET cells = $2::jsonb, update_vector = $3::bigint, version = version + 1, modified_at = $4::timestamptz
  WHERE id = $1::uuid AND update_vector = $13::bigint
    AND EXISTS (SELECT 1 FROM collaboration_sessions WHERE id = $6::uuid)
  RETURNING id
), logged AS (
  INSERT INTO diagram_operations
    (diagram_id, update_vector, operation_id, session_id, user_id, kind, cells, inverse, affected_cells, target_vector, created_at)
  SELECT $1::uuid, $3::bigint, $5::uuid, $6::uuid, $7::uuid, $8::text, $9::jsonb, $10::jsonb, $11::text[], $12::bigint,
         $4::timestamptz FROM diagram
), undone AS (
  UPDATE diagram_operations SET undone_at = $4::timestamptz
  WHERE diagram_id = $1::uuid AND update_vector = $15::bigint AND EXISTS (SELECT 1 FROM diagram)
), session AS (
  UPDATE collaboration_sessions SET last_activity_at = $4::timestamptz WHERE id = $6::uuid AND EXISTS (SELECT 1 FROM diagram)
), events AS (${insertEventsStatement(14, 4, 'diagram')}
), deliveries AS (${fanOutStatement('events')})
SELECT events.*, (SELECT COALESCE(array_agg(id::text), '{}') FROM deliveries) AS delivery_ids FROM events`;

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

export interface Edit {
  diagramId: string;
  cells: Cell[];
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
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    updateVector: Number(row.update_vector),
    cells: row.cells,
    name: row.name,
    sessionId: row.session_id,
    threatModelId: row.threat_model_id,
    ownerId: row.owner_id,
    authorization: row.authorization,
    duplicate: row.duplicate,
    since: (row.since as [string | number, string[]][]).map(([vector, cells]) => ({
      updateVector: Number(vector),
      affectedCells: cells,
    })),
  };
}

/** Writes an edit if the diagram is still at `expectedVector`; returns the stored event rows, or undefined. */
export async function tryEdit(pool: pg.Pool, edit: Edit): Promise<unknown[] | undefined> {
  const { rows } = await pool.query({
    name: 'collab_edit',
    text: editSql,
    values: [
      edit.diagramId,
      JSON.stringify(edit.cells),
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
    ],
  });
  return rows.length > 0 ? rows : undefined;
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
