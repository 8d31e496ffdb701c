// Point-read benchmark: GET /threat_models/{id} over REST, the same read over GraphQL, and the ceiling
// (a bare node:http + pg server doing the same single SQL statement), side by side in one run.
// See bench/README.md. Run with `npm run bench`.
//
// Switches (environment):
//   DATABASE_URL        PostgreSQL to create the throw-away bench database on
//                       (default postgresql://postgres@127.0.0.1:5432/postgres)
//   REDIS_URL           Redis for the server when it answers (default redis://127.0.0.1:6379)
//   BENCH_DURATION      seconds per measured run (default 10)
//   BENCH_WARMUP        seconds of warm-up per target before the first round (default 3)
//   BENCH_CONNECTIONS   concurrent keep-alive connections (default 32)
//   BENCH_ROUNDS        interleaved rounds; each target's median is reported (default 2)
//   BENCH_ROUND_TRIP_READS  sequential reads per target when counting SQL round trips (default 200)
//   BENCH_TARGETS       comma-separated subset of rest,graphql,ceiling (default all three)
//   BENCH_CPU_PROF      a directory: the measured server runs with --cpu-prof and writes its profile there
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { login, TEST_CALLBACK as CLIENT_CALLBACK } from '../test/helpers/login.js';
import { applyMigrations } from '../src/infra/migrate.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
  return value;
};

const settings = {
  adminUrl: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  duration: num('BENCH_DURATION', 10),
  warmup: num('BENCH_WARMUP', 3),
  connections: Math.round(num('BENCH_CONNECTIONS', 32)),
  rounds: Math.round(num('BENCH_ROUNDS', 2)),
  roundTripReads: Math.round(num('BENCH_ROUND_TRIP_READS', 200)),
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

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  expectBody?: string;
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
// Cleanup, whatever happens.

const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// Small helpers.

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

class BenchError extends Error {}

/** An error with its causes (fetch failures keep the reason in `cause`). */
function describe(error: unknown, stack = false): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(stack && depth === 0 ? (current.stack ?? current.message) : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(' <- caused by: ');
}
function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new BenchError(message);
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): where the machine's CPU goes per request, for the target process, the
// PostgreSQL backends of the bench database and the load generator itself. On a small machine they
// compete for the same cores, so a target's req/s also depends on what the others need.

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux build in practice

function processCpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU time from /proc/stat: busy and total, in ticks summed over all CPUs. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = values.reduce((a, b) => a + b, 0);
    return { busy: total - values[3]! - values[4]!, total };
  } catch {
    return undefined;
  }
}

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
// Child processes: the server under test and the ceiling, each with its own event loop.

interface Child {
  name: string;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

async function startChild(name: string, args: string[], env: Record<string, string>, port: number): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (data: Buffer) =>
    data
      .toString()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => `  [${name}] ${line}\n`)
      .join('');
  child.stdout!.on('data', (data: Buffer) => {
    if (!/listening on/.test(data.toString())) process.stderr.write(prefix(data));
  });
  child.stderr!.on('data', (data: Buffer) => process.stderr.write(prefix(data)));
  let exited: number | string | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal;
      resolve();
    }),
  );

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const killed = await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]);
    if (!killed) {
      child.kill('SIGKILL');
      await exit;
    }
  };
  cleanups.push(stop);

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited !== undefined) throw new BenchError(`${name} exited (${String(exited)}) before answering GET /`);
    try {
      const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new BenchError(`${name} did not answer GET / within 120 s`);
    await sleep(200);
  }
  return { name, url, process: child, stop };
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
// The real login (the built-in test provider, PKCE) and the fixture.

async function createThreatModel(baseUrl: string, token: string): Promise<string> {
  const response = await fetch(new URL('/threat_models', baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'Bench threat model',
      description: 'A threat model read over and over by bench/run.ts',
      threat_model_framework: 'STRIDE',
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
    }),
  });
  const body = (await response.json().catch(() => ({}))) as { id?: string };
  check(response.status === 201 && body.id, `POST /threat_models answered ${response.status}: ${JSON.stringify(body)}`);
  return body.id;
}

// ---------------------------------------------------------------------------------------------------
// Targets.

type TargetName = 'rest' | 'graphql' | 'ceiling';
const LABELS: Record<TargetName, string> = { rest: 'REST', graphql: 'GraphQL', ceiling: 'ceiling' };

interface Target {
  name: TargetName;
  request: { url: string; method: string; headers: Record<string, string>; body?: string };
}

function targetsFor(serverUrl: string, ceilingUrl: string, token: string, id: string): Target[] {
  const auth = { authorization: `Bearer ${token}` };
  return [
    { name: 'rest', request: { url: `${serverUrl}/threat_models/${id}`, method: 'GET', headers: auth } },
    {
      name: 'graphql',
      request: {
        url: `${serverUrl}/graphql`,
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: GRAPHQL_QUERY, variables: { id } }),
      },
    },
    { name: 'ceiling', request: { url: `${ceilingUrl}/threat_models/${id}`, method: 'GET', headers: auth } },
  ];
}

