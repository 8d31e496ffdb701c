// Collaboration benchmark: broadcast latency of TMI's diagram-collaboration WebSocket protocol and the
// memory an idle collaboration connection costs, each against a bare ceiling in the same run.
// See bench/README.md ("Collaboration bench"). Run with `npm run bench:collab` (or
// `BENCH_CASES=collab npm run bench`).
//
//   latency  50 writers in one session, 100 diagram_operation_requests/s in total spread over them (each
//            moves the sender's own node, so the diagram stays bounded); every other participant records
//            when the matching diagram_operation_event arrives; latency = receipt − send per (sender,
//            receiver) pair. Targets: a bare `ws` broadcast server (one process), the real server (one
//            instance), a bare Redis-relayed broadcast (two processes on one Redis, clients split), the
//            real server (two instances on one PostgreSQL and Redis, clients split).
//   memory   idle authenticated connections (tickets, as TMI's client opens them) to one instance: the
//            growth of its RSS and heap per connection, measured from outside after forced GCs.
//
// Switches (environment):
//   DATABASE_URL              PostgreSQL for the throw-away bench database (default postgresql://postgres@127.0.0.1:5432/postgres)
//   REDIS_URL                 Redis, required (default redis://127.0.0.1:6379)
//   BENCH_COLLAB_PARTICIPANTS participants (writers) in the session (default 50)
//   BENCH_COLLAB_RATE         operations per second, all participants together (default 100)
//   BENCH_COLLAB_DURATION     measured seconds per target and round (default 12)
//   BENCH_COLLAB_WARMUP       warm-up seconds per target and round, at the same rate (default 3)
//   BENCH_COLLAB_ROUNDS       rounds (targets interleaved); medians are reported (default 1)
//   BENCH_COLLAB_TARGETS      subset of bare,server,relay,server2,baseline,baseline2 (default: the first four,
//                             and with BENCH_COLLAB_BASELINE each server target followed by its baseline)
//   BENCH_COLLAB_BASELINE     another checkout of this server (a `git worktree` of an earlier commit, with its
//                             node_modules and generated client): its instances run beside this one's on the
//                             same database and Redis, as targets baseline (1 instance) and baseline2 (2)
//   BENCH_COLLAB_IDLE         idle connections for the memory measurement; 0 skips it (default 500)
//   BENCH_COLLAB_CELLS        minimal (default: position and size only) or x6 (styled nodes with four ports and
//                             metadata, as TMI's web client draws them: about 1.4 KB each)
//   BENCH_CPU_PROF            a directory: the server instances run with --cpu-prof and write profiles there
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type RawData, WebSocket } from 'ws';
import { login, TEST_CALLBACK as CLIENT_CALLBACK } from '../test/helpers/login.js';
import {
  api,
  BenchError,
  createBenchDatabase,
  check,
  CLOCK_TICKS_PER_SECOND,
  type Child,
  cleanup,
  describe,
  envNumber,
  freePort,
  machineTicks,
  median,
  processCpuMicros,
  redisAnswers,
  reportMachineLoad,
  percentile,
  sortedPercentile,
  trimmedMean,
  sleep,
  type Stall,
  type StallProbe,
  STALL_THRESHOLD_MS,
  startChild,
  startStallProbe,
} from './harness.js';

type TargetName = 'bare' | 'server' | 'relay' | 'server2' | 'baseline' | 'baseline2';
const TARGETS: TargetName[] = ['bare', 'server', 'relay', 'server2', 'baseline', 'baseline2'];
const baselineRoot = process.env.BENCH_COLLAB_BASELINE ? path.resolve(process.env.BENCH_COLLAB_BASELINE) : undefined;
// Interleaved, so that each server target and its baseline see the same machine.
const DEFAULT_TARGETS = baselineRoot
  ? ['bare', 'server', 'baseline', 'relay', 'server2', 'baseline2']
  : ['bare', 'server', 'relay', 'server2'];

const settings = {
  adminUrl: process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  participants: Math.round(envNumber('BENCH_COLLAB_PARTICIPANTS', 50)),
  rate: envNumber('BENCH_COLLAB_RATE', 100),
  duration: envNumber('BENCH_COLLAB_DURATION', 12),
  warmup: envNumber('BENCH_COLLAB_WARMUP', 3, true),
  rounds: Math.round(envNumber('BENCH_COLLAB_ROUNDS', 1)),
  targets: (process.env.BENCH_COLLAB_TARGETS || DEFAULT_TARGETS.join(',')).split(',').map((t) => t.trim()),
  idle: Math.round(envNumber('BENCH_COLLAB_IDLE', 500, true)),
  cells: cellStyle(process.env.BENCH_COLLAB_CELLS),
  cpuProfDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
};

/** The goals. */
const GOAL_ONE_FLOOR_MS = 10;
const GOAL_ONE_FACTOR = 3;
const GOAL_TWO_MARGIN_MS = 5;
const GOAL_IDLE_BYTES = 26 * 1024;

/** Receipts may trail the last send by this much before they count as lost. */
const DRAIN_MS = 5000;

/** A stall this soon after the last measured send still delays its deliveries. */
const STALL_DELIVERY_MARGIN_MS = 50;

/** A round counts as quiet when no stall of the machine during it was this long. */
const QUIET_ROUND_STALL_MS = 10;

// ---------------------------------------------------------------------------------------------------
// Small helpers.

