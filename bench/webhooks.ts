// Webhook delivery benchmark (issue 5, part 7): changes made through the real API, delivered by the real
// server's pg-boss worker to a loopback receiver, side by side with a bare sender in the same run.
// See bench/README.md ("Webhook bench"). Run with `npm run bench:webhooks`.
//
//   throughput  BENCH_WEBHOOK_EVENTS threat.created events produced as fast as the API takes them
//               (POST /threat_models/{id}/threats/bulk, 20 threats a request, BENCH_WEBHOOK_PARALLEL requests
//               in flight, one threat model per lane), to 1 subscription, then to 4 (BENCH_WEBHOOK_SUBSCRIPTIONS)
//               so that the worker rather than the API's write rate sets the pace.
//               deliveries/s from the first change sent to the last receipt; latency per delivery = receipt −
//               the body's `timestamp` (the event's time; same machine clock).
//   ceiling     after each throughput case, a bare loop (bench/webhook-ceiling.ts, its own process) posts the
//               same number of equally sized signed bodies to the same receiver with the worker's concurrency.
//   idle        BENCH_WEBHOOK_IDLE_CHANGES single changes (POST /threat_models/{id}/notes) spaced
//               BENCH_WEBHOOK_IDLE_SPACING_MS apart on an idle system: latency from the event's timestamp and
//               from the client's request start to the receipt.
//
// The receiver (bench/webhook-receiver.ts, its own process) checks every signature over the raw body and
// records each receipt; the bench fails unless every expected delivery arrived exactly once with a valid
// signature, and every delivery record ended `delivered`.
//
// Switches (environment):
//   DATABASE_URL                  PostgreSQL for the throw-away bench database (default postgresql://postgres@127.0.0.1:5432/postgres)
//   REDIS_URL                     Redis for the server when it answers (default redis://127.0.0.1:6379)
//   BENCH_WEBHOOK_EVENTS          events per throughput case, a multiple of 20 (default 1000)
//   BENCH_WEBHOOK_SUBSCRIPTIONS   subscriptions of each throughput case, comma-separated (default 0,1,4,10; 0
//                                 is the API alone, the baseline of the CPU accounting)
//   BENCH_WEBHOOK_PARALLEL        bulk requests in flight while producing events (default 4)
//   BENCH_WEBHOOK_WARMUP          events of the unmeasured warm-up case (default 200; 0 skips it)
//   BENCH_WEBHOOK_IDLE_CHANGES    single changes of the idle-latency case (default 50; 0 skips it)
//   BENCH_WEBHOOK_IDLE_SPACING_MS time between their starts (default 200)
//   BENCH_WEBHOOK_ROUNDS          rounds of the throughput cases and their ceilings; medians reported (default 3)
//   BENCH_WEBHOOK_WORKER          `same`: one server process with both roles (default); `separate`: the API
//                                 (TMI_ROLES=api) and the worker (TMI_ROLES=worker) in two processes
//   BENCH_CPU_PROF                a directory: the server runs with --cpu-prof and writes its profile there
//   TMI_WEBHOOK_WORKER_BATCH_SIZE, TMI_WEBHOOK_WORKER_CONCURRENCY  passed to the server (and sized the ceiling)
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/infra/config.js';
import { login, TEST_CALLBACK as CLIENT_CALLBACK } from '../test/helpers/login.js';
import {
  api,
  BenchError,
  createBenchDatabase,
  check,
  type Child,
  cleanup,
  cleanups,
  envNumber,
  freePort,
  machineTicks,
  median,
  percentile,
  processCpuMicros,
  redisAnswers,
  reportMachineLoad,
  root,
  sleep,
  startChild,
} from './harness.js';

/** TMI's per-request limit of the threat bulk endpoint. */
const THREAT_BULK = 20;

const settings = {
  adminUrl: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  events: Math.round(envNumber('BENCH_WEBHOOK_EVENTS', 1000)),
  subscriptions: (process.env.BENCH_WEBHOOK_SUBSCRIPTIONS || '0,1,4,10').split(',').map((n) => Number(n.trim())),
  parallel: Math.round(envNumber('BENCH_WEBHOOK_PARALLEL', 4)),
  warmup: Math.round(envNumber('BENCH_WEBHOOK_WARMUP', 200, true)),
  idleChanges: Math.round(envNumber('BENCH_WEBHOOK_IDLE_CHANGES', 50, true)),
  idleSpacingMs: envNumber('BENCH_WEBHOOK_IDLE_SPACING_MS', 200),
  rounds: Math.round(envNumber('BENCH_WEBHOOK_ROUNDS', 3)),
  worker: process.env.BENCH_WEBHOOK_WORKER || 'same',
  cpuProfDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
};

/** The goals. */
const GOAL_DELIVERIES_PER_SECOND = 2000;
const GOAL_IDLE_P99_MS = 300;

/** The drain rate is judged against the goal only when the worker drained at least this many on its own. */
const MIN_DRAIN_BACKLOG = 1000;
/** Sockets per origin of the server's delivery agent (src/modules/webhooks/sender.ts); the bare loop uses as many. */
const SENDER_MAX_SOCKETS = 64;
/** The bare loop's unmeasured warm-up posts (a fresh process: JIT, sockets). */
const CEILING_WARMUP = 500;
/** A case fails when no delivery arrives for this long while some are missing (retries start after 10 s). */
const STALL_MS = 30_000;
/** After the last expected receipt, late duplicates have this long to show up. */
const SETTLE_MS = 500;