/** One request, checked for status and content; returns the exact body every later response must equal. */
async function verifiedBody(target: Target, id: string): Promise<string> {
  const { url, ...init } = target.request;
  const response = await fetch(url, init);
  const text = await response.text();
  check(response.status === 200, `${LABELS[target.name]}: ${response.status} ${text}`);
  const json = JSON.parse(text) as {
    data?: { threatModel?: Record<string, unknown> };
    errors?: unknown[];
  } & Record<string, unknown>;
  check(!json.errors, `${LABELS[target.name]}: GraphQL errors ${JSON.stringify(json.errors)}`);
  const model = target.name === 'graphql' ? json.data?.threatModel : json;
  check(model && model.id === id && model.name === 'Bench threat model', `${LABELS[target.name]}: wrong body ${text}`);
  check(model.owner && typeof model.owner === 'object', `${LABELS[target.name]}: no owner in ${text}`);
  const authorization = model.authorization as { provider_id?: string; providerId?: string }[] | undefined;
  check(
    Array.isArray(authorization) &&
      authorization.length === 3 &&
      authorization.some((entry) => (entry.provider_id ?? entry.providerId) === 'security-team'),
    `${LABELS[target.name]}: authorization should list the owner, alice and security-team: ${text}`,
  );
  return text;
}

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

