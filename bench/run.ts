// API benchmark, each case side by side with its ceiling (a bare node:http + pg server doing the same
// database work with hand-written SQL) in one run:
//   point  GET /threat_models/{id} of a small threat model over REST, the same read over GraphQL
//   large  the same read of a threat model with 200 threats and 50 assets (TMI's full representation)
//   bulk   bulk create of threats as TMI clients do it: POST …/threats/bulk with 20 threats, 5 per threat model
// See bench/README.md. Run with `npm run bench`.
//
// Switches (environment):
//   DATABASE_URL        PostgreSQL to create the throw-away bench database on
//                       (default postgresql://postgres@127.0.0.1:5432/postgres)
//   REDIS_URL           Redis for the server when it answers (default redis://127.0.0.1:6379)
//   BENCH_CASES         comma-separated subset of point,large,bulk (default all three); `collab` runs the
//                       collaboration bench (bench/collab.ts, `npm run bench:collab`) after them
//   BENCH_DURATION      seconds per measured run of the point read (default 10)
//   BENCH_WARMUP        seconds of warm-up per target before the first round of the point read (default 3)
//   BENCH_CASE_DURATION seconds per measured run of the large read and the bulk create (default 6)
//   BENCH_CASE_WARMUP   seconds of warm-up per target for the large read and the bulk create (default 2)
//   BENCH_CONNECTIONS   concurrent keep-alive connections of the reads (default 32)
//   BENCH_BULK_CONNECTIONS  concurrent connections of the bulk create (default 8; see bench/README.md)
//   BENCH_ROUNDS        interleaved rounds; each target's median is reported (default 2)
//   BENCH_ROUND_TRIP_READS  sequential reads per target when counting SQL round trips (default 200; the
//                       large read uses a tenth, the bulk create 10 requests)
//   BENCH_TARGETS       comma-separated subset of rest,graphql,ceiling (default all three)
//   BENCH_CPU_PROF      a directory: the measured server runs with --cpu-prof and writes its profile there
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { print } from 'graphql';
import pg from 'pg';
import { login, TEST_CALLBACK as CLIENT_CALLBACK } from '../test/helpers/login.js';
import { CreateThreatsDocument, GetThreatModelDocument } from '../rest-compat/generated/graphql.js';
import {
  api,
  BenchError,
  createBenchDatabase,
  check,
  cleanup,
  cleanups,
  describe,
  envNumber,
  freePort,
  machineTicks,
  median,
  processCpuMicros,
  redisAnswers,
  reportMachineLoad,
  root,
  sleep,
  startChild,
} from './harness.js';

const settings = {
  adminUrl: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  cases: (process.env.BENCH_CASES || 'point,large,bulk')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== 'collab'),
  collab: (process.env.BENCH_CASES ?? '').split(',').some((c) => c.trim() === 'collab'),
  duration: envNumber('BENCH_DURATION', 10),
  warmup: envNumber('BENCH_WARMUP', 3),
  caseDuration: envNumber('BENCH_CASE_DURATION', 6),
  caseWarmup: envNumber('BENCH_CASE_WARMUP', 2),
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 32)),
  bulkConnections: Math.round(envNumber('BENCH_BULK_CONNECTIONS', 8)),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 2)),
  roundTripReads: Math.round(envNumber('BENCH_ROUND_TRIP_READS', 200)),
  targets: (process.env.BENCH_TARGETS || 'rest,graphql,ceiling').split(',').map((t) => t.trim()),
  cpuProfDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
};

/** The pool size of the real server (src/infra/db.ts `createDatabase` default); the ceiling uses the same. */
const SERVER_POOL_SIZE = 20;
/** pg-boss's schema (TMI_JOBS_SCHEMA default): its statements are background work, not part of a read. */
const JOBS_SCHEMA = 'pgboss';

const GRAPHQL_QUERY =
  'query($id: ID!){ threatModel(id:$id){ id name description threatModelFramework status version createdAt modifiedAt ' +
  'owner{ provider providerId displayName email } authorization{ principalType provider providerId role } } }';

// ---------------------------------------------------------------------------------------------------
// autocannon (CommonJS, no type declarations): the part of its API used here.

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called before each request with the connection's context (reset after the last of `requests`). */
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Sent in turn on each connection; the context lives until the last one has been sent. */
  requests?: AutocannonRequest[];
  expectBody?: string;
  verifyBody?: (body: string) => boolean;
}
interface Histogram {
  average: number;
  p50: number;
  p99: number;
  total: number;
}
interface AutocannonResult {
  duration: number;
  requests: Histogram;
  latency: Histogram;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (
  options: AutocannonOptions,
  done: (error: Error | null, result: AutocannonResult) => void,
) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---------------------------------------------------------------------------------------------------
// CPU per request: the target process, the PostgreSQL backends of the bench database and the load
// generator itself (read from /proc by the harness).

interface CpuSnapshot {
  machine: { busy: number; total: number } | undefined;
  target: number | undefined;
  postgres: Map<number, number> | undefined;
  loadGenerator: number;
}

async function cpuSnapshot(targetPid: number | undefined, database: DatabaseProbe): Promise<CpuSnapshot> {
  let postgres: Map<number, number> | undefined;
  const pids = await database.backendPids();
  if (pids) {
    postgres = new Map();
    for (const pid of pids) {
      const micros = processCpuMicros(pid);
      if (micros !== undefined) postgres.set(pid, micros);
    }
    if (postgres.size === 0) postgres = undefined; // not on this machine (or not readable)
  }
  const usage = process.cpuUsage();
  return {
    machine: machineTicks(),
    target: processCpuMicros(targetPid),
    postgres,
    loadGenerator: usage.user + usage.system,
  };
}

interface CpuPerRequest {
  /** Share of all the machine's CPUs that was busy during the run (0..1). */
  machineBusy: number | undefined;
  target: number | undefined;
  postgres: number | undefined;
  loadGenerator: number;
}

function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): CpuPerRequest {
  const per = (value: number) => value / Math.max(1, requests);
  let postgres: number | undefined;
  if (before.postgres && after.postgres) {
    postgres = 0;
    for (const [pid, micros] of after.postgres) postgres += micros - (before.postgres.get(pid) ?? 0);
    postgres = per(postgres);
  }
  const machine =
    before.machine && after.machine
      ? (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total)
      : undefined;
  return {
    machineBusy: machine,
    target: before.target !== undefined && after.target !== undefined ? per(after.target - before.target) : undefined,
    postgres,
    loadGenerator: per(after.loadGenerator - before.loadGenerator),
  };
}