const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------------
// Statistics and formatting.

const int = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');
const ms = (value: number) =>
  !Number.isFinite(value) ? '—' : value >= 100 ? String(Math.round(value)) : value.toFixed(1);
const pct = (value: number) => (Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '—');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc), as in the other benches.

/** The sum, or undefined when any part is unknown. */
function sum(values: (number | undefined)[]): number | undefined {
  return values.some((value) => value === undefined)
    ? undefined
    : values.reduce<number>((total, value) => total + (value ?? 0), 0);
}

interface Probe {
  admin: pg.Client;
  database: string;
  /** The server's processes: one, or the API and the worker when they run apart. */
  serverPids: number[];
  receiverPid: number | undefined;
  redisPid: number | undefined;
}

interface CpuSnapshot {
  machine: { busy: number; total: number } | undefined;
  server: number | undefined;
  receiver: number | undefined;
  redis: number | undefined;
  postgres: Map<number, number>;
  bench: number;
}

async function cpuSnapshot(probe: Probe): Promise<CpuSnapshot> {
  const { rows } = await probe.admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [probe.database],
  );
  const postgres = new Map<number, number>();
  for (const { pid } of rows) {
    const micros = processCpuMicros(pid);
    if (micros !== undefined) postgres.set(pid, micros);
  }
  const usage = process.cpuUsage();
  return {
    machine: machineTicks(),
    server: sum(probe.serverPids.map(processCpuMicros)),
    receiver: processCpuMicros(probe.receiverPid),
    redis: processCpuMicros(probe.redisPid),
    postgres,
    bench: usage.user + usage.system,
  };
}

/** CPU µs per delivery by process, and the share of the machine that was busy. */
interface CpuUse {
  server: number;
  postgres: number;
  redis: number;
  receiver: number;
  bench: number;
  /** For the bare loop: its own process. */
  sender: number;
  machineBusy: number;
  /** Receiver CPU time ÷ the case's wall time. */
  receiverBusy: number;
}

function cpuUse(before: CpuSnapshot, after: CpuSnapshot, deliveries: number, wallMs: number, sender = 0): CpuUse {
  const delta = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? b - a : Number.NaN;
  let postgres = 0;
  for (const [pid, micros] of after.postgres) postgres += micros - (before.postgres.get(pid) ?? micros);
  const receiver = delta(before.receiver, after.receiver);
  const per = (micros: number) => micros / Math.max(1, deliveries);
  return {
    server: per(delta(before.server, after.server)),
    postgres: per(postgres),
    redis: per(delta(before.redis, after.redis)),
    receiver: per(receiver),
    bench: per(after.bench - before.bench),
    sender: per(sender),
    machineBusy:
      before.machine && after.machine
        ? (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total)
        : Number.NaN,
    receiverBusy: receiver / 1000 / wallMs,
  };
}

// ---------------------------------------------------------------------------------------------------
// The receiver (a child process) and the API.

interface Receipt {
  deliveryId: string;
  subscriptionId: string;
  at: number;
  timestamp: number;
  signatureOk: boolean;
  path: string;
  bytes: number;
  objectId: string;
}

class ReceiverClient {
  constructor(readonly url: string) {}

  async addSecrets(secrets: Record<string, string>): Promise<void> {
    const response = await fetch(`${this.url}/_bench/secrets`, { method: 'PUT', body: JSON.stringify(secrets) });
    check(response.ok, `receiver: PUT /_bench/secrets answered ${response.status}`);
    await response.arrayBuffer();
  }

  /** Waits (long poll) until the receiver holds `count` receipts or `timeoutMs` passed; returns what it holds. */
  async wait(count: number, timeoutMs: number): Promise<number> {
    const response = await fetch(`${this.url}/_bench/wait?count=${count}&timeout_ms=${Math.round(timeoutMs)}`);
    return ((await response.json()) as { count: number }).count;
  }

  async take(): Promise<Receipt[]> {
    const response = await fetch(`${this.url}/_bench/take`, { method: 'POST' });
    const rows = (await response.json()) as [string, string, number, number, 0 | 1, string, number, string][];
    return rows.map(([deliveryId, subscriptionId, at, timestamp, ok, path, bytes, objectId]) => ({
      deliveryId,
      subscriptionId,
      at,
      timestamp,
      signatureOk: ok === 1,
      path,
      bytes,
      objectId,
    }));
  }

  /** Waits for `count` receipts; fails when none arrives for STALL_MS while some are still missing. */
  async collect(count: number): Promise<void> {
    let held = 0;
    let progressAt = Date.now();
    while (held < count) {
      const now = await this.wait(count, 1000);
      if (now > held) {
        held = now;
        progressAt = Date.now();
      }
      if (held < count && Date.now() - progressAt > STALL_MS) {
        throw new BenchError(`receiver: ${held} of ${count} deliveries, none for ${STALL_MS / 1000} s`);
      }
    }
  }
}

interface Deployment {
  serverUrl: string;
  token: string;
  receiver: ReceiverClient;
  db: pg.Client;
  probe: Probe;
  batchSize: number;
  concurrency: number;
}

interface Subscription {
  id: string;
  secret: string;
}

async function subscribe(d: Deployment, name: string, events: string[]): Promise<Subscription> {
  const secret = randomBytes(32).toString('base64url');
  const created = await api<{ id: string }>(
    d.serverUrl,
    d.token,
    'POST',
    '/admin/webhooks/subscriptions',
    { name, url: `${d.receiver.url}/hooks/${name}`, events, secret },
    201,
  );
  await d.receiver.addSecrets({ [created.id]: secret });
  return { id: created.id, secret };
}

