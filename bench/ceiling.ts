// The ceiling: a bare `node:http` server that does what the measured endpoints do with hand-written SQL
// through a `pg` pool of the same size as the real server's, and nothing else (no framework, no auth, no
// validation beyond parsing, no GraphQL, no presenter). Started by bench/run.ts as a child process;
// configured by its environment (this is a bench script, not part of the server).
//
//   GET  /threat_models/{id}               one statement (the server's point read, children included);
//                                          answers TMI's full representation, the same JSON the REST
//                                          face answers (bench/run.ts checks they are equal)
//   POST /threat_models/{id}/threats/bulk  one statement, so one transaction: reserves the aliases, inserts
//                                          the threats, their metadata and the domain events the server
//                                          records for them; answers the created threats as REST does
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
// The point read is the very statement the server sends (the row, its people, its authorization and
// metadata, and all its children), so the database does the same work for every target.
import { pointReadSql } from '../src/modules/threat-models/read.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('ceiling: DATABASE_URL is required');
const port = Number(process.env.PORT ?? 0);
const poolSize = Number(process.env.POOL_SIZE ?? 20);

// Bulk create in one statement: $1 threat model, $2 the threats (JSON, stored column names), $3 how
// many, $4 a request id. Writes what the server writes: the alias counter, the threats, their metadata,
// one `threat.created` event per threat and one `metadata.created` event per entry.
const bulkCreateSql = `
WITH input AS (
  SELECT e.ord::int AS ord, r.*
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(item, ord),
       jsonb_to_record(e.item) AS r(name text, description text, mitigation text, diagram_id uuid, cell_id uuid,
                                    asset_id uuid, severity text, severity_rank int, score float8, priority text,
                                    mitigated boolean, status text, threat_type text[], issue_uri text,
                                    cwe_id text[], cvss jsonb, ssvc jsonb, include_in_report boolean,
                                    timmy_enabled boolean, metadata jsonb)
),
counter AS (
  INSERT INTO threat_model_alias_counters (threat_model_id, kind, last_value)
  VALUES ($1::uuid, 'threat', $3::int)
  ON CONFLICT (threat_model_id, kind) DO UPDATE SET last_value = threat_model_alias_counters.last_value + $3::int
  RETURNING last_value - $3::int AS base
),
ins AS (
  INSERT INTO threats (id, threat_model_id, alias, name, description, mitigation, diagram_id, cell_id, asset_id,
                       severity, severity_rank, score, priority, mitigated, status, threat_type, issue_uri, cwe_id,
                       cvss, ssvc, include_in_report, timmy_enabled, created_at, modified_at)
  SELECT gen_random_uuid(), $1::uuid, counter.base + i.ord, i.name, i.description, i.mitigation, i.diagram_id,
         i.cell_id, i.asset_id, i.severity, i.severity_rank, i.score, i.priority, i.mitigated, i.status,
         i.threat_type, i.issue_uri, i.cwe_id, i.cvss, i.ssvc, i.include_in_report, i.timmy_enabled,
         now(), now()
  FROM input i CROSS JOIN counter
  RETURNING *
),
md AS (
  INSERT INTO threat_metadata (id, threat_id, key, value)
  SELECT gen_random_uuid(), ins.id, m.key, m.value
  FROM ins
  JOIN input i ON ins.alias = (SELECT base FROM counter) + i.ord
  CROSS JOIN jsonb_to_recordset(i.metadata) AS m(key text, value text)
  RETURNING *
),
events AS (
  INSERT INTO domain_events (id, event_type, threat_model_id, object_type, object_id, request_id, data, occurred_at)
  SELECT gen_random_uuid(), 'threat.created', $1::uuid, 'threat', ins.id, $4, to_jsonb(ins), now() FROM ins
  UNION ALL
  SELECT gen_random_uuid(), 'metadata.created', $1::uuid, 'metadata', md.id, $4,
         jsonb_build_object('entityType', 'threat', 'entityId', md.threat_id, 'key', md.key, 'value', md.value), now()
  FROM md
)
SELECT ins.*,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('key', m.key, 'value', m.value) ORDER BY m.key)
                 FROM md m WHERE m.threat_id = ins.id), '[]'::jsonb) AS metadata
FROM ins
ORDER BY ins.alias`;