/** The PostgreSQL backends serving the bench database (all of them: only the target under load is busy). */
class DatabaseProbe {
  private client: pg.Client | undefined;
  constructor(
    private readonly adminUrl: string,
    private readonly database: string,
  ) {}

  async backendPids(): Promise<number[] | undefined> {
    const host = new URL(this.adminUrl).hostname;
    if (!['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host)) return undefined;
    if (!this.client) {
      this.client = new pg.Client({ connectionString: this.adminUrl });
      await this.client.connect();
    }
    const { rows } = await this.client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [this.database],
    );
    return rows.map((row) => row.pid);
  }

  async close(): Promise<void> {
    await this.client?.end();
    this.client = undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Counting SQL round trips.
//
// pg_stat_statements would be the obvious counter, but it only counts when it is in
// shared_preload_libraries (a server restart); pg_stat_database's xact_commit counts transactions, not
// round trips, and other backends flush it lazily (up to seconds later). So the bench measures round
// trips where they happen, on the wire: a TCP proxy between the server and PostgreSQL that parses the
// frontend protocol and counts each Sync ('S', the end of one extended-protocol exchange: Parse/Bind/
// Execute/Sync is one round trip) and each simple Query ('Q'), remembering which statement text each
// one ran. A separate server instance connects through the proxy (the measured instance connects
// directly, so the proxy costs it nothing); N sequential reads are sent and the round trips seen
// during them, minus pg-boss's own polling (statements on its schema) and minus the idle background
// rate measured just before, are divided by N. The ceiling is counted the same way as a calibration:
// it must come out at exactly 1.

interface WireEvent {
  at: number;
  text: string;
}

class PgWireCounter {
  readonly events: WireEvent[] = [];
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly upstream: { host: string; port: number }) {}

  async listen(): Promise<number> {
    const server = net.createServer((client) => this.connection(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private connection(client: net.Socket): void {
    const upstream = net.connect(this.upstream);
    this.sockets.add(client).add(upstream);
    client.on('close', () => this.sockets.delete(client));
    upstream.on('close', () => this.sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);

    let buffer: Buffer = Buffer.alloc(0);
    let startup = true;
    const prepared = new Map<string, string>();
    let batch: string[] = [];
    client.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (startup) {
          // Untyped startup packets: SSLRequest/GSSENCRequest (then the real StartupMessage) or CancelRequest.
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code !== 80877103 && code !== 80877104) startup = false;
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (type === 'P') {
          const [name, next] = cString(body, 0);
          prepared.set(name, cString(body, next)[0]);
        } else if (type === 'B') {
          const [, next] = cString(body, 0); // portal
          batch.push(prepared.get(cString(body, next)[0]) ?? '?');
        } else if (type === 'S') {
          this.events.push({ at: performance.now(), text: batch.join(' ; ') || '(sync)' });
          batch = [];
        } else if (type === 'Q') {
          this.events.push({ at: performance.now(), text: cString(body, 0)[0] });
        }
      }
    });
  }
}

function cString(buffer: Buffer, start: number): [string, number] {
  const end = buffer.indexOf(0, start);
  return [buffer.toString('utf8', start, end), end + 1];
}

const isBackground = (text: string) => new RegExp(`\\b${JOBS_SCHEMA}\\b`, 'i').test(text);

interface RoundTrips {
  perRead: number;
  statements: { text: string; perRead: number }[];
}

async function countRoundTrips(counter: PgWireCounter, reads: number, read: () => Promise<void>): Promise<RoundTrips> {
  const foreground = (from: number, to: number) =>
    counter.events.filter((event) => event.at >= from && event.at <= to && !isBackground(event.text));
  // Idle background rate (anything periodic that is not pg-boss), to subtract.
  const idleFrom = performance.now();
  await sleep(1000);
  const idleTo = performance.now();
  const idleRate = foreground(idleFrom, idleTo).length / (idleTo - idleFrom);

  const from = performance.now();
  for (let i = 0; i < reads; i++) await read();
  await sleep(20); // let the last Sync reach the proxy's parser
  const to = performance.now();
  const events = foreground(from, to);
  const perRead = Math.max(0, events.length - idleRate * (to - from)) / reads;
  const byText = new Map<string, number>();
  for (const { text } of events) byText.set(text, (byText.get(text) ?? 0) + 1);
  const statements = [...byText.entries()]
    .map(([text, count]) => ({ text: text.replace(/\s+/g, ' ').trim(), perRead: count / reads }))
    .filter((s) => s.perRead >= 0.05)
    .sort((a, b) => b.perRead - a.perRead);
  return { perRead, statements };
}

// ---------------------------------------------------------------------------------------------------
// The fixtures, created through the real API (the login is the built-in test provider, PKCE).

const SMALL_MODEL_NAME = 'Bench threat model';
const LARGE_MODEL_NAME = 'Bench threat model with 200 threats and 50 assets';
const LARGE_THREATS = 200;
const LARGE_ASSETS = 50;
/** TMI's per-request limits of the bulk endpoints. */
const THREAT_BULK = 20;
const ASSET_BULK = 50;
/** Bulk create: requests of THREAT_BULK threats, this many in a row into the same threat model. */
const BULK_REQUESTS_PER_MODEL = 5;

const sharedAccess = {
  authorization: [
    {
      principal_type: 'user',
      provider: 'tmi',
      provider_id: 'alice',
      display_name: 'Alice',
      email: 'alice@example.com',
      role: 'writer',
    },
    { principal_type: 'group', provider: 'tmi', provider_id: 'security-team', role: 'reader' },
  ],
  metadata: [
    { key: 'team', value: 'platform' },
    { key: 'tier', value: '1' },
  ],
};

async function createThreatModel(baseUrl: string, token: string, name = SMALL_MODEL_NAME): Promise<string> {
  const body = await api<{ id?: string }>(
    baseUrl,
    token,
    'POST',
    '/threat_models',
    {
      name,
      description: 'A threat model read over and over by bench/run.ts',
      threat_model_framework: 'STRIDE',
      ...sharedAccess,
    },
    201,
  );
  check(body.id, `POST /threat_models answered no id`);
  return body.id;
}

/** Threat models for the bulk create: owner only, no children. */
async function createEmptyThreatModels(baseUrl: string, token: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, count) }, async () => {
      while (next < count) {
        next++;
        const body = await api<{ id: string }>(
          baseUrl,
          token,
          'POST',
          '/threat_models',
          { name: `Bench bulk target ${next}`, threat_model_framework: 'STRIDE' },
          201,
        );
        ids.push(body.id);
      }
    }),
  );
  return ids;
}

