// The ceiling for a threat model point read: a bare `node:http` server that answers
// GET /threat_models/{id} with one `pg` query through a pool of the same size as the real server's,
// and nothing else (no framework, no auth, no GraphQL, no presenter). Started by bench/run.ts as a
// child process; configured by its environment (this is a bench script, not part of the server).
import { createServer } from 'node:http';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('ceiling: DATABASE_URL is required');
const port = Number(process.env.PORT ?? 0);
const poolSize = Number(process.env.POOL_SIZE ?? 20);

// The same statement src/modules/threat-models/read.ts sends (the row, its owner, creator and
// reviewer, its authorization and metadata), so the database does the same work for every target.
const pointReadSql = `
SELECT tm.id, tm.alias, tm.name, tm.description, tm.threat_model_framework, tm.issue_uri, tm.status,
       tm.status_updated, tm.is_confidential, tm.project_id, tm.version, tm.owner_id, tm.created_by_id,
       tm.security_reviewer_id, tm.created_at, tm.modified_at,
       to_json(o) AS owner, to_json(c) AS created_by, to_json(r) AS security_reviewer,
       COALESCE((SELECT json_agg(json_build_array(a.id, a.position, a.principal_type, a.provider, a.provider_id,
                                                  a.display_name, a.email, a.role) ORDER BY a.position)
                 FROM threat_model_access a WHERE a.threat_model_id = tm.id), '[]') AS authorization,
       COALESCE((SELECT json_agg(json_build_array(m.id, m.key, m.value) ORDER BY m.key)
                 FROM threat_model_metadata m WHERE m.threat_model_id = tm.id), '[]') AS metadata
FROM threat_models tm
JOIN users o ON o.id = tm.owner_id
JOIN users c ON c.id = tm.created_by_id
LEFT JOIN users r ON r.id = tm.security_reviewer_id
WHERE tm.id = $1`;

const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
pool.on('error', () => undefined);

const uuid = /^\/threat_models\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0]!;
  if (req.method === 'GET' && path === '/') return send(res, 200, { status: 'ok' });
  const match = req.method === 'GET' ? uuid.exec(path) : null;
  if (!match) return send(res, 404, { error: 'not_found' });
  pool.query({ name: 'threat_model_point_read', text: pointReadSql, values: [match[1]] }).then(
    ({ rows }) => {
      const row = rows[0];
      if (!row) return send(res, 404, { error: 'not_found' });
      send(res, 200, {
        id: row.id,
        name: row.name,
        description: row.description,
        threat_model_framework: row.threat_model_framework,
        status: row.status,
        version: row.version,
        created_at: row.created_at,
        modified_at: row.modified_at,
        owner: {
          provider: row.owner.provider,
          provider_id: row.owner.provider_id,
          display_name: row.owner.name,
          email: row.owner.email,
        },
        authorization: (row.authorization as unknown[][]).map(
          ([, , principalType, provider, providerId, , , role]) => ({
            principal_type: principalType,
            provider,
            provider_id: providerId,
            role,
          }),
        ),
        metadata: (row.metadata as string[][]).map(([, key, value]) => ({ key, value })),
      });
    },
    () => send(res, 500, { error: 'server_error' }),
  );
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