/** Runs `work` over `items` with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------------
// CPU and memory from /proc (Linux).

/** A field of /proc/<pid>/status (VmRSS, RssAnon, …), in bytes. */
function statusBytes(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The PostgreSQL backends of the bench database (their CPU is part of what an operation costs). */
async function backendPids(admin: pg.Client, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  return rows.map((row) => row.pid);
}

// ---------------------------------------------------------------------------------------------------
// The API (fixtures, tickets).

interface BenchUser {
  hint: string;
  token: string;
}

interface SessionIds {
  threatModelId: string;
  diagramId: string;
  sessionId: string;
}

/** A fresh diagram of the bench threat model with a collaboration session started by the owner. */
async function newSession(baseUrl: string, owner: BenchUser, threatModelId: string, name: string): Promise<SessionIds> {
  const diagram = await api<{ id: string }>(
    baseUrl,
    owner.token,
    'POST',
    `/threat_models/${threatModelId}/diagrams`,
    { name, type: 'DFD-1.0.0' },
    201,
  );
  const session = await api<{ session_id: string }>(
    baseUrl,
    owner.token,
    'POST',
    `/threat_models/${threatModelId}/diagrams/${diagram.id}/collaborate`,
    undefined,
    201,
  );
  check(session.session_id, 'POST …/collaborate answered no session_id');
  return { threatModelId, diagramId: diagram.id, sessionId: session.session_id };
}

/** The WebSocket URL a participant opens: a fresh single-use ticket, as TMI's web client does it. */
async function ticketUrl(baseUrl: string, user: BenchUser, ids: SessionIds): Promise<string> {
  const { ticket } = await api<{ ticket: string }>(
    baseUrl,
    user.token,
    'GET',
    `/ws/ticket?session_id=${ids.sessionId}`,
    undefined,
    200,
  );
  const query = new URLSearchParams({ session_id: ids.sessionId, ticket });
  return `${baseUrl.replace(/^http/, 'ws')}/threat_models/${ids.threatModelId}/diagrams/${ids.diagramId}/ws?${query}`;
}

// ---------------------------------------------------------------------------------------------------
// The client harness, the same for every target.

interface Op {
  sender: number;
  sentAt: number;
  measured: boolean;
  /** Which participants received it (index → 1). */
  seen: Uint8Array;
  received: number;
  /** The first and the latest receipt (the latest: when the operation had reached every other participant). */
  firstAt: number;
  lastAt: number;
  rejected: boolean;
}

/** One load run: the operations sent and what came back. */
class Run {
  readonly ops = new Map<string, Op>();
  /** Measured receipts: latency, receiver and receipt time. */
  latencies: number[] = [];
  senders: number[] = [];
  receivers: number[] = [];
  receivedAt: number[] = [];
  /** Each participant's operations in the order sent (for the head-of-line diagnostic). */
  readonly sentBy: Op[][];
  delivered = 0;
  expected = 0;
  duplicates = 0;
  echoes = 0;
  unknown = 0;
  resyncs = 0;
  rejected = new Map<string, number>();
  errors = new Map<string, number>();
  private waiter: (() => void) | undefined;

  constructor(readonly participants: number) {
    this.sentBy = Array.from({ length: participants }, () => []);
  }

  add(operationId: string, sender: number, sentAt: number, measured: boolean): void {
    const op: Op = {
      sender,
      sentAt,
      measured,
      seen: new Uint8Array(this.participants),
      received: 0,
      firstAt: 0,
      lastAt: 0,
      rejected: false,
    };
    this.ops.set(operationId, op);
    this.sentBy[sender]!.push(op);
    this.expected += this.participants - 1;
  }

  receive(operationId: string, receiver: number, at: number): void {
    const op = this.ops.get(operationId);
    if (!op) {
      this.unknown++;
      return;
    }
    if (op.sender === receiver) {
      this.echoes++;
      return;
    }
    if (op.seen[receiver]) {
      this.duplicates++;
      return;
    }
    op.seen[receiver] = 1;
    op.received++;
    if (op.received === 1) op.firstAt = at;
    op.lastAt = at;
    if (op.measured) {
      this.latencies.push(at - op.sentAt);
      this.senders.push(op.sender);
      this.receivers.push(receiver);
      this.receivedAt.push(at);
    }
    this.delivered++;
    if (this.delivered >= this.expected) this.waiter?.();
  }

  reject(operationId: string, reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    const op = this.ops.get(operationId);
    if (op && !op.rejected) {
      op.rejected = true;
      this.expected -= this.participants - 1 - op.received;
      if (this.delivered >= this.expected) this.waiter?.();
    }
  }

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** Resolves when every expected delivery arrived, or after `ms`. */
  async settle(ms: number): Promise<void> {
    if (this.delivered >= this.expected) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.waiter = undefined;
  }
}

function cellStyle(value: string | undefined): 'minimal' | 'x6' {
  if (value === undefined || value === '' || value === 'minimal') return 'minimal';
  if (value === 'x6') return 'x6';
  throw new Error(`BENCH_COLLAB_CELLS must be minimal or x6, not ${value}`);
}

const portAttrs = {
  circle: { r: 5, magnet: true, stroke: '#5f95ff', strokeWidth: 1, fill: '#ffffff', style: { visibility: 'hidden' } },
};

/** What X6 and TMI's web client add to a node: styling, four ports, metadata. */
const x6Node = (id: string, index: number) => ({
  zIndex: index + 1,
  attrs: {
    body: { fill: '#ffffff', stroke: '#333333', strokeWidth: 2, rx: 30, ry: 30 },
    text: {
      text: `Process ${index}: handles the requests of participant ${index}`,
      fontSize: 12,
      fill: '#333333',
      fontFamily: 'Roboto Condensed, Arial, sans-serif',
    },
  },
  ports: {
    groups: Object.fromEntries(
      ['top', 'right', 'bottom', 'left'].map((side) => [side, { position: side, attrs: portAttrs }]),
    ),
    items: ['top', 'right', 'bottom', 'left'].map((side) => ({ id: `${id.slice(0, 8)}-${side}`, group: side })),
  },
  data: {
    _metadata: [
      { key: 'owner', value: `team-${index % 5}` },
      { key: 'classification', value: 'internal' },
    ],
    description: `A process of the benchmark diagram, drawn as TMI's web client draws one (${index}).`,
  },
});

const node = (id: string, index: number, x: number) => ({
  id,
  shape: 'process',
  x,
  y: 80 + (index % 10) * 90,
  width: 120,
  height: 60,
  ...(settings.cells === 'x6' ? x6Node(id, index) : {}),
});

class Participant {
  /** The latest update vector this client has seen (its base vector for the next operation). */
  vector = 0;
  participantsSeen = 0;
  run: Run | undefined;
  readonly nodeId = randomUUID();
  private stateWaiter: (() => void) | undefined;
  private gotState = false;

  private constructor(
    readonly index: number,
    readonly socket: WebSocket,
  ) {
    socket.on('message', (data: RawData) => this.message(data));
  }

  /** Opens the socket; with `expectState` waits for the server's first `diagram_state`. */
  static open(index: number, url: string, expectState: boolean): Promise<Participant> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const participant = new Participant(index, socket);
      const timer = setTimeout(() => reject(new BenchError(`participant ${index}: no diagram_state in 15 s`)), 15_000);
      const ready = () => {
        clearTimeout(timer);
        resolve(participant);
      };
      socket.once('open', () => {
        if (!expectState || participant.gotState) ready();
        else participant.stateWaiter = ready;
      });
      socket.once('unexpected-response', (_request, response) => {
        clearTimeout(timer);
        reject(new BenchError(`participant ${index}: HTTP ${response.statusCode} on upgrade`));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  private message(data: RawData): void {
    const at = performance.now();
    const message = JSON.parse(data.toString()) as {
      message_type: string;
      operation_id?: string;
      update_vector?: number;
      reason?: string;
      error?: string;
      participants?: unknown[];
    };
    switch (message.message_type) {
      case 'diagram_operation_event':
        if (typeof message.update_vector === 'number' && message.update_vector > this.vector) {
          this.vector = message.update_vector;
        }
        this.run?.receive(message.operation_id!, this.index, at);
        return;
      case 'diagram_state':
        this.vector = message.update_vector ?? 0;
        if (this.run) this.run.resyncs++;
        this.gotState = true;
        this.stateWaiter?.();
        this.stateWaiter = undefined;
        return;
      case 'participants_update':
        this.participantsSeen = Math.max(this.participantsSeen, message.participants?.length ?? 0);
        return;
      case 'operation_rejected':
        if (typeof message.update_vector === 'number') this.vector = Math.max(this.vector, message.update_vector);
        this.run?.reject(message.operation_id ?? '', message.reason ?? 'unknown');
        return;
      case 'error':
        this.run?.error(message.error ?? 'unknown');
        return;
      default:
        this.run?.error(`unexpected ${message.message_type}`);
    }
  }

  /** Sends one operation moving this participant's node (or adding it); returns the send time. */
  send(operationId: string, kind: 'add' | 'update', x: number): number {
    const message = JSON.stringify({
      message_type: 'diagram_operation_request',
      operation_id: operationId,
      base_vector: this.vector,
      operation: {
        type: 'patch',
        cells: [{ id: this.nodeId, operation: kind, data: node(this.nodeId, this.index, x) }],
      },
    });
    const at = performance.now();
    this.socket.send(message);
    return at;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// One load run against one target.

interface Target {
  name: TargetName;
  label: string;
  instances: number;
  /** The processes serving it (for CPU accounting). */
  pids(): number[];
  /** Participant `index`'s WebSocket URL (for the server: a fresh session per run, a ticket each). */
  prepare(): Promise<(index: number) => Promise<string>>;
  /** Whether the server speaks first (diagram_state, participants_update). */
  protocol: boolean;
}

interface RunResult {
  target: TargetName;
  /** The machine's stalls (`startStallProbe`) during the measured sends and their deliveries. */
  stalls: Stall[];
  sent: number;
  measuredOps: number;
  expectedPairs: number;
  deliveredPairs: number;
  lost: number;
  rejected: Map<string, number>;
  errors: Map<string, number>;
  duplicates: number;
  echoes: number;
  unknown: number;
  resyncs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Time for an operation to reach all the others. */
  allP50: number;
  allP99: number;
  /** With several instances: p99 of the pairs whose sender and receiver share one, and of the others. */
  sameInstanceP99: number;
  otherInstanceP99: number;
  hol: HeadOfLine;
  achievedRate: number;
  cpuMsPerOp: number;
  postgresMsPerOp: number;
  /** PostgreSQL backends that started during the measured time (the server's pool opening connections). */
  postgresBackendsOpened: number;
  redisMsPerOp: number;
  harnessMsPerOp: number;
  /** Share of all CPUs busy during the measured time, and the part of it outside the bench's processes. */
  machineBusy: number;
  othersBusy: number;
}

/**
 * The CPU PostgreSQL's backends spent between two snapshots, and how many of them started in between (a
 * backend the first snapshot does not know is counted whole: the server's pool opened it meanwhile; one
 * that ended in between is missed).
 */
function postgresDelta(before: CpuSnapshot, after: CpuSnapshot): { micros: number; opened: number } {
  let micros = 0;
  let opened = 0;
  for (const [pid, cpu] of after.postgres) {
    const earlier = before.postgres.get(pid);
    if (earlier === undefined) opened++;
    micros += cpu - (earlier ?? 0);
  }
  return { micros, opened };
}

function cpuPerOp(before: CpuSnapshot, after: CpuSnapshot, ops: number) {
  const postgres = postgresDelta(before, after);
  const delta = (key: 'target' | 'postgres' | 'redis' | 'harness') =>
    key === 'postgres' ? postgres.micros : after[key] - before[key];
  const ms = (key: 'target' | 'postgres' | 'redis' | 'harness') => delta(key) / 1000 / Math.max(1, ops);
  let machineBusy = NaN;
  let othersBusy = NaN;
  if (before.machine && after.machine) {
    const totalTicks = Math.max(1, after.machine.total - before.machine.total);
    const busyTicks = after.machine.busy - before.machine.busy;
    machineBusy = busyTicks / totalTicks;
    const ours = (['target', 'postgres', 'redis', 'harness'] as const)
      .map(delta)
      .filter(Number.isFinite)
      .reduce((a, b) => a + b, 0);
    othersBusy = Math.max(0, busyTicks - (ours * CLOCK_TICKS_PER_SECOND) / 1e6) / totalTicks;
  }
  return {
    cpuMsPerOp: ms('target'),
    postgresMsPerOp: ms('postgres'),
    postgresBackendsOpened: postgres.opened,
    redisMsPerOp: ms('redis'),
    harnessMsPerOp: ms('harness'),
    machineBusy,
    othersBusy,
  };
}

/**
 * Receipts that arrived while the receiver's own latest operation was still in flight (sent, and not yet
 * received by anyone else, give or take 1 ms) against the others: a server that handles a connection's
 * incoming and outgoing messages in one queue holds broadcasts to a participant behind its own operation.
 */
interface HeadOfLine {
  share: number;
  busyP99: number;
  freeP99: number;
}

function headOfLine(run: Run): HeadOfLine {
  const busy: number[] = [];
  const free: number[] = [];
  for (let i = 0; i < run.latencies.length; i++) {
    const at = run.receivedAt[i]!;
    const own = run.sentBy[run.receivers[i]!]!;
    // The receiver's latest operation sent before this receipt (binary search on send time).
    let lo = 0;
    let hi = own.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (own[mid]!.sentAt <= at) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const op = found >= 0 ? own[found]! : undefined;
    const inFlight = op !== undefined && (op.firstAt === 0 || at <= op.firstAt + 1);
    (inFlight ? busy : free).push(run.latencies[i]!);
  }
  busy.sort((a, b) => a - b);
  free.sort((a, b) => a - b);
  return {
    share: busy.length / Math.max(1, run.latencies.length),
    busyP99: sortedPercentile(busy, 99),
    freeP99: sortedPercentile(free, 99),
  };
}

/** Where to look for the CPU an operation costs besides the target's own processes. */
interface Probe {
  admin: pg.Client;
  database: string;
  redisPid: number | undefined;
  stalls: StallProbe;
}

interface CpuSnapshot {
  target: number;
  /** CPU of each PostgreSQL backend of the bench database known at the time, by pid. */
  postgres: Map<number, number>;
  redis: number;
  harness: number;
  machine: ReturnType<typeof machineTicks>;
}

function cpuSnapshot(targetPids: number[], pgPids: number[], redisPid: number | undefined): CpuSnapshot {
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + (processCpuMicros(pid) ?? 0), 0);
  const usage = process.cpuUsage();
  const postgres = new Map<number, number>();
  for (const pid of pgPids) {
    const micros = processCpuMicros(pid);
    if (micros !== undefined) postgres.set(pid, micros);
  }
  return {
    target: sum(targetPids),
    postgres,
    redis: processCpuMicros(redisPid) ?? NaN,
    harness: usage.user + usage.system,
    machine: machineTicks(),
  };
}

async function loadRun(target: Target, probe: Probe): Promise<RunResult> {
  const n = settings.participants;
  const urlOf = await target.prepare();
  const participants = await pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => Participant.open(i, await urlOf(i), target.protocol),
  );
  let pgWatch: NodeJS.Timeout | undefined;
  try {
    // The server announces each newcomer to everyone: wait until every client has seen all of them.
    if (target.protocol) {
      const deadline = Date.now() + 20_000;
      while (participants.some((p) => p.participantsSeen < n) && Date.now() < deadline) await sleep(100);
      const behind = participants.filter((p) => p.participantsSeen < n).length;
      check(behind === 0, `${target.label}: ${behind} participants never saw all ${n} participants`);
    }

    // Setup (and a check that the fan-out works): every participant adds its node.
    const setup = new Run(n);
    for (const p of participants) p.run = setup;
    for (const p of participants) {
      const id = randomUUID();
      // At x = 50, where no update below moves a node (each update changes the diagram).
      setup.add(id, p.index, p.send(id, 'add', 50), false);
      await sleep(10);
    }
    await setup.settle(10_000);
    check(
      setup.delivered === setup.expected && setup.rejected.size === 0 && setup.errors.size === 0,
      `${target.label}: setup delivered ${setup.delivered} of ${setup.expected} adds; ` +
        `rejected ${JSON.stringify([...setup.rejected])}, errors ${JSON.stringify([...setup.errors])}`,
    );

    // Load: open loop, operation k at start + k / rate by participant k mod n.
    const run = new Run(n);
    for (const p of participants) p.run = run;
    const interval = 1000 / settings.rate;
    const warmupOps = Math.round(settings.warmup * settings.rate);
    const measuredOps = Math.round(settings.duration * settings.rate);
    const total = warmupOps + measuredOps;
    const pids = target.pids();
    // The server's pool opens and closes connections as it goes: the list of backends is kept current.
    let pgPids = target.protocol ? await backendPids(probe.admin, probe.database) : [];
    const readPgPids = async () => {
      if (target.protocol) pgPids = await backendPids(probe.admin, probe.database);
    };
    if (target.protocol) pgWatch = setInterval(() => void readPgPids().catch(() => undefined), 500);
    const usesRedis = target.name !== 'bare';
    const snapshot = () => cpuSnapshot(pids, pgPids, usesRedis ? probe.redisPid : undefined);
    let before = snapshot();
    let measureFrom = 0;
    const start = performance.now();
    let k = 0;
    while (k < total) {
      const now = performance.now();
      while (k < total && start + k * interval <= now) {
        if (k === warmupOps) {
          before = snapshot();
          measureFrom = performance.now();
        }
        const p = participants[k % n]!;
        const id = randomUUID();
        const x = 100 + ((k * 7) % 400);
        run.add(id, p.index, p.send(id, 'update', x), k >= warmupOps);
        k++;
      }
      if (k < total) await sleep(Math.max(0, start + k * interval - performance.now()));
    }
    const measureTo = performance.now();
    await run.settle(DRAIN_MS);
    clearInterval(pgWatch);
    await readPgPids();
    // CPU up to the end of the measured sends plus their deliveries (the drain is short when nothing is lost).
    const after = snapshot();
    const stalls = probe.stalls.between(
      performance.timeOrigin + measureFrom,
      performance.timeOrigin + measureTo + STALL_DELIVERY_MARGIN_MS,
    );

    let lost = 0;
    let measured = 0;
    const allLatencies: number[] = [];
    for (const op of run.ops.values()) {
      if (op.rejected) continue;
      lost += n - 1 - op.received;
      if (op.measured) {
        measured++;
        if (op.received === n - 1) allLatencies.push(op.lastAt - op.sentAt);
      }
    }
    const sorted = Float64Array.from(run.latencies).sort();
    const hol = headOfLine(run);
    // Participants alternate between the instances (index modulo their number).
    const sameInstance: number[] = [];
    const otherInstance: number[] = [];
    run.latencies.forEach((latency, i) => {
      const same = run.senders[i]! % target.instances === run.receivers[i]! % target.instances;
      (same ? sameInstance : otherInstance).push(latency);
    });
    allLatencies.sort((a, b) => a - b);
    const rejectedCount = [...run.rejected.values()].reduce((a, b) => a + b, 0);
    return {
      target: target.name,
      stalls,
      sent: total,
      measuredOps,
      expectedPairs: measuredOps * (n - 1),
      deliveredPairs: sorted.length,
      lost,
      rejected: run.rejected,
      errors: run.errors,
      duplicates: run.duplicates,
      echoes: run.echoes,
      unknown: run.unknown,
      resyncs: run.resyncs,
      p50: sortedPercentile(sorted, 50),
      p90: sortedPercentile(sorted, 90),
      p99: sortedPercentile(sorted, 99),
      max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
      allP50: sortedPercentile(allLatencies, 50),
      allP99: sortedPercentile(allLatencies, 99),
      sameInstanceP99: target.instances > 1 ? percentile(sameInstance, 99) : NaN,
      otherInstanceP99: target.instances > 1 ? percentile(otherInstance, 99) : NaN,
      hol,
      achievedRate: (measuredOps - 1) / ((measureTo - measureFrom) / 1000),
      ...cpuPerOp(before, after, measured + rejectedCount),
    };
  } finally {
    clearInterval(pgWatch);
    await Promise.all(participants.map((p) => p.close()));
    await sleep(500); // let the server forget the connections before the next run
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory per idle connection, measured from outside: the instance runs with --inspect and the bench
// forces its GCs and reads process.memoryUsage() over the DevTools protocol; RSS from /proc.

class Inspector {
  private nextId = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: RawData) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.pending.get(message.id)?.(message.result ?? message.error);
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
          webSocketDebuggerUrl: string;
        }[];
        const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
        await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
        return new Inspector(socket);
      } catch (error) {
        if (Date.now() > deadline) throw new BenchError(`inspector on port ${port}: ${describe(error)}`);
        await sleep(200);
      }
    }
  }

  call(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

interface MemorySample {
  /** Anonymous resident memory: what the process allocated (the file-backed part, code, can be reclaimed). */
  rssAnon: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function memorySample(inspector: Inspector, pid: number): Promise<MemorySample> {
  for (let i = 0; i < 3; i++) {
    await inspector.call('HeapProfiler.collectGarbage');
    await sleep(300);
  }
  const result = (await inspector.call('Runtime.evaluate', {
    expression: 'JSON.stringify(process.memoryUsage())',
    returnByValue: true,
  })) as { result?: { value?: string } };
  const usage = JSON.parse(result.result?.value ?? '{}') as Partial<MemorySample>;
  return {
    rssAnon: statusBytes(pid, 'RssAnon'),
    rss: statusBytes(pid, 'VmRSS'),
    heapTotal: usage.heapTotal ?? NaN,
    heapUsed: usage.heapUsed ?? NaN,
    external: usage.external ?? NaN,
    arrayBuffers: usage.arrayBuffers ?? NaN,
  };
}

interface MemoryResult {
  connections: number;
  sessions: number;
  /** Samples after the baseline session (0 more connections), then after each session of them. */
  points: { connections: number; sample: MemorySample }[];
  openSeconds: number;
}

async function measureMemory(
  serverArgs: string[],
  serverEnv: (port: number) => Record<string, string>,
  owner: BenchUser,
  users: BenchUser[],
  threatModelId: string,
): Promise<MemoryResult> {
  const port = await freePort();
  const inspectPort = await freePort();
  const server = await startChild(
    'server (memory)',
    [`--inspect=127.0.0.1:${inspectPort}`, ...serverArgs],
    serverEnv(port),
    port,
  );
  const inspector = await Inspector.connect(inspectPort);
  const pid = server.process.pid!;
  const perSession = users.length;
  const open: Participant[] = [];
  const openSession = async (count: number, name: string) => {
    const ids = await newSession(server.url, owner, threatModelId, name);
    const members = users.slice(0, count);
    const opened = await pool(members, 8, async (user, i) =>
      Participant.open(i, await ticketUrl(server.url, user, ids), true),
    );
    open.push(...opened);
    return opened;
  };
  const settled = async (group: Participant[], count: number) => {
    const deadline = Date.now() + 30_000;
    while (group.some((p) => p.participantsSeen < count) && Date.now() < deadline) await sleep(100);
  };
  try {
    // Warm-up: the same number of connections opened and closed once, so that the allocators have grown
    // to what opening them takes (RSS keeps that) and later growth is what the connections retain.
    for (let opened = 0, i = 0; opened < settings.idle; i++) {
      const count = Math.min(perSession, settings.idle - opened);
      await settled(await openSession(count, `Memory warm-up ${i + 1}`), count);
      opened += count;
    }
    await Promise.all(open.splice(0).map((p) => p.close()));
    await sleep(3000); // the server forgets them (leave, participants updates)

    // Baseline: one full session (every code path of a connection ran, pools are open).
    const first = await openSession(perSession, 'Memory baseline');
    await settled(first, perSession);
    await sleep(1000);
    const points = [{ connections: 0, sample: await memorySample(inspector, pid) }];

    // Then the idle connections, a session of up to `perSession` users at a time, sampled after each: the
    // growth per connection is the sessions' trimmed mean (over the whole range, what the allocators keep
    // or give back after the warm-up can move it by tens of KiB per connection either way).
    let sessions = 0;
    let openMs = 0;
    for (let opened = 0; opened < settings.idle; sessions++) {
      const count = Math.min(perSession, settings.idle - opened);
      const started = performance.now();
      const group = await openSession(count, `Memory ${sessions + 1}`);
      await settled(group, count);
      openMs += performance.now() - started;
      opened += count;
      await sleep(opened === settings.idle ? 2000 : 500);
      points.push({ connections: opened, sample: await memorySample(inspector, pid) });
    }
    return { connections: settings.idle, sessions, points, openSeconds: openMs / 1000 };
  } finally {
    inspector.close();
    await Promise.all(open.map((p) => p.close()));
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------

const LABELS: Record<TargetName, string> = {
  bare: 'bare ws broadcast',
  server: 'TMI server',
  relay: 'bare Redis-relayed broadcast',
  server2: 'TMI server',
  baseline: 'baseline TMI server',
  baseline2: 'baseline TMI server',
};

async function main(): Promise<void> {
  const selected = settings.targets.filter((t): t is TargetName => (TARGETS as string[]).includes(t));
  check(selected.length === settings.targets.length, `BENCH_COLLAB_TARGETS: use ${TARGETS.join(', ')}`);
  check(
    baselineRoot !== undefined || !selected.some((t) => t.startsWith('baseline')),
    'the baseline targets need BENCH_COLLAB_BASELINE',
  );
  check(settings.participants >= 2 && settings.participants <= 200, 'BENCH_COLLAB_PARTICIPANTS: 2..200');
  check(await redisAnswers(settings.redisUrl), `no Redis answers at ${settings.redisUrl} (the bench needs one)`);

  const { admin, database, databaseUrl, pgVersion } = await createBenchDatabase(settings.adminUrl);

  const n = settings.participants;
  console.log(
    `Collaboration bench: ${n} participants (writers) in one session, ${settings.rate} operations/s in total, ` +
      `${settings.warmup} s warm-up + ${settings.duration} s measured per target, ${settings.rounds} round(s); ` +
      `${settings.idle} idle connections for memory; ${settings.cells} cells`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, ` +
      `PostgreSQL ${pgVersion}, Redis ${settings.redisUrl}; database ${database}`,
  );
  await reportMachineLoad();

  // Both server instances are one deployment (same public base URL, database and Redis namespace).
  const portA = await freePort();
  const serverEnv = (port: number): Record<string, string> => ({
    NODE_ENV: 'production',
    TMI_PUBLIC_BASE_URL: `http://127.0.0.1:${portA}`,
    // The bench measures the API, not its per-user rate limits (one user sends thousands of requests a minute).
    TMI_RATE_LIMIT_ENABLED: 'false',
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TMI_GRAPHIQL: 'false',
    TMI_TEST_PROVIDER_ENABLED: 'true',
    TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST: CLIENT_CALLBACK,
    TMI_PUBSUB_PREFIX: `tmi-${database}`,
    REDIS_URL: settings.redisUrl,
  });
  const serverArgs = ['--import', 'tsx', 'src/main.ts'];
  if (settings.cpuProfDir) mkdirSync(settings.cpuProfDir, { recursive: true });
  const profArgs = settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : [];
  const needsServer = selected.includes('server') || selected.includes('server2') || settings.idle > 0;
  const serverA = needsServer
    ? await startChild('server A', [...profArgs, ...serverArgs], serverEnv(portA), portA)
    : undefined;
  const portB = await freePort();
  const serverB = selected.includes('server2')
    ? await startChild('server B', [...profArgs, ...serverArgs], serverEnv(portB), portB)
    : undefined;
  // The baseline: the same deployment from another checkout (its code, this database and Redis).
  const baselineArgs = baselineRoot ? ['--import', 'tsx', path.join(baselineRoot, 'src/main.ts')] : [];
  const baselines: Child[] = [];
  const baselineCount = selected.includes('baseline2') ? 2 : selected.includes('baseline') ? 1 : 0;
  for (const name of ['baseline A', 'baseline B'].slice(0, baselineCount)) {
    const port = await freePort();
    baselines.push(await startChild(name, [...profArgs, ...baselineArgs], serverEnv(port), port));
  }
  const ceilingArgs = ['--import', 'tsx', 'bench/broadcast-ceiling.ts'];
  const barePort = await freePort();
  const bare = selected.includes('bare')
    ? await startChild('bare ws', ceilingArgs, { PORT: String(barePort) }, barePort)
    : undefined;
  const relays: Child[] = [];
  if (selected.includes('relay')) {
    const channelPrefix = `bench-ceiling-${database}`;
    for (const name of ['relay A', 'relay B']) {
      const port = await freePort();
      relays.push(
        await startChild(
          name,
          ceilingArgs,
          { PORT: String(port), REDIS_URL: settings.redisUrl, CEILING_CHANNEL_PREFIX: channelPrefix },
          port,
        ),
      );
    }
  }

  // Users and the threat model, through the real API.
  let owner: BenchUser | undefined;
  let users: BenchUser[] = [];
  let threatModelId = '';
  if (serverA) {
    owner = { hint: 'collab-owner', token: (await login(serverA.url, 'collab-owner')).accessToken };
    const hints = Array.from({ length: n }, (_, i) => `collab-${String(i + 1).padStart(3, '0')}`);
    users = await pool(hints, 4, async (hint) => ({ hint, token: (await login(serverA.url, hint)).accessToken }));
    const model = await api<{ id: string }>(
      serverA.url,
      owner.token,
      'POST',
      '/threat_models',
      {
        name: 'Collaboration bench',
        threat_model_framework: 'STRIDE',
        authorization: users.map((user) => ({
          principal_type: 'user',
          provider: 'tmi',
          provider_id: user.hint,
          email: `${user.hint}@tmi.local`,
          role: 'writer',
        })),
      },
      201,
    );
    threatModelId = model.id;
  }

  const redis = new Redis(settings.redisUrl);
  const redisInfo = await redis.info('server');
  redis.disconnect();
  const redisPidMatch = /process_id:(\d+)/.exec(redisInfo);
  const probe: Probe = {
    admin,
    database,
    redisPid: redisPidMatch ? Number(redisPidMatch[1]) : undefined,
    stalls: startStallProbe(),
  };

  let runs = 0;
  const serverTarget = (name: 'server' | 'server2' | 'baseline' | 'baseline2', instances: Child[]): Target => ({
    name,
    label: `${LABELS[name]} (${instances.length} instance${instances.length > 1 ? 's' : ''})`,
    instances: instances.length,
    protocol: true,
    pids: () => instances.map((child) => child.process.pid!),
    prepare: async () => {
      const ids = await newSession(instances[0]!.url, owner!, threatModelId, `Bench run ${++runs}`);
      // Participants alternate between the instances (as a load balancer would spread them).
      return (index) => ticketUrl(instances[index % instances.length]!.url, users[index]!, ids);
    },
  });
  const ceilingTarget = (name: 'bare' | 'relay', children: Child[]): Target => ({
    name,
    label: `${LABELS[name]} (${children.length} process${children.length > 1 ? 'es' : ''})`,
    instances: children.length,
    protocol: false,
    pids: () => children.map((child) => child.process.pid!),
    prepare: async () => {
      const room = `/rooms/${++runs}/ws`;
      return async (index) => `${children[index % children.length]!.url.replace(/^http/, 'ws')}${room}`;
    },
  });
  const targets: Target[] = selected.map((name) =>
    name === 'bare'
      ? ceilingTarget('bare', [bare!])
      : name === 'relay'
        ? ceilingTarget('relay', relays)
        : name === 'server'
          ? serverTarget('server', [serverA!])
          : name === 'server2'
            ? serverTarget('server2', [serverA!, serverB!])
            : serverTarget(name, baselines.slice(0, name === 'baseline' ? 1 : 2)),
  );

  const results = new Map<TargetName, RunResult[]>();
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      process.stdout.write(`  round ${round}: ${target.label} … `);
      const result = await loadRun(target, probe);
      console.log(
        `p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, lost ${result.lost}; ` +
          `machine stalls ${result.stalls.length} (longest ${longestStall(result.stalls).toFixed(0)} ms)`,
      );
      results.set(target.name, [...(results.get(target.name) ?? []), result]);
    }
  }
  await serverB?.stop();
  for (const baseline of baselines) await baseline.stop();
  await bare?.stop();
  for (const relay of relays) await relay.stop();

  // Memory: a fresh instance, alone on the machine (server A stays only for the API it is not needed for).
  let memory: MemoryResult | undefined;
  if (settings.idle > 0 && owner) {
    await serverA?.stop();
    memory = await measureMemory(serverArgs, serverEnv, owner, users, threatModelId);
  } else {
    await serverA?.stop();
  }
  if (settings.cpuProfDir) console.log(`CPU profiles of the server instances written to ${settings.cpuProfDir}`);

  report(targets, results, memory);
}

// ---------------------------------------------------------------------------------------------------

const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function report(targets: Target[], results: Map<TargetName, RunResult[]>, memory: MemoryResult | undefined): void {
  const n = settings.participants;
  if (targets.length > 0) {
    console.log(
      `\nBroadcast latency: ${n} participants, ${settings.rate} ops/s in total (${fmt(settings.rate / n)} per participant), ` +
        `each op to the ${n - 1} others; latency = receipt − send per (sender, receiver) pair, ` +
        `${settings.duration} s measured after ${settings.warmup} s warm-up` +
        (settings.rounds > 1 ? `; medians over ${settings.rounds} rounds` : ''),
    );
    const table = (columns: [string, number, (r: RunResult[], target: Target) => string][]) => {
      const header = columns.map(([title, width], i) => (i === 0 ? title.padEnd(width) : title.padStart(width)));
      console.log(header.join(' '));
      console.log('-'.repeat(header.join(' ').length));
      for (const target of targets) {
        const rs = results.get(target.name) ?? [];
        if (rs.length === 0) continue;
        console.log(
          columns
            .map(([, width, cell], i) => (i === 0 ? cell(rs, target).padEnd(width) : cell(rs, target).padStart(width)))
            .join(' '),
        );
      }
    };
    const m = (rs: RunResult[], pick: (r: RunResult) => number, digits = 2) => fmt(median(rs.map(pick)), digits);
    const sum = (rs: RunResult[], pick: (r: RunResult) => number) => String(rs.reduce((a, r) => a + pick(r), 0));
    const pct = (rs: RunResult[], pick: (r: RunResult) => number) => `${fmt(median(rs.map(pick)) * 100, 0)}%`;
    table([
      ['target', 40, (_, t) => t.label],
      ['inst', 4, (_, t) => String(t.instances)],
      ['ops/s', 6, (rs) => m(rs, (r) => r.achievedRate, 0)],
      ['pairs', 7, (rs) => sum(rs, (r) => r.deliveredPairs)],
      ['lost', 5, (rs) => sum(rs, (r) => r.lost)],
      ['rej', 4, (rs) => sum(rs, (r) => [...r.rejected.values()].reduce((a, b) => a + b, 0))],
      ['p50 ms', 7, (rs) => m(rs, (r) => r.p50)],
      ['p90 ms', 7, (rs) => m(rs, (r) => r.p90)],
      ['p99 ms', 7, (rs) => m(rs, (r) => r.p99)],
      ['max ms', 8, (rs) => m(rs, (r) => r.max)],
      ['all p50', 8, (rs) => m(rs, (r) => r.allP50)],
      ['all p99', 8, (rs) => m(rs, (r) => r.allP99)],
    ]);
    console.log(
      `  pairs: (sender, receiver) receipts measured (${n - 1} per op expected); lost: receipts still missing ` +
        `${DRAIN_MS / 1000} s after the last send (warm-up included); rej: operations answered with ` +
        `operation_rejected; all p50/p99: time until an operation had reached all ${n - 1} others`,
    );
    console.log('\nCost per operation (CPU ms) and where the time goes:');
    table([
      ['target', 40, (_, t) => t.label],
      ['target', 7, (rs) => m(rs, (r) => r.cpuMsPerOp)],
      ['PG', 6, (rs, t) => (t.protocol ? m(rs, (r) => r.postgresMsPerOp) : '—')],
      ['PG new', 7, (rs, t) => (t.protocol ? sum(rs, (r) => r.postgresBackendsOpened) : '—')],
      ['Redis', 6, (rs, t) => (t.name === 'bare' ? '—' : m(rs, (r) => r.redisMsPerOp))],
      ['clients', 8, (rs) => m(rs, (r) => r.harnessMsPerOp)],
      ['busy', 5, (rs) => pct(rs, (r) => r.machineBusy)],
      ['others', 7, (rs) => pct(rs, (r) => r.othersBusy)],
      ['HOL', 5, (rs) => pct(rs, (r) => r.hol.share)],
      ['p99 HOL', 8, (rs) => m(rs, (r) => r.hol.busyP99)],
      ['p99 rest', 9, (rs) => m(rs, (r) => r.hol.freeP99)],
      ['p99 same', 9, (rs, t) => (t.instances > 1 ? m(rs, (r) => r.sameInstanceP99) : '—')],
      ['p99 other', 10, (rs, t) => (t.instances > 1 ? m(rs, (r) => r.otherInstanceP99) : '—')],
      ['stalls', 7, (rs) => sum(rs, (r) => r.stalls.length)],
      ['longest', 8, (rs) => fmt(longestStall(rs.flatMap((r) => r.stalls)), 0)],
    ]);
    console.log(
      `  target: the target's own processes; PG: the bench database's PostgreSQL backends; Redis: redis-server; ` +
        `clients: this process (the ${n} clients); busy: all CPUs, others: the part of it outside these processes ` +
        `(other work on the machine: expect noisy numbers when it is not ~0%); HOL: receipts that arrived while the ` +
        `receiver's own operation was in flight, with their p99 and the p99 of the rest; p99 same / other: with ` +
        `several instances, the pairs whose sender and receiver are on the same instance, and the others; ` +
        `stalls: moments (all rounds) when an idle probe process woke ${STALL_THRESHOLD_MS} ms or more late, and the longest ` +
        `(ms): the machine was stalled (hypervisor, other work) or saturated; none show on this machine at rest`,
    );
    for (const target of targets) {
      for (const [i, r] of (results.get(target.name) ?? []).entries()) {
        const notes = [
          ...[...r.rejected].map(([reason, count]) => `${count} rejected (${reason})`),
          ...[...r.errors].map(([kind, count]) => `${count} × error ${kind}`),
          ...(r.duplicates ? [`${r.duplicates} duplicate receipts`] : []),
          ...(r.echoes ? [`${r.echoes} echoes to the sender`] : []),
          ...(r.unknown ? [`${r.unknown} events of unknown operations`] : []),
          ...(r.resyncs ? [`${r.resyncs} diagram_state resyncs`] : []),
        ];
        if (notes.length > 0) console.log(`  ${target.label}, round ${i + 1}: ${notes.join('; ')}`);
      }
    }

    const p99 = (name: TargetName) => {
      const rs = results.get(name);
      return rs && rs.length > 0 ? median(rs.map((r) => r.p99)) : undefined;
    };
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const lossNote = (name: TargetName) => {
      const rs = results.get(name) ?? [];
      const lost = rs.reduce((a, r) => a + r.lost, 0);
      const rejected = rs.reduce((a, r) => a + [...r.rejected.values()].reduce((x, y) => x + y, 0), 0);
      return lost + rejected > 0 ? ` (and ${lost} lost receipts, ${rejected} rejected ops: MISSED)` : '';
    };
    console.log('\nGoals:');
    const one = p99('server');
    const bareP99 = p99('bare');
    if (one !== undefined && bareP99 !== undefined) {
      const limit = Math.max(GOAL_ONE_FLOOR_MS, GOAL_ONE_FACTOR * bareP99);
      console.log(
        `  one instance:   p99 ${fmt(one)} ms ≤ max(${GOAL_ONE_FLOOR_MS} ms, ${GOAL_ONE_FACTOR} × bare p99 ${fmt(bareP99)} ms) = ` +
          `${fmt(limit)} ms: ${verdict(one <= limit)}${lossNote('server')}`,
      );
    }
    const two = p99('server2');
    const relayP99 = p99('relay');
    if (two !== undefined && relayP99 !== undefined) {
      const limit = relayP99 + GOAL_TWO_MARGIN_MS;
      console.log(
        `  two instances:  p99 ${fmt(two)} ms ≤ Redis-relayed p99 ${fmt(relayP99)} ms + ${GOAL_TWO_MARGIN_MS} ms = ` +
          `${fmt(limit)} ms: ${verdict(two <= limit)}${lossNote('server2')}`,
      );
      console.log(`    ${roundByRound(results.get('server2') ?? [], results.get('relay') ?? [], GOAL_TWO_MARGIN_MS)}`);
    }
    if (memory) printMemoryGoal(memory, verdict);
    // The same goals' figures for the baseline checkout, measured in the same rounds.
    for (const [mine, theirs, label] of [
      ['server', 'baseline', 'one instance'],
      ['server2', 'baseline2', 'two instances'],
    ] as const) {
      const now = p99(mine);
      const before = p99(theirs);
      if (now === undefined || before === undefined) continue;
      const rs = results.get(theirs) ?? [];
      const lost = rs.reduce((a, r) => a + r.lost, 0);
      const rejected = rs.reduce((a, r) => a + [...r.rejected.values()].reduce((x, y) => x + y, 0), 0);
      const note = lost + rejected > 0 ? ` (the baseline: ${lost} lost receipts, ${rejected} rejected ops)` : '';
      console.log(`  vs baseline, ${label}: p99 ${fmt(before)} ms → ${fmt(now)} ms${note}`);
    }
  } else if (memory) {
    console.log('\nGoals:');
    printMemoryGoal(memory, (ok) => (ok ? 'met' : 'MISSED'));
  }
  if (memory) printMemory(memory);
}

const longestStall = (stalls: Stall[]) => Math.max(0, ...stalls.map((stall) => stall.lateMs));

/**
 * Each round's own comparison of a target's p99 with a ceiling's p99 plus a margin, over all rounds and over
 * the quiet ones (no stall of the machine of `QUIET_ROUND_STALL_MS` or more while either was measured).
 */
function roundByRound(target: RunResult[], ceiling: RunResult[], marginMs: number): string {
  const rounds = target.slice(0, ceiling.length).map((r, i) => ({
    quiet: [r, ceiling[i]!].every((run) => longestStall(run.stalls) < QUIET_ROUND_STALL_MS),
    gap: r.p99 - ceiling[i]!.p99,
  }));
  const quiet = rounds.filter((round) => round.quiet);
  const describeRounds = (list: typeof rounds) =>
    `met in ${list.filter((round) => round.gap <= marginMs).length} of ${list.length}` +
    (list.length > 0 ? ` (median p99 − ceiling p99: ${fmt(median(list.map((round) => round.gap)))} ms)` : '');
  return (
    `round by round: ${describeRounds(rounds)}; in the rounds without a machine stall of ` +
    `${QUIET_ROUND_STALL_MS} ms or more: ${describeRounds(quiet)}`
  );
}

const perConnection = (memory: MemoryResult, key: keyof MemorySample, from = 0, to = memory.points.length - 1) => {
  const a = memory.points[from]!;
  const b = memory.points[to]!;
  return (b.sample[key] - a.sample[key]) / Math.max(1, b.connections - a.connections);
};

/**
 * Bytes per connection: the mean, over the sessions opened, of a measure's growth per connection during
 * each, the fifth of sessions with the most and the fifth with the least left out. A one-off step (the
 * allocators giving back what the warm-up left, or growing an arena) moves one session's figure by up to
 * hundreds of KiB per connection; trimmed, it moves the figure by nothing.
 */
function perSessionConnection(memory: MemoryResult, key: keyof MemorySample): number {
  const steps = memory.points.slice(1).map((_, i) => perConnection(memory, key, i, i + 1));
  return trimmedMean(steps, 0.2);
}

function printMemoryGoal(memory: MemoryResult, verdict: (ok: boolean) => string): void {
  const rss = perSessionConnection(memory, 'rssAnon');
  const retained =
    perSessionConnection(memory, 'heapUsed') +
    perSessionConnection(memory, 'external') +
    perSessionConnection(memory, 'arrayBuffers');
  console.log(
    `  idle connection: ${kib(rss)} anonymous RSS per connection ≤ ${kib(GOAL_IDLE_BYTES)}: ${verdict(rss <= GOAL_IDLE_BYTES)} ` +
      `(trimmed mean of ${memory.points.length - 1} sessions; ${kib(perConnection(memory, 'rssAnon'))} from the first ` +
      `sample to the last; retained JS heap + external: ${kib(retained)})`,
  );
}

function printMemory(memory: MemoryResult): void {
  const all = memory.points;
  // The table shows the first, middle and last samples; the per-connection figure uses every session.
  const shown = [0, Math.floor((all.length - 1) / 2), all.length - 1].filter((i, k, list) => list.indexOf(i) === k);
  const points = shown.map((i) => all[i]!);
  console.log(
    `\nMemory per idle collaboration connection: ${memory.connections} authenticated connections (a ticket each) ` +
      `in ${memory.sessions} sessions of up to ${settings.participants} users, opened in ${fmt(memory.openSeconds, 1)} s, ` +
      `on top of an instance already holding one full session and warmed up by opening and closing as many ` +
      `connections; sampled after each session, after forced GCs (inspector)`,
  );
  const rows: [string, keyof MemorySample][] = [
    ['RSS anonymous', 'rssAnon'],
    ['RSS total (VmRSS)', 'rss'],
    ['V8 heap committed', 'heapTotal'],
    ['V8 heap used', 'heapUsed'],
    ['external (Buffers, …)', 'external'],
    ['ArrayBuffers', 'arrayBuffers'],
  ];
  const slopes = shown.slice(1).map((to, i) => [shown[i]!, to] as const);
  console.log(
    [
      'measure'.padEnd(22),
      ...points.map((p) => `+${p.connections} conn`.padStart(12)),
      ...slopes.map(([a, b]) => `${all[a]!.connections}→${all[b]!.connections}`.padStart(12)),
      'per conn (trimmed)'.padStart(19),
    ].join(' '),
  );
  for (const [label, key] of rows) {
    console.log(
      [
        label.padEnd(22),
        ...points.map((p) => `${(p.sample[key] / 1048576).toFixed(1)} MiB`.padStart(12)),
        ...slopes.map(([a, b]) => kib(perConnection(memory, key, a, b)).padStart(12)),
        kib(perSessionConnection(memory, key)).padStart(19),
      ].join(' '),
    );
  }
  console.log(
    '  RSS anonymous (RssAnon) is the memory the process allocated, what the goal is checked on; the total ' +
      'also counts file-backed pages (code), which the kernel reclaims and reloads at will. Retained JS heap + ' +
      'external is what stays reachable per connection after GC. Per connection: the mean over the sessions of ' +
      'their growth per connection, without the fifth highest and the fifth lowest (a one-off step of the ' +
      'allocators moves one session)',
  );
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`\nBENCH FAILED: ${error instanceof BenchError ? error.message : describe(error)}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