// Realistic, deterministic content: what a STRIDE workshop leaves behind.
const THREAT_KINDS = [
  {
    name: 'Spoofing of the API gateway identity',
    type: ['Spoofing'],
    cwe: ['CWE-287', 'CWE-290'],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N',
    score: 9.1,
  },
  {
    name: 'Tampering with order records in transit',
    type: ['Tampering'],
    cwe: ['CWE-345'],
    cvss: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N',
    score: 5.9,
  },
  {
    name: 'Repudiation of administrative changes',
    type: ['Repudiation'],
    cwe: ['CWE-778'],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:N/I:L/A:N',
    score: 2.7,
  },
  {
    name: 'Disclosure of customer data through verbose errors',
    type: ['Information Disclosure'],
    cwe: ['CWE-209', 'CWE-200'],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N',
    score: 5.3,
  },
  {
    name: 'Denial of service through unbounded uploads',
    type: ['Denial of Service'],
    cwe: ['CWE-400', 'CWE-770'],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H',
    score: 7.5,
  },
  {
    name: 'Elevation of privilege via insecure deserialization',
    type: ['Elevation of Privilege', 'Tampering'],
    cwe: ['CWE-502'],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
    score: 8.8,
  },
];
const COMPONENTS = [
  'checkout service',
  'customer database',
  'identity provider',
  'payment gateway',
  'admin console',
  'event bus',
  'object storage',
];
const STATUSES = ['Open', 'In Progress', 'Mitigated'];
const PRIORITIES = ['High', 'Medium', 'Low'];

const severityOf = (score: number) => (score >= 9 ? 'Critical' : score >= 7 ? 'High' : score >= 4 ? 'Medium' : 'Low');

/** TMI's ThreatInput (REST, snake_case) for the i-th threat; `assetIds` to link some to assets. */
function threatInput(i: number, assetIds: string[] = []): Record<string, unknown> {
  const kind = THREAT_KINDS[i % THREAT_KINDS.length]!;
  const component = COMPONENTS[i % COMPONENTS.length]!;
  const status = STATUSES[i % STATUSES.length]!;
  return {
    name: `${kind.name} (${component}, #${i + 1})`,
    description:
      `An attacker who can reach the ${component} over the network could exploit this weakness. ` +
      `Observed during the design review of the ${component}; the data flow crosses a trust boundary ` +
      `between the public zone and the internal service mesh, and no compensating control was found.`,
    ...(i % 2 === 0
      ? {
          mitigation:
            'Enforce mutual TLS between services, validate every request at the boundary, and alert on ' +
            'anomalies through the central monitoring pipeline.',
        }
      : {}),
    severity: severityOf(kind.score),
    score: kind.score,
    priority: PRIORITIES[i % PRIORITIES.length],
    mitigated: status === 'Mitigated',
    status,
    threat_type: kind.type,
    cwe_id: kind.cwe,
    cvss: [{ vector: kind.cvss, score: kind.score }],
    ...(i % 5 === 0
      ? { ssvc: { vector: 'SSVCv2/E:P/A:N/T:P/P:M/B:A/M:M/D:S', decision: 'Scheduled', methodology: 'Supplier' } }
      : {}),
    ...(i % 4 === 0 ? { issue_uri: `https://issues.example.com/browse/SEC-${1000 + i}` } : {}),
    ...(assetIds.length > 0 && i % 5 < 3 ? { asset_id: assetIds[i % assetIds.length] } : {}),
    metadata: [
      { key: 'component', value: component },
      { key: 'source', value: 'threat-modeling-workshop-2024-06' },
      ...(i % 2 === 0 ? [{ key: 'reviewed_by', value: 'security-team' }] : []),
    ],
  };
}

const ASSET_TYPES = ['data', 'software', 'service', 'infrastructure', 'hardware', 'personnel'];
function assetInput(i: number): Record<string, unknown> {
  const component = COMPONENTS[i % COMPONENTS.length]!;
  return {
    name: `${component[0]!.toUpperCase()}${component.slice(1)} asset ${i + 1}`,
    description: `Stored or processed by the ${component}; in scope for the yearly review.`,
    type: ASSET_TYPES[i % ASSET_TYPES.length],
    criticality: PRIORITIES[i % PRIORITIES.length]!.toLowerCase(),
    classification: i % 2 === 0 ? ['confidential', 'pii'] : ['internal'],
    sensitivity: i % 3 === 0 ? 'restricted' : 'internal',
  };
}

/** The large threat model: 200 threats (20 per bulk request), 50 assets, a few documents, notes, repositories. */
async function seedLargeThreatModel(baseUrl: string, token: string): Promise<string> {
  const id = await createThreatModel(baseUrl, token, LARGE_MODEL_NAME);
  const base = `/threat_models/${id}`;
  const assets = await api<{ id: string }[]>(
    baseUrl,
    token,
    'POST',
    `${base}/assets/bulk`,
    Array.from({ length: LARGE_ASSETS }, (_, i) => assetInput(i)),
    201,
  );
  check(assets.length === LARGE_ASSETS && assets.length <= ASSET_BULK, `assets bulk created ${assets.length}`);
  const assetIds = assets.map((asset) => asset.id);
  for (const [i, assetId] of assetIds.entries()) {
    if (i % 2 !== 0) continue; // every other asset carries metadata
    await api(
      baseUrl,
      token,
      'POST',
      `${base}/assets/${assetId}/metadata/bulk`,
      [
        { key: 'data_owner', value: COMPONENTS[i % COMPONENTS.length] },
        { key: 'retention', value: '7y' },
      ],
      201,
    );
  }
  for (let offset = 0; offset < LARGE_THREATS; offset += THREAT_BULK) {
    const created = await api<unknown[]>(
      baseUrl,
      token,
      'POST',
      `${base}/threats/bulk`,
      Array.from({ length: THREAT_BULK }, (_, i) => threatInput(offset + i, assetIds)),
      201,
    );
    check(created.length === THREAT_BULK, `threats bulk created ${created.length}`);
  }
  for (let i = 0; i < 3; i++) {
    await api(
      baseUrl,
      token,
      'POST',
      `${base}/documents`,
      {
        name: `Architecture document ${i + 1}`,
        uri: `https://docs.example.com/architecture/${i + 1}`,
        description: 'The system context and the data flows reviewed in the workshop.',
      },
      201,
    );
  }
  for (let i = 0; i < 2; i++) {
    await api(
      baseUrl,
      token,
      'POST',
      `${base}/notes`,
      {
        name: `Workshop notes ${i + 1}`,
        description: 'Raw notes of the threat modeling session.',
        content: `# Session ${i + 1}\n\n${'- Reviewed the trust boundaries of the checkout flow and the payment gateway.\n'.repeat(12)}`,
      },
      201,
    );
  }
  for (let i = 0; i < 2; i++) {
    await api(
      baseUrl,
      token,
      'POST',
      `${base}/repositories`,
      {
        name: `service-${i + 1}`,
        type: 'git',
        uri: `https://git.example.com/platform/service-${i + 1}.git`,
        parameters: { refType: 'branch', refValue: 'main' },
      },
      201,
    );
  }
  return id;
}