const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
pool.on('error', () => undefined);

// ---------------------------------------------------------------------------------------------------
// TMI's JSON: snake_case keys (the column names), ISO timestamps, nulls omitted, the fields (and their
// order) of the GraphQL fragments the REST face selects.

type Row = Record<string, unknown>;

const iso = (value: unknown) => (value instanceof Date ? value : new Date(value as string)).toISOString();

/** The named fields of a row, in this order; `*_at` and `status_updated` as ISO strings; nulls left out. */
function pick(row: Row, fields: readonly string[]): Row {
  const out: Row = {};
  for (const field of fields) {
    const value = row[field];
    if (value === null || value === undefined) continue;
    out[field] = field.endsWith('_at') || field === 'status_updated' ? iso(value) : value;
  }
  return out;
}

const entries = (list: unknown) => (list as { key: string; value: string }[]).map(({ key, value }) => ({ key, value }));

const user = (row: Row | null) =>
  row && {
    principal_type: 'user',
    provider: row.provider,
    provider_id: row.provider_id,
    display_name: row.name,
    email: row.email,
  };

const DOCUMENT = [
  'id',
  'alias',
  'name',
  'description',
  'uri',
  'include_in_report',
  'timmy_enabled',
  'version',
  'created_at',
  'modified_at',
] as const;
const NOTE = [
  'id',
  'alias',
  'name',
  'description',
  'include_in_report',
  'timmy_enabled',
  'created_at',
  'modified_at',
  'content',
] as const;
const REPOSITORY = [
  'id',
  'alias',
  'name',
  'description',
  'type',
  'parameters',
  'uri',
  'include_in_report',
  'timmy_enabled',
  'created_at',
  'modified_at',
] as const;
const THREAT = [
  'id',
  'threat_model_id',
  'alias',
  'name',
  'description',
  'mitigation',
  'diagram_id',
  'cell_id',
  'asset_id',
  'severity',
  'score',
  'priority',
  'mitigated',
  'status',
  'threat_type',
  'issue_uri',
  'cwe_id',
  'cvss',
  'ssvc',
  'include_in_report',
  'timmy_enabled',
  'auto_generated',
  'metadata',
  'version',
  'created_at',
  'modified_at',
] as const;
const ASSET = [
  'id',
  'threat_model_id',
  'alias',
  'name',
  'description',
  'type',
  'criticality',
  'classification',
  'sensitivity',
  'include_in_report',
  'timmy_enabled',
  'metadata',
  'version',
  'created_at',
  'modified_at',
] as const;

function threat(row: Row): Row {
  const cvss = row.cvss as { vector: string; score: number }[];
  const ssvc = row.ssvc as { vector: string; decision: string; methodology: string } | null;
  return pick(
    {
      ...row,
      cvss: cvss.map(({ vector, score }) => ({ vector, score })),
      ssvc: ssvc && { vector: ssvc.vector, decision: ssvc.decision, methodology: ssvc.methodology },
      metadata: entries(row.metadata),
    },
    THREAT,
  );
}

const asset = (row: Row) => pick({ ...row, metadata: entries(row.metadata) }, ASSET);

const DIAGRAM = [
  'id',
  'alias',
  'name',
  'type',
  'description',
  'image',
  'include_in_report',
  'timmy_enabled',
  'created_at',
  'modified_at',
  'cells',
  'color_palette',
  'metadata',
  'update_vector',
  'version',
] as const;

function diagram(row: Row): Row {
  const image = row.image as { svg?: string; updateVector?: number } | null;
  return pick(
    {
      ...row,
      image: image && pick({ svg: image.svg, update_vector: image.updateVector }, ['svg', 'update_vector']),
      metadata: entries(row.metadata),
      update_vector: Number(row.update_vector),
    },
    DIAGRAM,
  );
}