async function unsubscribe(d: Deployment, subscriptions: Subscription[]): Promise<void> {
  for (const { id } of subscriptions) {
    await api(d.serverUrl, d.token, 'DELETE', `/admin/webhooks/subscriptions/${id}`, undefined, 204);
  }
}

async function createThreatModel(d: Deployment, name: string): Promise<string> {
  const model = await api<{ id: string }>(
    d.serverUrl,
    d.token,
    'POST',
    '/threat_models',
    { name, description: 'Webhook bench', threat_model_framework: 'STRIDE' },
    201,
  );
  return model.id;
}

const SEVERITIES = ['Low', 'Medium', 'High', 'Critical'];
const THREAT_TYPES = ['Spoofing', 'Tampering', 'Repudiation', 'Information Disclosure', 'Denial of Service'];

/** A threat as TMI clients create it, about 600 bytes of JSON. */
function threatInput(i: number): Record<string, unknown> {
  return {
    name: `Webhook bench threat #${i + 1}`,
    description:
      'An attacker who can reach the payment service over the network could replay a captured request; the ' +
      'data flow crosses a trust boundary between the public zone and the internal service mesh.',
    severity: SEVERITIES[i % SEVERITIES.length],
    score: 5 + (i % 5),
    priority: 'High',
    mitigated: false,
    status: 'Open',
    threat_type: [THREAT_TYPES[i % THREAT_TYPES.length]],
    mitigation: 'Sign requests with a nonce and reject replays at the gateway.',
  };
}

// ---------------------------------------------------------------------------------------------------
// Checking a case's deliveries: every expected one received exactly once, signed, and recorded delivered.

interface DeliveryRow {
  id: string;
  subscription_id: string;
  object_id: string;
  status: string;
  attempts: number;
  event_ms: number;
  started_ms: number | null;
  recorded_ms: number | null;
  completed_ms: number | null;
}

/** The delivery records of these subscriptions, with their jobs' timestamps (pg-boss keeps completed jobs). */
async function deliveryRows(d: Deployment, subscriptions: Subscription[]): Promise<DeliveryRow[]> {
  const { rows } = await d.db.query<DeliveryRow>(
    `SELECT d.id::text, d.subscription_id::text, d.object_id::text, d.status, d.attempts,
            extract(epoch FROM d.created_at) * 1000 AS event_ms,
            extract(epoch FROM j.started_on) * 1000 AS started_ms,
            extract(epoch FROM d.delivered_at) * 1000 AS recorded_ms,
            extract(epoch FROM j.completed_on) * 1000 AS completed_ms
     FROM webhook_deliveries d
     LEFT JOIN pgboss.job j ON j.name = 'webhook.deliver' AND j.id = d.id
     WHERE d.subscription_id = ANY ($1::uuid[])`,
    [subscriptions.map((s) => s.id)],
  );
  return rows.map((row) => ({
    ...row,
    event_ms: Number(row.event_ms),
    started_ms: row.started_ms === null ? null : Number(row.started_ms),
    recorded_ms: row.recorded_ms === null ? null : Number(row.recorded_ms),
    completed_ms: row.completed_ms === null ? null : Number(row.completed_ms),
  }));
}

/** Waits until no delivery of these subscriptions is pending or in progress (their jobs have settled). */
async function settledRows(d: Deployment, subscriptions: Subscription[]): Promise<DeliveryRow[]> {
  const deadline = Date.now() + STALL_MS;
  for (;;) {
    const rows = await deliveryRows(d, subscriptions);
    const open = rows.filter((row) => row.status === 'pending' || row.status === 'in_progress' || !row.completed_ms);
    if (open.length === 0) return rows;
    if (Date.now() > deadline) {
      throw new BenchError(`${open.length} deliveries still open (e.g. ${JSON.stringify(open[0])})`);
    }
    await sleep(100);
  }
}

interface Verified {
  receipts: Receipt[];
  rows: DeliveryRow[];
  retried: number;
}

/**
 * Every expected delivery (the records of these subscriptions) received exactly once with a valid
 * signature, nothing else received, each subscription received each object exactly once, and every record
 * ended delivered. Throws with the counts otherwise.
 */
function verify(
  label: string,
  receipts: Receipt[],
  rows: DeliveryRow[],
  subscriptions: Subscription[],
  objectIds: string[],
): Verified {
  const expected = new Map(rows.map((row) => [row.id, row]));
  const seen = new Map<string, number>();
  for (const receipt of receipts) seen.set(receipt.deliveryId, (seen.get(receipt.deliveryId) ?? 0) + 1);
  const duplicates = [...seen.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0);
  const unexpected = [...seen.keys()].filter((id) => !expected.has(id)).length;
  const missing = [...expected.keys()].filter((id) => !seen.has(id)).length;
  const badSignatures = receipts.filter((receipt) => !receipt.signatureOk).length;
  const badTimestamps = receipts.filter((receipt) => !Number.isFinite(receipt.timestamp)).length;
  const wrongCount = rows.length !== subscriptions.length * objectIds.length;
  const wanted = new Set(objectIds);
  let wrongObjects = 0;
  for (const subscription of subscriptions) {
    const got = receipts.filter((receipt) => receipt.subscriptionId === subscription.id).map((r) => r.objectId);
    const distinct = new Set(got);
    if (distinct.size !== wanted.size || [...distinct].some((id) => !wanted.has(id))) wrongObjects++;
  }
  const notDelivered = rows.filter((row) => row.status !== 'delivered').length;
  const retried = rows.filter((row) => row.attempts > 1).length;
  const problems = [
    wrongCount && `${rows.length} delivery records for ${subscriptions.length} × ${objectIds.length} events`,
    missing && `${missing} lost`,
    duplicates && `${duplicates} duplicates`,
    unexpected && `${unexpected} unexpected deliveries`,
    badSignatures && `${badSignatures} invalid signatures`,
    badTimestamps && `${badTimestamps} bodies without a timestamp`,
    wrongObjects && `${wrongObjects} subscriptions did not get each object once`,
    notDelivered && `${notDelivered} records not delivered`,
  ].filter(Boolean);
  check(problems.length === 0, `${label}: ${problems.join(', ')}`);
  return { receipts, rows, retried };
}