// ---------------------------------------------------------------------------------------------------
// Targets and cases.

type TargetName = 'rest' | 'graphql' | 'ceiling';
const LABELS: Record<TargetName, string> = { rest: 'REST', graphql: 'GraphQL', ceiling: 'ceiling' };
type CaseName = 'point' | 'large' | 'bulk';

interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a measured run sends (autocannon options without connections and duration), and what follows it. */
interface LoadPlan {
  options: Omit<AutocannonOptions, 'connections' | 'duration'>;
  /** After the run, outside the measured time: checks of its effects and cleanup. */
  finish?: (result: AutocannonResult) => Promise<void>;
}

interface Verified {
  /** The exact body (reads: every measured response must equal it). */
  body: string;
  bytes: number;
}

interface CaseTarget {
  name: TargetName;
  /** One request, checked for status and content. */
  verify(): Promise<Verified>;
  /** Prepares counting (outside the counted time) and returns one operation to count. */
  countable(): Promise<() => Promise<void>>;
  plan(verified: Verified): Promise<LoadPlan>;
}

interface BenchCase {
  name: CaseName;
  title: string;
  /** What one request is, in the table ("read" or "request"). */
  unit: 'read' | 'request';
  /** Items each request creates (the bulk create: threats), for an items/s column. */
  itemsPerRequest?: number;
  duration: number;
  warmup: number;
  connections: number;
  roundTripOps: number;
  /** Whether the point read's goals (REST ≥ 50 % / p99 ≤ 2×, GraphQL ≥ 40 %, 1 round trip) apply. */
  goals: boolean;
  /** After verification: checks across targets (e.g. REST and ceiling answer the same JSON). */
  compare?(verified: Map<TargetName, Verified>): void;
  targets: CaseTarget[];
}

interface Deployment {
  serverUrl: string;
  ceilingUrl: string;
  token: string;
  /** A client on the bench database, for the harness's own checks and cleanup. */
  db: pg.Client;
}

const GRAPHQL_LARGE_QUERY = print(GetThreatModelDocument);
const GRAPHQL_BULK_MUTATION = print(CreateThreatsDocument);

async function send(request: HttpRequest, label: string): Promise<{ status: number; text: string }> {
  const { url, ...init } = request;
  const response = await fetch(url, init).catch((error: unknown) => {
    throw new BenchError(`${label}: request failed: ${describe(error)}`);
  });
  return { status: response.status, text: await response.text() };
}

type Json = Record<string, unknown>;

/** A read: the same request every time, answered with the same bytes every time. */
function readTarget(name: TargetName, request: HttpRequest, checkBody: (json: Json, label: string) => void) {
  const label = LABELS[name];
  const once = async () => {
    const { status, text } = await send(request, label);
    check(status === 200, `${label}: ${status} ${text.slice(0, 500)}`);
    return text;
  };
  return {
    name,
    async verify() {
      const text = await once();
      const json = JSON.parse(text) as { data?: { threatModel?: Json }; errors?: unknown[] } & Json;
      check(!json.errors, `${label}: GraphQL errors ${JSON.stringify(json.errors)}`);
      const model = name === 'graphql' ? json.data?.threatModel : json;
      check(model, `${label}: no threat model in ${text.slice(0, 500)}`);
      checkBody(model, label);
      check(text === (await once()), `${label}: two reads of the same model differ`);
      return { body: text, bytes: Buffer.byteLength(text) };
    },
    countable: async () => async () => void (await once()),
    plan: async (verified) => ({ options: { ...request, expectBody: verified.body } }),
  } satisfies CaseTarget;
}

function readTargets(
  deployment: Deployment,
  id: string,
  graphqlQuery: string,
  checkBody: (json: Json, label: string) => void,
): CaseTarget[] {
  const auth = { authorization: `Bearer ${deployment.token}` };
  return [
    readTarget('rest', { url: `${deployment.serverUrl}/threat_models/${id}`, method: 'GET', headers: auth }, checkBody),
    readTarget(
      'graphql',
      {
        url: `${deployment.serverUrl}/graphql`,
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: graphqlQuery, variables: { id } }),
      },
      checkBody,
    ),
    readTarget(
      'ceiling',
      { url: `${deployment.ceilingUrl}/threat_models/${id}`, method: 'GET', headers: auth },
      checkBody,
    ),
  ];
}

/** The ceiling answers TMI's full representation: it must be the JSON the REST face answers. */
function sameAsRest(verified: Map<TargetName, Verified>): void {
  const rest = verified.get('rest');
  const ceiling = verified.get('ceiling');
  if (!rest || !ceiling) return;
  const difference = firstDifference(JSON.parse(rest.body), JSON.parse(ceiling.body), '');
  check(difference === undefined, `the ceiling's JSON differs from REST's at ${difference}`);
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const inner = firstDifference((a as Json)[key], (b as Json)[key], `${path}/${key}`);
      if (inner) return inner;
    }
  }
  return `${path || '/'}: REST ${JSON.stringify(a)?.slice(0, 200)} vs ceiling ${JSON.stringify(b)?.slice(0, 200)}`;
}

