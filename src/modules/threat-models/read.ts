import type { Document, Note, Prisma, Repository } from '../../generated/prisma/client.js';
import type { Asset } from '../assets/service.js';
import type { Diagram } from '../diagrams/service.js';
import { cellsJsonSql } from '../diagrams/store.js';
import type { Threat } from '../threats/service.js';
import type { Database } from '../../infra/db.js';
import type { AccessEntry, AccessSubject } from './policy.js';

/** What every threat model read loads: the row, the people it names, its authorization and metadata. */
export const threatModelInclude = {
  owner: true,
  createdBy: true,
  securityReviewer: true,
  authorization: { orderBy: { position: 'asc' } },
  metadata: { orderBy: { key: 'asc' } },
  _count: { select: { documents: true, notes: true, repositories: true, threats: true, assets: true, diagrams: true } },
} as const satisfies Prisma.ThreatModelInclude;

/** Lists carry counts of the children; the point read also carries the children themselves. */
export type ThreatModelRecord = Prisma.ThreatModelGetPayload<{ include: typeof threatModelInclude }> & {
  documents?: Document[];
  notes?: Note[];
  repositories?: Repository[];
  threats?: Threat[];
  assets?: Asset[];
  diagrams?: Diagram[];
};

type UserRecord = ThreatModelRecord['owner'];

const camelNames = new Map<string, string>();
/** Column names are few and a large read converts thousands of keys: each is converted once. */
const snakeToCamel = (key: string) => {
  let camel = camelNames.get(key);
  if (camel === undefined) {
    camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    camelNames.set(key, camel);
  }
  return camel;
};

/**
 * A row as `to_json` renders it (snake_case columns, ISO timestamps in `*_at` columns) back into the
 * shape Prisma returns, so the GraphQL types and services see the same objects from either read.
 */
function fromJsonRow<T>(json: Record<string, unknown>): T {
  const row: Record<string, unknown> = {};
  for (const key in json) {
    const value = json[key];
    row[snakeToCamel(key)] = key.endsWith('_at') && typeof value === 'string' ? new Date(value) : value;
  }
  return row as T;
}

/** A child's metadata entries as a JSON array, for the point read. */
const metadataOf = (table: string, column: string, alias: string) =>
  `COALESCE((SELECT jsonb_agg(jsonb_build_object('id', m.id, 'key', m.key, 'value', m.value) ORDER BY m.key)
             FROM ${table} m WHERE m.${column} = ${alias}.id), '[]'::jsonb)`;

// One statement, one round trip: the point read is the hottest path of the API. (bench/ceiling.ts sends it too.)
export const pointReadSql = `
SELECT tm.id, tm.alias, tm.name, tm.description, tm.threat_model_framework, tm.issue_uri, tm.status,
       tm.status_updated, tm.is_confidential, tm.project_id, tm.version, tm.owner_id, tm.created_by_id,
       tm.security_reviewer_id, tm.created_at, tm.modified_at,
       to_json(o) AS owner, to_json(c) AS created_by, to_json(r) AS security_reviewer,
       COALESCE((SELECT json_agg(json_build_array(a.id, a.position, a.principal_type, a.provider, a.provider_id,
                                                  a.display_name, a.email, a.role) ORDER BY a.position)
                 FROM threat_model_access a WHERE a.threat_model_id = tm.id), '[]') AS authorization,
       COALESCE((SELECT json_agg(json_build_array(m.id, m.key, m.value) ORDER BY m.key)
                 FROM threat_model_metadata m WHERE m.threat_model_id = tm.id), '[]') AS metadata,
       COALESCE((SELECT json_agg(to_json(d) ORDER BY d.alias)
                 FROM documents d WHERE d.threat_model_id = tm.id), '[]') AS documents,
       COALESCE((SELECT json_agg(to_json(n) ORDER BY n.alias)
                 FROM notes n WHERE n.threat_model_id = tm.id), '[]') AS notes,
       COALESCE((SELECT json_agg(to_json(r) ORDER BY r.alias)
                 FROM repositories r WHERE r.threat_model_id = tm.id), '[]') AS repositories,
       COALESCE((SELECT json_agg(to_json(t)::jsonb || jsonb_build_object('metadata', ${metadataOf('threat_metadata', 'threat_id', 't')})
                                 ORDER BY t.alias)
                 FROM threats t WHERE t.threat_model_id = tm.id), '[]') AS threats,
       COALESCE((SELECT json_agg(to_json(a)::jsonb || jsonb_build_object('metadata', ${metadataOf('asset_metadata', 'asset_id', 'a')})
                                 ORDER BY a.alias)
                 FROM assets a WHERE a.threat_model_id = tm.id), '[]') AS assets,
       COALESCE((SELECT json_agg(to_json(dg)::jsonb || jsonb_build_object('metadata', ${metadataOf('diagram_metadata', 'diagram_id', 'dg')},
                                   'cells', ${cellsJsonSql('dg.id')})
                                 ORDER BY dg.alias)
                 FROM diagrams dg WHERE dg.threat_model_id = tm.id), '[]') AS diagrams
FROM threat_models tm
JOIN users o ON o.id = tm.owner_id
JOIN users c ON c.id = tm.created_by_id
LEFT JOIN users r ON r.id = tm.security_reviewer_id
WHERE tm.id = $1`;