function threatModel(row: Row): Row {
  return {
    ...pick(row, [
      'id',
      'alias',
      'name',
      'description',
      'threat_model_framework',
      'issue_uri',
      'status',
      'status_updated',
      'created_at',
      'modified_at',
    ]),
    owner: user(row.owner as Row),
    created_by: user(row.created_by as Row),
    ...(row.security_reviewer ? { security_reviewer: user(row.security_reviewer as Row) } : {}),
    ...pick(row, ['is_confidential', 'project_id', 'version']),
    authorization: (row.authorization as unknown[][]).map(
      ([, , principalType, provider, providerId, displayName, email, role]) =>
        pick(
          {
            principal_type: principalType,
            provider,
            provider_id: providerId,
            display_name: displayName,
            email,
            role,
          },
          ['principal_type', 'provider', 'provider_id', 'display_name', 'email', 'role'],
        ),
    ),
    metadata: (row.metadata as string[][]).map(([, key, value]) => ({ key, value })),
    documents: (row.documents as Row[]).map((d) => pick(d, DOCUMENT)),
    notes: (row.notes as Row[]).map((n) => pick(n, NOTE)),
    repositories: (row.repositories as Row[]).map((r) => pick(r, REPOSITORY)),
    threats: (row.threats as Row[]).map(threat),
    assets: (row.assets as Row[]).map(asset),
    diagrams: (row.diagrams as Row[]).map(diagram),
  };
}

// ---------------------------------------------------------------------------------------------------
// Bulk create input: TMI's ThreatInput as sent (snake_case), with the server's defaults.

const SEVERITY_ORDER = ['unknown', 'informational', 'low', 'medium', 'high', 'critical'];

function threatColumns(input: Row): Row {
  const rank = typeof input.severity === 'string' ? SEVERITY_ORDER.indexOf(input.severity.toLowerCase()) : -1;
  return {
    name: input.name,
    description: input.description ?? null,
    mitigation: input.mitigation ?? null,
    diagram_id: input.diagram_id || null,
    cell_id: input.cell_id || null,
    asset_id: input.asset_id || null,
    severity: input.severity ?? null,
    severity_rank: rank < 0 ? null : rank,
    score: input.score ?? null,
    priority: input.priority ?? null,
    mitigated: input.mitigated ?? false,
    status: input.status ?? null,
    threat_type: input.threat_type ?? [],
    issue_uri: input.issue_uri || null,
    cwe_id: input.cwe_id ?? [],
    cvss: input.cvss ?? [],
    ssvc: input.ssvc ?? null,
    include_in_report: input.include_in_report ?? true,
    timmy_enabled: input.timmy_enabled ?? true,
    metadata: input.metadata ?? [],
  };
}

// ---------------------------------------------------------------------------------------------------

const uuid = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
const threatModelPath = new RegExp(`^/threat_models/${uuid}$`, 'i');
const bulkThreatsPath = new RegExp(`^/threat_models/${uuid}/threats/bulk$`, 'i');
let requests = 0;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const failed = (res: ServerResponse) => (error: unknown) => {
  process.stderr.write(`ceiling: ${error instanceof Error ? error.message : String(error)}\n`);
  send(res, 500, { error: 'server_error' });
};

const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0]!;
  if (req.method === 'GET' && path === '/') return send(res, 200, { status: 'ok' });

  const read = req.method === 'GET' ? threatModelPath.exec(path) : null;
  if (read) {
    pool.query({ name: 'threat_model_point_read', text: pointReadSql, values: [read[1]] }).then(({ rows }) => {
      const row = rows[0] as Row | undefined;
      if (!row) return send(res, 404, { error: 'not_found' });
      send(res, 200, threatModel(row));
    }, failed(res));
    return;
  }

  const bulk = req.method === 'POST' ? bulkThreatsPath.exec(path) : null;
  if (bulk) {
    readBody(req)
      .then(async (text) => {
        const inputs = JSON.parse(text) as Row[];
        if (!Array.isArray(inputs) || inputs.length === 0) return send(res, 400, { error: 'invalid_input' });
        const { rows } = await pool.query({
          name: 'threats_bulk_create',
          text: bulkCreateSql,
          values: [bulk[1], JSON.stringify(inputs.map(threatColumns)), inputs.length, `ceiling-${++requests}`],
        });
        send(res, 201, (rows as Row[]).map(threat));
      })
      .catch(failed(res));
    return;
  }

  send(res, 404, { error: 'not_found' });
});
server.keepAliveTimeout = 65_000;

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ceiling listening on ${typeof address === 'object' && address ? address.port : port}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