// ---------------------------------------------------------------------------------------------------
// The cases.

interface Phases {
  /** Event → the worker fetched its job (pg-boss started_on). */
  queued: number[];
  /** Fetched → receipt (claim statement, signing, the POST). */
  send: number[];
  /** Receipt → the batch's outcomes recorded (the batch's slowest POST). */
  batch: number[];
  /** Recorded → job completed (record statement, progress publishing, pg-boss completion). */
  settle: number[];
}

function phasesOf(verified: Verified): Phases {
  const receiptOf = new Map(verified.receipts.map((receipt) => [receipt.deliveryId, receipt.at]));
  const phases: Phases = { queued: [], send: [], batch: [], settle: [] };
  for (const row of verified.rows) {
    const at = receiptOf.get(row.id);
    if (at === undefined || row.started_ms === null || row.recorded_ms === null || row.completed_ms === null) continue;
    phases.queued.push(row.started_ms - row.event_ms);
    phases.send.push(at - row.started_ms);
    phases.batch.push(row.recorded_ms - at);
    phases.settle.push(row.completed_ms - row.recorded_ms);
  }
  return phases;
}

interface ThroughputRun {
  deliveries: number;
  /** First change sent → last receipt. */
  wallMs: number;
  /** First change sent → last API answer. */
  apiMs: number;
  /** Deliveries received after the last API answer (the backlog the worker drained on its own). */
  backlog: number;
  /** Last API answer → last receipt. */
  drainMs: number;
  latencies: number[];
  phases: Phases;
  cpu: CpuUse;
  bytes: number;
  retried: number;
  /** A delivery body of median size, the bare loop's template. */
  template: string;
}

async function throughputCase(
  d: Deployment,
  label: string,
  subscriptionCount: number,
  events: number,
): Promise<ThroughputRun> {
  check(events % THREAT_BULK === 0, `events per case must be a multiple of ${THREAT_BULK}, got ${events}`);
  const subscriptions: Subscription[] = [];
  for (let i = 0; i < subscriptionCount; i++) {
    subscriptions.push(await subscribe(d, `threats-${randomUUID().slice(0, 8)}`, ['threat.created']));
  }
  try {
    const lanes = Math.min(settings.parallel, events / THREAT_BULK);
    const models: string[] = [];
    for (let i = 0; i < lanes; i++) models.push(await createThreatModel(d, `Webhook bench ${label} lane ${i + 1}`));
    const bodies = Array.from({ length: events / THREAT_BULK }, (_, r) =>
      JSON.stringify(Array.from({ length: THREAT_BULK }, (_, i) => threatInput(r * THREAT_BULK + i))),
    );
    const leftovers = await d.receiver.take();
    check(leftovers.length === 0, `${label}: ${leftovers.length} deliveries arrived between cases`);
    const deliveriesBefore = (await d.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries'))
      .rows[0]!.n;

    const before = await cpuSnapshot(d.probe);
    const objectIds: string[] = [];
    const started = now();
    let next = 0;
    await Promise.all(
      models.map(async (model) => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const response = await fetch(`${d.serverUrl}/threat_models/${model}/threats/bulk`, {
            method: 'POST',
            headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
            body,
          });
          const text = await response.text();
          check(response.status === 201, `${label}: bulk create answered ${response.status}: ${text.slice(0, 300)}`);
          const created = JSON.parse(text) as { id: string }[];
          check(created.length === THREAT_BULK, `${label}: bulk create returned ${created.length} threats`);
          objectIds.push(...created.map((threat) => threat.id));
        }
      }),
    );
    const apiDone = now();
    const expected = events * subscriptionCount;
    if (expected === 0) {
      // Without subscriptions: what producing the events costs, the baseline of the webhook work.
      const after = await cpuSnapshot(d.probe);
      const rows = await d.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries');
      check(rows.rows[0]!.n === deliveriesBefore, `${label}: deliveries were made without subscriptions`);
      return {
        deliveries: 0,
        wallMs: apiDone - started,
        apiMs: apiDone - started,
        backlog: 0,
        drainMs: 0,
        latencies: [],
        phases: { queued: [], send: [], batch: [], settle: [] },
        cpu: cpuUse(before, after, events, apiDone - started),
        bytes: Number.NaN,
        retried: 0,
        template: '',
      };
    }
    await d.receiver.collect(expected);
    const after = await cpuSnapshot(d.probe);
    await sleep(SETTLE_MS);
    const receipts = await d.receiver.take();
    const rows = await settledRows(d, subscriptions);
    const verified = verify(label, receipts, rows, subscriptions, objectIds);
    const last = Math.max(...receipts.map((receipt) => receipt.at));
    const wallMs = last - started;
    const sizes = receipts.map((receipt) => receipt.bytes).sort((a, b) => a - b);
    const medianSize = sizes[Math.floor(sizes.length / 2)]!;
    const { rows: sample } = await d.db.query<{ payload: string }>(
      `SELECT payload::text AS payload FROM webhook_deliveries WHERE id = $1::uuid`,
      [receipts.find((receipt) => receipt.bytes === medianSize)!.deliveryId],
    );
    return {
      deliveries: expected,
      wallMs,
      apiMs: apiDone - started,
      backlog: receipts.filter((receipt) => receipt.at > apiDone).length,
      drainMs: last - apiDone,
      latencies: receipts.map((receipt) => receipt.at - receipt.timestamp),
      phases: phasesOf(verified),
      cpu: cpuUse(before, after, expected, wallMs),
      bytes: receipts.reduce((sum, receipt) => sum + receipt.bytes, 0) / receipts.length,
      retried: verified.retried,
      template: JSON.stringify(JSON.parse(sample[0]!.payload)),
    };
  } finally {
    await unsubscribe(d, subscriptions);
  }
}