type AccessTuple = [
  string,
  number,
  'user' | 'group',
  string,
  string,
  string | null,
  string | null,
  'reader' | 'writer' | 'owner',
];

export async function loadThreatModel(db: Database, id: string): Promise<ThreatModelRecord | undefined> {
  const { rows } = await db.pool.query({ name: 'threat_model_point_read', text: pointReadSql, values: [id] });
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    alias: row.alias,
    name: row.name,
    description: row.description,
    threatModelFramework: row.threat_model_framework,
    issueUri: row.issue_uri,
    status: row.status,
    statusUpdated: row.status_updated,
    isConfidential: row.is_confidential,
    projectId: row.project_id,
    version: row.version,
    ownerId: row.owner_id,
    createdById: row.created_by_id,
    securityReviewerId: row.security_reviewer_id,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
    owner: fromJsonRow<UserRecord>(row.owner),
    createdBy: fromJsonRow<UserRecord>(row.created_by),
    securityReviewer: row.security_reviewer ? fromJsonRow<UserRecord>(row.security_reviewer) : null,
    authorization: (row.authorization as AccessTuple[]).map(
      ([accessId, position, principalType, provider, providerId, displayName, email, role]) => ({
        id: accessId,
        threatModelId: row.id,
        position,
        principalType,
        provider,
        providerId,
        displayName,
        email,
        role,
      }),
    ),
    metadata: (row.metadata as [string, string, string][]).map(([metaId, key, value]) => ({
      id: metaId,
      threatModelId: row.id,
      key,
      value,
    })),
    documents: (row.documents as Record<string, unknown>[]).map(fromJsonRow<Document>),
    notes: (row.notes as Record<string, unknown>[]).map(fromJsonRow<Note>),
    repositories: (row.repositories as Record<string, unknown>[]).map(fromJsonRow<Repository>),
    threats: (row.threats as Record<string, unknown>[]).map(fromJsonRow<Threat>),
    assets: (row.assets as Record<string, unknown>[]).map(fromJsonRow<Asset>),
    // update_vector arrives as a JSON number; the GraphQL type reads either.
    diagrams: (row.diagrams as Record<string, unknown>[]).map(fromJsonRow<Diagram>),
    _count: {
      documents: (row.documents as unknown[]).length,
      notes: (row.notes as unknown[]).length,
      repositories: (row.repositories as unknown[]).length,
      threats: (row.threats as unknown[]).length,
      assets: (row.assets as unknown[]).length,
      diagrams: (row.diagrams as unknown[]).length,
    },
  };
}

/** The SQL expression whose JSON `accessEntries` reads: a threat model's (alias `tm`) authorization list. */
export const accessTuplesSql = `COALESCE((SELECT json_agg(json_build_array(a.principal_type, a.provider, a.provider_id, a.email, a.role))
                 FROM threat_model_access a WHERE a.threat_model_id = tm.id), '[]')`;

const accessReadSql = `
SELECT tm.id, tm.owner_id, ${accessTuplesSql} AS authorization
FROM threat_models tm
WHERE tm.id = $1`;

/** Just what an authorization decision needs, for the children's endpoints: one small statement. */
export async function loadThreatModelAccess(
  db: Database,
  id: string,
): Promise<(AccessSubject & { id: string }) | undefined> {
  const { rows } = await db.pool.query({ name: 'threat_model_access_read', text: accessReadSql, values: [id] });
  const row = rows[0];
  if (!row) return undefined;
  return { id: row.id, ownerId: row.owner_id, authorization: accessEntries(row.authorization) };
}

/** Authorization entries from the JSON tuples `accessTuplesSql` selects. */
export function accessEntries(tuples: unknown): AccessEntry[] {
  return (tuples as [AccessEntry['principalType'], string, string, string | null, AccessEntry['role']][]).map(
    ([principalType, provider, providerId, email, role]) => ({ principalType, provider, providerId, email, role }),
  );
}