function authorizationCheck(model: Json, label: string): void {
  check(model.owner && typeof model.owner === 'object', `${label}: no owner`);
  const authorization = model.authorization as { provider_id?: string; providerId?: string }[] | undefined;
  check(
    Array.isArray(authorization) &&
      authorization.length === 3 &&
      authorization.some((entry) => (entry.provider_id ?? entry.providerId) === 'security-team'),
    `${label}: authorization should list the owner, alice and security-team: ${JSON.stringify(authorization)}`,
  );
}

function pointCase(deployment: Deployment, id: string): BenchCase {
  return {
    name: 'point',
    title: `Point read: GET /threat_models/{id} of a small threat model (3 authorization entries, 2 metadata, no children)`,
    unit: 'read',
    duration: settings.duration,
    warmup: settings.warmup,
    connections: settings.connections,
    roundTripOps: settings.roundTripReads,
    goals: true,
    compare: sameAsRest,
    targets: readTargets(deployment, id, GRAPHQL_QUERY, (model, label) => {
      check(model.id === id && model.name === SMALL_MODEL_NAME, `${label}: wrong model ${JSON.stringify(model)}`);
      authorizationCheck(model, label);
    }),
  };
}

function largeCase(deployment: Deployment, id: string): BenchCase {
  return {
    name: 'large',
    title:
      `Large read: the same read of a threat model with ${LARGE_THREATS} threats and ${LARGE_ASSETS} assets ` +
      `(+ 3 documents, 2 notes, 2 repositories; GraphQL: rest-compat's GetThreatModel)`,
    unit: 'read',
    duration: settings.caseDuration,
    warmup: settings.caseWarmup,
    connections: settings.connections,
    roundTripOps: Math.max(10, Math.round(settings.roundTripReads / 10)),
    goals: true,
    compare: sameAsRest,
    targets: readTargets(deployment, id, GRAPHQL_LARGE_QUERY, (model, label) => {
      check(model.id === id && model.name === LARGE_MODEL_NAME, `${label}: wrong model ${model.id}`);
      authorizationCheck(model, label);
      const threats = (model.threats ?? model.threatList) as Json[] | undefined;
      const assets = (model.assets ?? model.assetList) as Json[] | undefined;
      check(threats?.length === LARGE_THREATS, `${label}: ${threats?.length} threats, not ${LARGE_THREATS}`);
      check(assets?.length === LARGE_ASSETS, `${label}: ${assets?.length} assets, not ${LARGE_ASSETS}`);
      check(
        threats.every((threat) => Array.isArray(threat.metadata) && threat.metadata.length >= 2),
        `${label}: threats without their metadata`,
      );
      const documents = (model.documents ?? model.documentList) as unknown[] | undefined;
      check(documents?.length === 3, `${label}: ${documents?.length} documents, not 3`);
    }),
  };
}

/**
 * Bulk create, as TMI clients do it: POST …/threats/bulk with 20 threats, five requests in a row into one
 * threat model (100 threats), then the next threat model. Each measured run gets fresh (empty) threat
 * models, which are deleted (with their events) and vacuumed after it, so every run starts from the same
 * state and no threat model grows without bound.
 */
function bulkCase(deployment: Deployment): BenchCase {
  const inputs = Array.from({ length: THREAT_BULK }, (_, i) => threatInput(i));
  const restBody = JSON.stringify(inputs);
  const metadataPerRequest = inputs.reduce((sum, input) => sum + (input.metadata as unknown[]).length, 0);
  const auth = { authorization: `Bearer ${deployment.token}`, 'content-type': 'application/json' };
  const graphqlBody = (model: string) =>
    JSON.stringify({
      query: GRAPHQL_BULK_MUTATION,
      variables: { threatModelId: model, inputs: inputs.map((input) => toCamel(input)) },
    });

  const requestFor = (name: TargetName, model: string): HttpRequest => {
    switch (name) {
      case 'rest':
        return {
          url: `${deployment.serverUrl}/threat_models/${model}/threats/bulk`,
          method: 'POST',
          headers: auth,
          body: restBody,
        };
      case 'ceiling':
        return {
          url: `${deployment.ceilingUrl}/threat_models/${model}/threats/bulk`,
          method: 'POST',
          headers: auth,
          body: restBody,
        };
      case 'graphql':
        return {
          url: `${deployment.serverUrl}/graphql`,
          method: 'POST',
          headers: { ...auth, accept: 'application/json' },
          body: graphqlBody(model),
        };
    }
  };

  /** The created threats in an answer (REST and ceiling: an array; GraphQL: data.createThreats). */
  const created = (name: TargetName, status: number, text: string): Json[] => {
    const label = LABELS[name];
    check(status === (name === 'graphql' ? 200 : 201), `${label}: ${status} ${text.slice(0, 500)}`);
    const json = JSON.parse(text) as Json[] | { data?: { createThreats?: Json[] }; errors?: unknown[] };
    const threats = Array.isArray(json) ? json : json.data?.createThreats;
    check(
      Array.isArray(threats) && threats.length === THREAT_BULK,
      `${label}: expected ${THREAT_BULK} threats, got ${text.slice(0, 500)}`,
    );
    check(
      threats.every((threat, i) => threat.name === inputs[i]!.name && Array.isArray(threat.metadata)),
      `${label}: the answer does not list the created threats in order with their metadata`,
    );
    return threats;
  };
  // The first bytes of every successful answer (cheap to check on each response under load).
  const prefix: Record<TargetName, string> = {
    rest: '[{"id":"',
    ceiling: '[{"id":"',
    graphql: '{"data":{"createThreats":[{',
  };

  const target = (name: TargetName): CaseTarget => ({
    name,
    async verify() {
      const [model] = await createEmptyThreatModels(deployment.serverUrl, deployment.token, 1);
      const { status, text } = await send(requestFor(name, model!), LABELS[name]);
      created(name, status, text);
      check(text.startsWith(prefix[name]), `${LABELS[name]}: answer starts with ${text.slice(0, 40)}`);
      await dropThreatModels(deployment.db, [model!]);
      return { body: text, bytes: Buffer.byteLength(text) };
    },
    async countable() {
      const [model] = await createEmptyThreatModels(deployment.serverUrl, deployment.token, 1);
      const request = requestFor(name, model!);
      return async () => {
        const { status, text } = await send(request, LABELS[name]);
        created(name, status, text);
      };
    },
    async plan() {
      const pool = await createEmptyThreatModels(deployment.serverUrl, deployment.token, 4 * settings.bulkConnections);
      let next = 0;
      const requests = new Map(pool.map((model) => [model, requestFor(name, model)]));
      const step: AutocannonRequest = {
        method: 'POST',
        headers: auth,
        setupRequest: (request, context) => {
          // A connection's context lives for BULK_REQUESTS_PER_MODEL requests: one threat model each.
          context.model ??= pool[next++ % pool.length];
          const { url, body } = requests.get(context.model as string)!;
          return { ...request, path: new URL(url).pathname, body };
        },
      };
      const first = requestFor(name, pool[0]!);
      return {
        options: {
          url: first.url,
          method: 'POST',
          headers: first.headers,
          requests: Array.from({ length: BULK_REQUESTS_PER_MODEL }, () => ({ ...step })),
          verifyBody: (body) => body.startsWith(prefix[name]),
        },
        finish: async (result) => {
          const counts = await settledCounts(deployment.db, pool);
          const batches = counts.threats / THREAT_BULK;
          const label = LABELS[name];
          check(Number.isInteger(batches), `${label}: ${counts.threats} threats created: not whole requests`);
          check(
            batches >= result['2xx'] && batches <= result['2xx'] + settings.bulkConnections,
            `${label}: ${result['2xx']} successful requests but ${counts.threats} threats in the database`,
          );
          check(
            counts.metadata === batches * metadataPerRequest,
            `${label}: ${counts.metadata} metadata entries, expected ${batches * metadataPerRequest}`,
          );
          check(
            counts.events === counts.threats + counts.metadata,
            `${label}: ${counts.events} domain events for ${counts.threats} threats and ${counts.metadata} entries`,
          );
          await dropThreatModels(deployment.db, pool);
        },
      };
    },
  });

  return {
    name: 'bulk',
    title:
      `Bulk create: POST /threat_models/{id}/threats/bulk with ${THREAT_BULK} threats (${metadataPerRequest} metadata ` +
      `entries), ${BULK_REQUESTS_PER_MODEL} requests per threat model; GraphQL: createThreats`,
    unit: 'request',
    itemsPerRequest: THREAT_BULK,
    duration: settings.caseDuration,
    // One request of the server's takes over a second at 8 connections: a shorter warm-up sees none end.
    warmup: Math.max(settings.caseWarmup, 3),
    connections: settings.bulkConnections,
    roundTripOps: 10,
    goals: false,
    compare: (verified) => {
      // Same threats, apart from what the database assigns.
      const strip = (body: string) =>
        (JSON.parse(body) as Json[]).map(
          ({ id: _id, threat_model_id: _tm, alias: _alias, created_at: _c, modified_at: _m, ...rest }) => rest,
        );
      const rest = verified.get('rest');
      const ceiling = verified.get('ceiling');
      if (!rest || !ceiling) return;
      const difference = firstDifference(strip(rest.body), strip(ceiling.body), '');
      check(difference === undefined, `bulk create: the ceiling's answer differs from REST's at ${difference}`);
    },
    targets: (['rest', 'graphql', 'ceiling'] as const).map(target),
  };
}