interface CeilingRun {
  deliveries: number;
  wallMs: number;
  cpu: CpuUse;
  bytes: number;
}

let ceilingRuns = 0;

/** The bare loop: `count` signed bodies like `template`, the worker's concurrency, to the same receiver. */
async function ceilingCase(d: Deployment, count: number, template: string): Promise<CeilingRun> {
  const run = ++ceilingRuns;
  const subscriptionId = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  await d.receiver.addSecrets({ [subscriptionId]: secret });
  const leftovers = await d.receiver.take();
  check(leftovers.length === 0, `bare loop: ${leftovers.length} deliveries arrived between cases`);
  const warmup = Math.min(CEILING_WARMUP, count);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/webhook-ceiling.ts'], {
    cwd: root,
    env: {
      ...process.env,
      URL: `${d.receiver.url}/ceiling/${run}`,
      WARMUP_URL: `${d.receiver.url}/ceiling-warmup/${run}`,
      COUNT: String(count),
      WARMUP: String(warmup),
      IN_FLIGHT: String(d.batchSize * d.concurrency),
      MAX_SOCKETS: String(SENDER_MAX_SOCKETS),
      SECRET: secret,
      SUBSCRIPTION_ID: subscriptionId,
      TEMPLATE: template,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  cleanups.push(kill);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // The CPU snapshot is taken once the warm-up is through (its receipts are in), so it covers the timed posts.
  await d.receiver.collect(warmup);
  const before = await cpuSnapshot(d.probe);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  check(code === 0, `bare loop exited with ${String(code)}`);
  const result = JSON.parse(output.trim().split('\n').pop()!) as {
    started: number;
    finished: number;
    errors: number;
    cpuMicros: number;
  };
  check(result.errors === 0, `bare loop: ${result.errors} POSTs failed`);
  await d.receiver.collect(warmup + count);
  const after = await cpuSnapshot(d.probe);
  await sleep(SETTLE_MS);
  const receipts = (await d.receiver.take()).filter((receipt) => receipt.path === `/ceiling/${run}`);
  const ids = new Set(receipts.map((receipt) => receipt.deliveryId));
  check(
    receipts.length === count && ids.size === count && receipts.every((receipt) => receipt.signatureOk),
    `bare loop: ${receipts.length} receipts, ${ids.size} distinct, of ${count}; ` +
      `${receipts.filter((receipt) => !receipt.signatureOk).length} invalid signatures`,
  );
  const wallMs = Math.max(...receipts.map((receipt) => receipt.at)) - result.started;
  return {
    deliveries: count,
    wallMs,
    cpu: cpuUse(before, after, count, wallMs, result.cpuMicros),
    bytes: receipts.reduce((sum, receipt) => sum + receipt.bytes, 0) / receipts.length,
  };
}

interface IdleRun {
  fromEvent: number[];
  fromRequest: number[];
  response: number[];
  phases: Phases;
  retried: number;
}

/** Single changes on an idle system: one note at a time, spaced; latency to the receipt. */
async function idleCase(d: Deployment): Promise<IdleRun> {
  const subscription = await subscribe(d, `notes-${randomUUID().slice(0, 8)}`, ['note.created']);
  try {
    const model = await createThreatModel(d, 'Webhook bench idle latency');
    const leftovers = await d.receiver.take();
    check(leftovers.length === 0, `idle: ${leftovers.length} deliveries arrived between cases`);
    await sleep(2000); // the system idle: the worker waits for its next NOTIFY or poll
    const requests = new Map<string, { start: number; end: number }>();
    const first = now();
    for (let i = 0; i < settings.idleChanges; i++) {
      const wait = first + i * settings.idleSpacingMs - now();
      if (wait > 0) await sleep(wait);
      const start = now();
      const note = await api<{ id: string }>(
        d.serverUrl,
        d.token,
        'POST',
        `/threat_models/${model}/notes`,
        { name: `Idle note ${i + 1}`, content: 'A single change on an idle system.' },
        201,
      );
      requests.set(note.id, { start, end: now() });
    }
    await d.receiver.collect(settings.idleChanges);
    await sleep(SETTLE_MS);
    const receipts = await d.receiver.take();
    const rows = await settledRows(d, [subscription]);
    const verified = verify('idle', receipts, rows, [subscription], [...requests.keys()]);
    return {
      fromEvent: receipts.map((receipt) => receipt.at - receipt.timestamp),
      fromRequest: receipts.map((receipt) => receipt.at - requests.get(receipt.objectId)!.start),
      response: [...requests.values()].map((request) => request.end - request.start),
      phases: phasesOf(verified),
      retried: verified.retried,
    };
  } finally {
    await unsubscribe(d, [subscription]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Report.

interface ThroughputCase {
  label: string;
  subscriptions: number;
  server: ThroughputRun[];
  ceiling: CeilingRun[];
}

const rate = (run: { deliveries: number; wallMs: number }) => (run.deliveries / run.wallMs) * 1000;

function report(d: Deployment, cases: ThroughputCase[], idle: IdleRun | undefined): void {
  console.log(
    `\nThroughput: ${settings.events} threat.created events a case through POST …/threats/bulk (${THREAT_BULK} a ` +
      `request, ${settings.parallel} in flight); worker batch ${d.batchSize} × ${d.concurrency} in flight, ` +
      `${SENDER_MAX_SOCKETS} sockets, ${settings.worker === 'separate' ? 'in a process of its own' : 'in the API process'}; ` +
      `medians of ${settings.rounds} round(s)`,
  );
  const rows: string[][] = [];
  const goals: string[] = [];
  for (const c of cases) {
    const apiRate = median(c.server.map((run) => (settings.events / run.apiMs) * 1000));
    if (c.subscriptions === 0) {
      rows.push([`TMI server, ${c.label}`, '0', '—', '', int(apiRate), '', '', '', '', '', '', '']);
      continue;
    }
    const serverRate = median(c.server.map(rate));
    const ceilingRate = median(c.ceiling.map(rate));
    const latencies = c.server.flatMap((run) => run.latencies);
    const backlog = median(c.server.map((run) => run.backlog));
    const drain = median(c.server.filter((run) => run.backlog > 0).map((run) => (run.backlog / run.drainMs) * 1000));
    rows.push([
      `TMI server, ${c.label}`,
      int(c.server[0]!.deliveries),
      int(serverRate),
      c.server.map((run) => int(rate(run))).join(' / '),
      int(apiRate),
      `${int(drain)} (${int(backlog)})`,
      ms(percentile(latencies, 50)),
      ms(percentile(latencies, 99)),
      ms(Math.max(...latencies)),
      int(median(c.server.map((run) => run.bytes))),
      pct(serverRate / ceilingRate),
      pct(1 - serverRate / ceilingRate),
    ]);
    rows.push([
      'bare loop, same count',
      int(c.ceiling[0]!.deliveries),
      int(ceilingRate),
      c.ceiling.map((run) => int(rate(run))).join(' / '),
      '',
      '',
      '',
      '',
      '',
      int(median(c.ceiling.map((run) => run.bytes))),
      '',
      '',
    ]);
    const met = serverRate >= GOAL_DELIVERIES_PER_SECOND;
    goals.push(
      `${c.label}: ${int(serverRate)} deliveries/s ${met ? '≥' : '<'} ${int(GOAL_DELIVERIES_PER_SECOND)}: ` +
        (met ? 'met' : 'MISSED'),
    );
    if (backlog >= MIN_DRAIN_BACKLOG) {
      const drainMet = drain >= GOAL_DELIVERIES_PER_SECOND;
      goals.push(
        `${c.label}, worker alone (drain of ${int(backlog)}): ${int(drain)} deliveries/s ` +
          `${drainMet ? '≥' : '<'} ${int(GOAL_DELIVERIES_PER_SECOND)}: ${drainMet ? 'met' : 'MISSED'}`,
      );
    }
  }
  console.log(
    table(
      [
        'target',
        'deliveries',
        'deliv/s',
        'per round',
        'API events/s',
        'drain/s (backlog)',
        'p50 ms',
        'p99 ms',
        'max ms',
        'B/body',
        'vs bare',
        'outside receiver',
      ],
      rows,
    ),
  );

  const merge = (runs: Phases[]): Phases => ({
    queued: runs.flatMap((p) => p.queued),
    send: runs.flatMap((p) => p.send),
    batch: runs.flatMap((p) => p.batch),
    settle: runs.flatMap((p) => p.settle),
  });
  const phaseRow = (label: string, phases: Phases) => [
    label,
    ...(['queued', 'send', 'batch', 'settle'] as const).map(
      (k) => `${ms(percentile(phases[k], 50))} / ${ms(percentile(phases[k], 99))}`,
    ),
  ];
  const phaseRows = cases
    .filter((c) => c.subscriptions > 0)
    .map((c) => phaseRow(c.label, merge(c.server.map((run) => run.phases))));
  if (idle) phaseRows.push(phaseRow('idle single changes', idle.phases));
  console.log("\nWhere a delivery's time goes (p50 / p99 ms over all rounds)");
  console.log(
    table(
      ['case', 'queued: event → fetched', 'send: → received', 'batch: → recorded', 'settle: → job completed'],
      phaseRows,
    ),
  );

  console.log('\nCPU µs per delivery (per event without subscriptions; medians over rounds) and machine use');
  const cpuRows: string[][] = [];
  const cpuMedian = (runs: CpuUse[], key: keyof CpuUse) => median(runs.map((run) => run[key]));
  for (const c of cases) {
    const runs = c.server.map((run) => run.cpu);
    cpuRows.push([
      `TMI server, ${c.label}`,
      int(cpuMedian(runs, 'server')),
      int(cpuMedian(runs, 'postgres')),
      int(cpuMedian(runs, 'redis')),
      c.subscriptions === 0 ? '' : int(cpuMedian(runs, 'receiver')),
      int(cpuMedian(runs, 'bench')),
      c.subscriptions === 0 ? '' : pct(cpuMedian(runs, 'receiverBusy')),
      pct(cpuMedian(runs, 'machineBusy')),
    ]);
    if (c.subscriptions === 0) continue;
    const bare = c.ceiling.map((run) => run.cpu);
    cpuRows.push([
      'bare loop, same count',
      `${int(cpuMedian(bare, 'sender'))} (loop)`,
      int(cpuMedian(bare, 'postgres')),
      int(cpuMedian(bare, 'redis')),
      int(cpuMedian(bare, 'receiver')),
      '',
      pct(cpuMedian(bare, 'receiverBusy')),
      pct(cpuMedian(bare, 'machineBusy')),
    ]);
  }
  console.log(
    table(
      ['target', 'server', 'postgres', 'redis', 'receiver', 'API client', 'receiver busy', 'machine busy'],
      cpuRows,
    ),
  );
  const baseline = cases.find((c) => c.subscriptions === 0);
  if (baseline) {
    const perEvent = (c: ThroughputCase, key: 'server' | 'postgres') =>
      median(c.server.map((run) => run.cpu[key])) * Math.max(1, c.subscriptions);
    for (const c of cases.filter((x) => x.subscriptions > 0)) {
      const server = (perEvent(c, 'server') - perEvent(baseline, 'server')) / c.subscriptions;
      const postgres = (perEvent(c, 'postgres') - perEvent(baseline, 'postgres')) / c.subscriptions;
      console.log(
        `Webhook work per delivery, ${c.label} (CPU per event − without subscriptions, ÷ ${c.subscriptions}): ` +
          `server ${int(server)} µs, PostgreSQL ${int(postgres)} µs; producing an event costs the server ` +
          `${int(perEvent(baseline, 'server'))} µs and PostgreSQL ${int(perEvent(baseline, 'postgres'))} µs`,
      );
    }
  }

  if (idle) {
    console.log(
      `\nIdle latency: ${settings.idleChanges} × POST /threat_models/{id}/notes, ${settings.idleSpacingMs} ms apart ` +
        '(one note.created subscription)',
    );
    console.log(
      table(
        ['from', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['event timestamp → receipt', ...[50, 99, 100].map((p) => ms(percentile(idle.fromEvent, p)))],
          ['client request start → receipt', ...[50, 99, 100].map((p) => ms(percentile(idle.fromRequest, p)))],
          ["(the POST's own response time)", ...[50, 99, 100].map((p) => ms(percentile(idle.response, p)))],
        ],
      ),
    );
    const p99 = percentile(idle.fromRequest, 99);
    const met = p99 <= GOAL_IDLE_P99_MS;
    goals.push(
      `idle: p99 request start → receipt ${ms(p99)} ms ${met ? '≤' : '>'} ${GOAL_IDLE_P99_MS} ms: ${met ? 'met' : 'MISSED'}`,
    );
  }

  const retried =
    cases.reduce((sum, c) => sum + c.server.reduce((s, run) => s + run.retried, 0), 0) + (idle?.retried ?? 0);
  console.log(
    `\nChecked: every expected delivery received exactly once, every signature valid, every record delivered` +
      (retried > 0 ? ` (${retried} needed more than one attempt)` : ' (all at the first attempt)'),
  );
  console.log(`Goals:\n  ${goals.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  check(settings.events % THREAT_BULK === 0, `BENCH_WEBHOOK_EVENTS must be a multiple of ${THREAT_BULK}`);
  check(['same', 'separate'].includes(settings.worker), 'BENCH_WEBHOOK_WORKER: same or separate');
  check(settings.warmup % THREAT_BULK === 0, `BENCH_WEBHOOK_WARMUP must be a multiple of ${THREAT_BULK}`);
  check(
    settings.subscriptions.length > 0 && settings.subscriptions.every((n) => Number.isInteger(n) && n >= 0 && n <= 50),
    'BENCH_WEBHOOK_SUBSCRIPTIONS: comma-separated counts from 0 to 50, e.g. 0,1,4',
  );

  const { admin, database, databaseUrl, pgVersion } = await createBenchDatabase(settings.adminUrl);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  cleanups.push(() => db.end());

  const redis = (await redisAnswers(settings.redisUrl)) ? settings.redisUrl : undefined;
  let redisPid: number | undefined;
  if (redis) {
    const client = new Redis(redis);
    const info = await client.info('server');
    client.disconnect();
    const match = /process_id:(\d+)/.exec(info);
    redisPid = match ? Number(match[1]) : undefined;
  }

  console.log(
    `Webhook bench: ${settings.events} events a throughput case (${settings.subscriptions.join(', ')} subscriptions), ` +
      `${settings.rounds} round(s), ${settings.warmup} warm-up events; ${settings.idleChanges} idle changes`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, ` +
      `PostgreSQL ${pgVersion}, Redis ${redis ? 'yes' : 'no (in-process pubsub)'}; database ${database}`,
  );
  await reportMachineLoad();

  const receiverPort = await freePort();
  const receiverChild: Child = await startChild(
    'receiver',
    ['--import', 'tsx', 'bench/webhook-receiver.ts'],
    { PORT: String(receiverPort) },
    receiverPort,
  );
  const receiver = new ReceiverClient(receiverChild.url);

  const serverPort = await freePort();
  const adminHint = 'webhook-bench';
  const serverEnv: Record<string, string> = {
    NODE_ENV: 'production',
    TMI_PUBLIC_BASE_URL: `http://127.0.0.1:${serverPort}`,
    // The bench measures deliveries, not the per-user rate limits (one user sends thousands of requests a minute).
    TMI_RATE_LIMIT_ENABLED: 'false',
    DATABASE_URL: databaseUrl,
    PORT: String(serverPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TMI_GRAPHIQL: 'false',
    TMI_TEST_PROVIDER_ENABLED: 'true',
    TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST: CLIENT_CALLBACK,
    TMI_PUBSUB_PREFIX: `tmi-${database}`,
    TMI_ADMIN_PROVIDER: 'tmi',
    TMI_ADMIN_PROVIDER_ID: adminHint,
    TMI_WEBHOOK_ALLOW_HTTP_TARGETS: 'true',
    TMI_SSRF_WEBHOOK_ALLOWLIST: '127.0.0.1',
    ...(redis ? { REDIS_URL: redis } : {}),
  };
  const config = loadConfig({ ...process.env, ...serverEnv });
  if (settings.cpuProfDir) mkdirSync(settings.cpuProfDir, { recursive: true });
  const serverArgs = [
    ...(settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []),
    '--import',
    'tsx',
    'src/main.ts',
  ];
  const separate = settings.worker === 'separate';
  const server = await startChild(
    separate ? 'server (api)' : 'server',
    serverArgs,
    { ...serverEnv, ...(separate ? { TMI_ROLES: 'api' } : {}) },
    serverPort,
  );
  // The same deployment's worker role in a process of its own (same database, Redis namespace and config).
  const workerPort = await freePort();
  const worker = separate
    ? await startChild(
        'server (worker)',
        serverArgs,
        { ...serverEnv, PORT: String(workerPort), TMI_ROLES: 'worker' },
        workerPort,
      )
    : undefined;

  const { accessToken: token } = await login(server.url, adminHint);
  const me = await api<{ user_id?: string; id?: string; is_admin?: boolean }>(
    server.url,
    token,
    'GET',
    '/me',
    undefined,
    200,
  );
  check(me.is_admin === true, `the bench user is not an administrator: ${JSON.stringify(me)}`);
  // Every case subscribes anew: more subscriptions and subscription requests than TMI's defaults allow.
  await api(
    server.url,
    token,
    'PUT',
    `/admin/quotas/webhooks/${me.user_id ?? me.id}`,
    {
      max_subscriptions: 100,
      max_events_per_minute: 1000,
      max_subscription_requests_per_minute: 100,
      max_subscription_requests_per_day: 10_000,
    },
    201,
  );

  const d: Deployment = {
    serverUrl: server.url,
    token,
    receiver,
    db,
    probe: {
      admin,
      database,
      serverPids: [server.process.pid, worker?.process.pid].filter((pid) => pid !== undefined),
      receiverPid: receiverChild.process.pid,
      redisPid,
    },
    batchSize: config.webhooks.worker.batchSize,
    concurrency: config.webhooks.worker.concurrency,
  };

  if (settings.warmup > 0) {
    process.stdout.write(`warm-up (${settings.warmup} events, 1 subscription) … `);
    const run = await throughputCase(d, 'warm-up', 1, settings.warmup);
    console.log(`${int((run.deliveries / run.wallMs) * 1000)} deliveries/s`);
  }

  const cases: ThroughputCase[] = settings.subscriptions.map((n) => ({
    label: n === 0 ? 'no subscription' : `${n} subscription${n > 1 ? 's' : ''}`,
    subscriptions: n,
    server: [],
    ceiling: [],
  }));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const c of cases) {
      process.stdout.write(`round ${round}: ${c.label} … `);
      const run = await throughputCase(d, `${c.label}, round ${round}`, c.subscriptions, settings.events);
      c.server.push(run);
      if (run.deliveries === 0) {
        console.log(`${int((settings.events / run.apiMs) * 1000)} events/s through the API`);
        continue;
      }
      const ceiling = await ceilingCase(d, run.deliveries, run.template);
      c.ceiling.push(ceiling);
      console.log(
        `${int(rate(run))} deliveries/s, p99 ${ms(percentile(run.latencies, 99))} ms; bare loop ${int(rate(ceiling))}/s`,
      );
    }
  }

  let idle: IdleRun | undefined;
  if (settings.idleChanges > 0) {
    process.stdout.write(`idle latency (${settings.idleChanges} changes) … `);
    idle = await idleCase(d);
    console.log(`p99 ${ms(percentile(idle.fromRequest, 99))} ms from the request start`);
  }

  await worker?.stop();
  await server.stop();
  await receiverChild.stop();
  if (settings.cpuProfDir) console.log(`CPU profile of the server written to ${settings.cpuProfDir}`);
  report(d, cases, idle);
}

main()
  .catch((error: unknown) => {
    process.exitCode = 1;
    console.error(error instanceof BenchError ? `bench failed: ${error.message}` : error);
  })
  .finally(() => cleanup());