async function load(target: Target, seconds: number, expectBody: string, measured: Measured): Promise<Run> {
  const before = await cpuSnapshot(measured.pid, measured.database);
  const result = await new Promise<AutocannonResult>((resolve, reject) =>
    autocannon(
      {
        ...target.request,
        connections: settings.connections,
        duration: seconds,
        expectBody,
      },
      (error, value) => (error ? reject(error) : resolve(value)),
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
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    cpu: cpuPerRequest(before, after, result.requests.total),
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const selected = settings.targets.filter((t): t is TargetName => t === 'rest' || t === 'graphql' || t === 'ceiling');
  check(
    selected.length === settings.targets.length && selected.length > 0,
    `BENCH_TARGETS: use rest, graphql, ceiling`,
  );

  // A fresh database, migrated, dropped at the end.
  const database = `tmi_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: settings.adminUrl });
  await admin.connect();
  const pgVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  cleanups.push(async () => {
    const client = new pg.Client({ connectionString: settings.adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const databaseUrl = withDatabase(settings.adminUrl, database);
  await applyMigrations(databaseUrl, { info: () => undefined });

  const redis = (await redisAnswers(settings.redisUrl)) ? settings.redisUrl : undefined;
  // Both server instances (the counted one and the measured one) are one deployment, as behind a load
  // balancer: the same public base URL (the tokens' issuer and audience), database and Redis namespace,
  // so the token obtained from the first is valid on the second.
  const serverPort = await freePort();
  const serverEnv = (port: number, dbUrl: string): Record<string, string> => ({
    NODE_ENV: 'production',
    TMI_PUBLIC_BASE_URL: `http://127.0.0.1:${serverPort}`,
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
    `Point-read bench: ${settings.connections} connections, ${settings.warmup} s warm-up, ` +
      `${settings.rounds} interleaved round(s) of ${settings.duration} s per target`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, PostgreSQL ${pgVersion}, ` +
      `Redis ${redis ? 'yes' : 'no (in-process pubsub)'}; database ${database}`,
  );

  // Other work on the machine skews every number below; say so rather than let it pass unnoticed.
  const idleBefore = machineTicks();
  await sleep(1000);
  const idleAfter = machineTicks();
  if (idleBefore && idleAfter) {
    const busy = (idleAfter.busy - idleBefore.busy) / Math.max(1, idleAfter.total - idleBefore.total);
    console.log(
      `Machine busy before the bench: ${Math.round(busy * 100)}%` +
        (busy > 0.15 ? ' (WARNING: something else is using the CPUs; expect noisy numbers)' : ''),
    );
  }

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
  const id = await createThreatModel(counting.url, token);

  const roundTrips = new Map<TargetName, RoundTrips>();
  for (const target of targetsFor(counting.url, countingCeiling.url, token, id)) {
    await verifiedBody(target, id); // also prepares the named statement on one connection
    const { url, ...init } = target.request;
    roundTrips.set(
      target.name,
      await countRoundTrips(counter, settings.roundTripReads, async () => {
        const response = await fetch(url, init).catch((error: unknown) => {
          throw new BenchError(`${LABELS[target.name]}: request failed while counting round trips: ${describe(error)}`);
        });
        await response.arrayBuffer();
        check(response.status === 200, `${LABELS[target.name]}: ${response.status} while counting round trips`);
      }),
    );
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

  const targets = targetsFor(server.url, ceiling.url, token, id).filter((t) => selected.includes(t.name));
  const expected = new Map<TargetName, string>();
  for (const target of targets) {
    const body = await verifiedBody(target, id);
    check(body === (await verifiedBody(target, id)), `${LABELS[target.name]}: two reads of the same model differ`);
    expected.set(target.name, body);
  }
  const probe = new DatabaseProbe(settings.adminUrl, database);
  cleanups.push(() => probe.close());
  const measured = (target: Target): Measured => ({
    pid: target.name === 'ceiling' ? ceiling.process.pid : server.process.pid,
    database: probe,
  });

  for (const target of targets) {
    process.stdout.write(`warm-up ${LABELS[target.name]} ${settings.warmup} s … `);
    const run = await load(target, settings.warmup, expected.get(target.name)!, measured(target));
    console.log(`${Math.round(run.rps)} req/s`);
  }
  const runs = new Map<TargetName, Run[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      process.stdout.write(`round ${round}/${settings.rounds} ${LABELS[target.name]} ${settings.duration} s … `);
      const run = await load(target, settings.duration, expected.get(target.name)!, measured(target));
      runs.get(target.name)!.push(run);
      console.log(`${Math.round(run.rps)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms`);
    }
  }
  await server.stop();
  await ceiling.stop();
  if (settings.cpuProfDir) console.log(`CPU profile of the server written to ${settings.cpuProfDir}`);

  report(runs, roundTrips);
}

function report(runs: Map<TargetName, Run[]>, roundTrips: Map<TargetName, RoundTrips>): void {
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

  const rows = [
    [
      'target',
      'req/s',
      'p50 ms',
      'p99 ms',
      'SQL trips/read',
      'CPU µs/req: target',
      'postgres',
      'load-gen',
      'machine busy',
      'req/s per round',
    ],
    ...[...summary.entries()].map(([name, s]) => [
      LABELS[name],
      String(Math.round(s.rps)),
      s.p50.toFixed(1),
      s.p99.toFixed(1),
      s.rt === undefined ? '-' : s.rt.toFixed(2),
      s.cpuTarget,
      s.cpuPostgres,
      s.cpuLoad,
      s.machine,
      s.rounds,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log('');
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
      ` PostgreSQL backends and of this load generator; machine busy: share of all ${os.cpus().length} CPUs in use)`,
  );

  const ceiling = summary.get('ceiling');
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const lines: string[] = [];
  if (ceiling) {
    const rest = summary.get('rest');
    const graphql = summary.get('graphql');
    if (rest) {
      const rpsRatio = rest.rps / ceiling.rps;
      const p99Ratio = rest.p99 / ceiling.p99;
      lines.push(
        `REST    req/s / ceiling req/s = ${(rpsRatio * 100).toFixed(1)}%   goal ≥ 50%   ${verdict(rpsRatio >= 0.5)}`,
      );
      lines.push(`REST    p99 / ceiling p99     = ${p99Ratio.toFixed(2)}×    goal ≤ 2×    ${verdict(p99Ratio <= 2)}`);
    }
    if (graphql) {
      const rpsRatio = graphql.rps / ceiling.rps;
      const p99Ratio = graphql.p99 / ceiling.p99;
      lines.push(
        `GraphQL req/s / ceiling req/s = ${(rpsRatio * 100).toFixed(1)}%   goal ≥ 40%   ${verdict(rpsRatio >= 0.4)}`,
      );
      lines.push(`GraphQL p99 / ceiling p99     = ${p99Ratio.toFixed(2)}×    (no goal)`);
    }
  }
  for (const name of ['rest', 'graphql'] as const) {
    const rt = roundTrips.get(name);
    if (rt) {
      const ok = rt.perRead <= 1.05;
      lines.push(
        `${LABELS[name].padEnd(7)} SQL round trips per read = ${rt.perRead.toFixed(2)}   design: 1   ${verdict(ok)}`,
      );
    }
  }
  const calibration = roundTrips.get('ceiling');
  if (calibration)
    lines.push(
      `(method check: the ceiling counts ${calibration.perRead.toFixed(2)} round trips per read; it sends exactly 1)`,
    );
  console.log('');
  for (const line of lines) console.log(line);

  console.log('\nStatements per read (seen on the wire, pg-boss excluded):');
  for (const [name, rt] of roundTrips) {
    for (const statement of rt.statements) {
      const text = statement.text.length > 110 ? `${statement.text.slice(0, 107)}...` : statement.text;
      console.log(`  ${LABELS[name].padEnd(7)} ${statement.perRead.toFixed(2)} × ${text}`);
    }
  }
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`\nBENCH FAILED: ${error instanceof BenchError ? error.message : describe(error, true)}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