function toCamel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCamel);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
        toCamel(inner),
      ]),
    );
  }
  return value;
}

/** Rows under the given threat models once requests still in flight when the load stopped have ended. */
async function settledCounts(db: pg.Client, models: string[]) {
  const query = async () =>
    (
      await db.query<{ threats: number; metadata: number; events: number }>(
        `SELECT (SELECT count(*)::int FROM threats WHERE threat_model_id = ANY($1::uuid[])) AS threats,
                (SELECT count(*)::int FROM threat_metadata m JOIN threats t ON t.id = m.threat_id
                  WHERE t.threat_model_id = ANY($1::uuid[])) AS metadata,
                (SELECT count(*)::int FROM domain_events WHERE threat_model_id = ANY($1::uuid[])
                  AND (event_type = 'threat.created'
                       OR (event_type = 'metadata.created' AND data->>'entityType' = 'threat'))) AS events`,
        [models],
      )
    ).rows[0]!;
  let previous = await query();
  for (let attempt = 0; attempt < 40; attempt++) {
    await sleep(250);
    const current = await query();
    if (isDeepStrictEqual(current, previous)) return current;
    previous = current;
  }
  throw new BenchError('bulk create: the database was still changing 10 s after the load stopped');
}

async function dropThreatModels(db: pg.Client, models: string[]): Promise<void> {
  await db.query('DELETE FROM domain_events WHERE threat_model_id = ANY($1::uuid[])', [models]);
  await db.query('DELETE FROM threat_models WHERE id = ANY($1::uuid[])', [models]);
  await db.query(
    'VACUUM (ANALYZE) threats, threat_metadata, domain_events, threat_models, threat_model_alias_counters',
  );
}

// ---------------------------------------------------------------------------------------------------
// Load.

interface Run {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  cpu: CpuPerRequest;
}

interface Measured {
  pid: number | undefined;
  database: DatabaseProbe;
}

async function load(
  target: CaseTarget,
  plan: LoadPlan,
  connections: number,
  seconds: number,
  measured: Measured,
): Promise<Run> {
  const before = await cpuSnapshot(measured.pid, measured.database);
  const result = await new Promise<AutocannonResult>((resolve, reject) =>
    autocannon({ ...plan.options, connections, duration: seconds }, (error, value) =>
      error ? reject(error) : resolve(value),
    ),
  );
  const after = await cpuSnapshot(measured.pid, measured.database);
  const problems = [
    result.non2xx > 0 && `${result.non2xx} non-2xx responses`,
    result.errors > 0 && `${result.errors} connection errors`,
    result.timeouts > 0 && `${result.timeouts} timeouts`,
    result.mismatches > 0 && `${result.mismatches} responses whose body differed from the verified one`,
    result.requests.total === 0 && 'no responses at all',
  ].filter(Boolean);
  check(problems.length === 0, `${LABELS[target.name]}: ${problems.join(', ')}`);
  await plan.finish?.(result);
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    cpu: cpuPerRequest(before, after, result.requests.total),
  };
}

interface CaseResult {
  bench: BenchCase;
  runs: Map<TargetName, Run[]>;
  bytes: Map<TargetName, number>;
  roundTrips: Map<TargetName, RoundTrips>;
}

async function measureCase(
  bench: BenchCase,
  selected: TargetName[],
  measured: (name: TargetName) => Measured,
  roundTrips: Map<TargetName, RoundTrips>,
): Promise<CaseResult> {
  console.log(`\n${bench.title}; ${bench.connections} connections`);
  const targets = bench.targets.filter((t) => selected.includes(t.name));
  const verified = new Map<TargetName, Verified>();
  for (const target of targets) verified.set(target.name, await target.verify());
  bench.compare?.(verified);

  for (const target of targets) {
    process.stdout.write(`warm-up ${LABELS[target.name]} ${bench.warmup} s … `);
    const plan = await target.plan(verified.get(target.name)!);
    const run = await load(target, plan, bench.connections, bench.warmup, measured(target.name));
    console.log(`${Math.round(run.rps)} req/s`);
  }
  const runs = new Map<TargetName, Run[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const plan = await target.plan(verified.get(target.name)!);
      process.stdout.write(`round ${round}/${settings.rounds} ${LABELS[target.name]} ${bench.duration} s … `);
      const run = await load(target, plan, bench.connections, bench.duration, measured(target.name));
      runs.get(target.name)!.push(run);
      console.log(`${Math.round(run.rps)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms`);
    }
  }
  return {
    bench,
    runs,
    bytes: new Map([...verified.entries()].map(([name, v]) => [name, v.bytes])),
    roundTrips,
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const selected = settings.targets.filter((t): t is TargetName => t === 'rest' || t === 'graphql' || t === 'ceiling');
  check(
    selected.length === settings.targets.length && selected.length > 0,
    `BENCH_TARGETS: use rest, graphql, ceiling`,
  );
  const cases = settings.cases.filter((c): c is CaseName => c === 'point' || c === 'large' || c === 'bulk');
  check(cases.length === settings.cases.length && cases.length > 0, `BENCH_CASES: use point, large, bulk`);

  // A fresh database, migrated, dropped at the end.
  const { database, databaseUrl, pgVersion } = await createBenchDatabase(settings.adminUrl);
  const benchDb = new pg.Client({ connectionString: databaseUrl });
  await benchDb.connect();
  cleanups.push(() => benchDb.end());

  const redis = (await redisAnswers(settings.redisUrl)) ? settings.redisUrl : undefined;
  // Both server instances (the counted one and the measured one) are one deployment, as behind a load
  // balancer: the same public base URL (the tokens' issuer and audience), database and Redis namespace,
  // so the token obtained from the first is valid on the second.
  const serverPort = await freePort();
  const serverEnv = (port: number, dbUrl: string): Record<string, string> => ({
    NODE_ENV: 'production',
    TMI_PUBLIC_BASE_URL: `http://127.0.0.1:${serverPort}`,
    // The bench measures the API, not its per-user rate limits (one user sends thousands of requests a minute).
    TMI_RATE_LIMIT_ENABLED: 'false',
    DATABASE_URL: dbUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TMI_GRAPHIQL: 'false',
    TMI_TEST_PROVIDER_ENABLED: 'true',
    TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST: CLIENT_CALLBACK,
    TMI_PUBSUB_PREFIX: `tmi-${database}`,
    ...(redis ? { REDIS_URL: redis } : {}),
  });
  const serverArgs = ['--import', 'tsx', 'src/main.ts'];
  const ceilingArgs = ['--import', 'tsx', 'bench/ceiling.ts'];
  const ceilingEnv = (port: number, dbUrl: string) => ({
    DATABASE_URL: dbUrl,
    PORT: String(port),
    POOL_SIZE: String(SERVER_POOL_SIZE),
  });

  console.log(
    `API bench (${cases.join(', ')}): ${settings.rounds} interleaved round(s); ` +
      `point read ${settings.warmup} s warm-up + ${settings.duration} s per target and round, ` +
      `large read and bulk create ${settings.caseWarmup} s + ${settings.caseDuration} s`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, PostgreSQL ${pgVersion}, ` +
      `Redis ${redis ? 'yes' : 'no (in-process pubsub)'}; database ${database}`,
  );

  await reportMachineLoad();

  // 1. Round trips, measured on instances that reach PostgreSQL through the counting proxy.
  const dbAddress = new URL(databaseUrl);
  const counter = new PgWireCounter({ host: dbAddress.hostname, port: Number(dbAddress.port || 5432) });
  const proxyPort = await counter.listen();
  cleanups.push(() => counter.close());
  const proxiedUrl = new URL(databaseUrl);
  proxiedUrl.hostname = '127.0.0.1';
  proxiedUrl.port = String(proxyPort);

  const countingPort = await freePort();
  const counting = await startChild(
    'server (counted)',
    serverArgs,
    serverEnv(countingPort, proxiedUrl.toString()),
    countingPort,
  );
  const countingCeilingPort = await freePort();
  const countingCeiling = await startChild(
    'ceiling (counted)',
    ceilingArgs,
    ceilingEnv(countingCeilingPort, proxiedUrl.toString()),
    countingCeilingPort,
  );

  const { accessToken: token } = await login(counting.url, 'bench');
  const smallId = await createThreatModel(counting.url, token);
  const largeId = cases.includes('large') ? await seedLargeThreatModel(counting.url, token) : '';
  const casesFor = (deployment: Deployment): BenchCase[] =>
    cases.map((name) =>
      name === 'point'
        ? pointCase(deployment, smallId)
        : name === 'large'
          ? largeCase(deployment, largeId)
          : bulkCase(deployment),
    );

  const roundTrips = new Map<CaseName, Map<TargetName, RoundTrips>>();
  for (const bench of casesFor({ serverUrl: counting.url, ceilingUrl: countingCeiling.url, token, db: benchDb })) {
    const counts = new Map<TargetName, RoundTrips>();
    for (const target of bench.targets) {
      await target.verify(); // also prepares the named statements on one connection
      const operation = await target.countable();
      counts.set(target.name, await countRoundTrips(counter, bench.roundTripOps, operation));
    }
    roundTrips.set(bench.name, counts);
  }
  await counting.stop();
  await countingCeiling.stop();
  await counter.close();

  // 2. Throughput and latency, on instances connected directly.
  if (settings.cpuProfDir) mkdirSync(settings.cpuProfDir, { recursive: true });
  const server = await startChild(
    'server',
    [...(settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []), ...serverArgs],
    serverEnv(serverPort, databaseUrl),
    serverPort,
  );
  const ceilingPort = await freePort();
  const ceiling = await startChild('ceiling', ceilingArgs, ceilingEnv(ceilingPort, databaseUrl), ceilingPort);

  const probe = new DatabaseProbe(settings.adminUrl, database);
  cleanups.push(() => probe.close());
  const measured = (name: TargetName): Measured => ({
    pid: name === 'ceiling' ? ceiling.process.pid : server.process.pid,
    database: probe,
  });

  const results: CaseResult[] = [];
  for (const bench of casesFor({ serverUrl: server.url, ceilingUrl: ceiling.url, token, db: benchDb })) {
    results.push(await measureCase(bench, selected, measured, roundTrips.get(bench.name)!));
  }
  await server.stop();
  await ceiling.stop();
  if (settings.cpuProfDir) console.log(`CPU profile of the server written to ${settings.cpuProfDir}`);

  for (const result of results) report(result);
}

function report({ bench, runs, bytes, roundTrips }: CaseResult): void {
  const micros = (values: (number | undefined)[]) =>
    values.every((v) => v !== undefined) ? String(Math.round(median(values as number[]))) : '-';
  const summary = new Map(
    [...runs.entries()].map(([name, list]) => [
      name,
      {
        rps: median(list.map((r) => r.rps)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        rounds: list.map((r) => Math.round(r.rps)).join(' / '),
        rt: roundTrips.get(name)?.perRead,
        cpuTarget: micros(list.map((r) => r.cpu.target)),
        cpuPostgres: micros(list.map((r) => r.cpu.postgres)),
        cpuLoad: micros(list.map((r) => r.cpu.loadGenerator)),
        machine: list.every((r) => r.cpu.machineBusy !== undefined)
          ? `${Math.round(100 * median(list.map((r) => r.cpu.machineBusy!)))}%`
          : '-',
      },
    ]),
  );
  const items = bench.itemsPerRequest;
  const kilobytes = (name: TargetName) => {
    const size = bytes.get(name);
    return size === undefined ? '-' : (size / 1024).toFixed(size < 10_240 ? 2 : 1);
  };

  const rows = [
    [
      'target',
      'req/s',
      ...(items ? ['threats/s'] : []),
      'p50 ms',
      'p99 ms',
      'KB/resp',
      `SQL trips/${bench.unit === 'read' ? 'read' : 'req'}`,
      'CPU µs/req: target',
      'postgres',
      'load-gen',
      'machine busy',
      'req/s per round',
    ],
    ...[...summary.entries()].map(([name, s]) => [
      LABELS[name],
      String(Math.round(s.rps)),
      ...(items ? [String(Math.round(s.rps * items))] : []),
      s.p50.toFixed(1),
      s.p99.toFixed(1),
      kilobytes(name),
      s.rt === undefined ? '-' : s.rt.toFixed(2),
      s.cpuTarget,
      s.cpuPostgres,
      s.cpuLoad,
      s.machine,
      s.rounds,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(`\n== ${bench.title}; ${bench.connections} connections`);
  for (const [index, row] of rows.entries()) {
    console.log(
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    );
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(
    `(medians over the rounds. CPU: process time per request of the target process, of the bench database's\n` +
      ` PostgreSQL backends and of this load generator; machine busy: share of all ${os.cpus().length} CPUs in use` +
      (items ? `;\n threats/s = req/s × ${items}; a TMI client's 100 threats are 5 such requests)` : ')'),
  );

  const ceiling = summary.get('ceiling');
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const goal = (text: string, ok: boolean) => (bench.goals ? `${text}   ${verdict(ok)}` : '(no goal)');
  const lines: string[] = [];
  if (ceiling) {
    const rest = summary.get('rest');
    const graphql = summary.get('graphql');
    if (rest) {
      const rpsRatio = rest.rps / ceiling.rps;
      const p99Ratio = rest.p99 / ceiling.p99;
      lines.push(
        `REST    req/s / ceiling req/s = ${(rpsRatio * 100).toFixed(1)}%   ${goal('goal ≥ 50%', rpsRatio >= 0.5)}`,
      );
      lines.push(`REST    p99 / ceiling p99     = ${p99Ratio.toFixed(2)}×    ${goal('goal ≤ 2×', p99Ratio <= 2)}`);
    }
    if (graphql) {
      const rpsRatio = graphql.rps / ceiling.rps;
      const p99Ratio = graphql.p99 / ceiling.p99;
      lines.push(
        `GraphQL req/s / ceiling req/s = ${(rpsRatio * 100).toFixed(1)}%   ${goal('goal ≥ 40%', rpsRatio >= 0.4)}`,
      );
      lines.push(`GraphQL p99 / ceiling p99     = ${p99Ratio.toFixed(2)}×    (no goal)`);
    }
  }
  for (const name of ['rest', 'graphql'] as const) {
    const rt = roundTrips.get(name);
    if (!rt) continue;
    if (bench.unit === 'read') {
      const ok = rt.perRead <= 1.05;
      lines.push(
        `${LABELS[name].padEnd(7)} SQL round trips per read = ${rt.perRead.toFixed(2)}   design: 1   ${verdict(ok)}`,
      );
    } else {
      lines.push(
        `${LABELS[name].padEnd(7)} SQL round trips per request = ${rt.perRead.toFixed(1)} ` +
          `(${(rt.perRead / (items ?? 1)).toFixed(1)} per threat)   ceiling: 1`,
      );
    }
  }
  const calibration = roundTrips.get('ceiling');
  if (calibration)
    lines.push(
      `(method check: the ceiling counts ${calibration.perRead.toFixed(2)} round trips per ${bench.unit}; it sends exactly 1)`,
    );
  console.log('');
  for (const line of lines) console.log(line);

  console.log(`\nStatements per ${bench.unit} (seen on the wire, pg-boss excluded):`);
  for (const [name, rt] of roundTrips) {
    for (const statement of rt.statements) {
      const text = statement.text.length > 110 ? `${statement.text.slice(0, 107)}...` : statement.text;
      console.log(`  ${LABELS[name].padEnd(7)} ${statement.perRead.toFixed(2)} × ${text}`);
    }
  }
}

let failed = false;
try {
  if (settings.cases.length > 0) await main();
} catch (error) {
  failed = true;
  console.error(`\nBENCH FAILED: ${error instanceof BenchError ? error.message : describe(error, true)}`);
} finally {
  await cleanup();
}
if (settings.collab && !failed) {
  // The collaboration bench is its own script, with its own database and processes.
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/collab.ts'], { cwd: root, stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  failed = code !== 0;
}
process.exit(failed ? 1 : 0);
