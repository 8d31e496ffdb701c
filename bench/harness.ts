// What the benches (run.ts, collab.ts, webhooks.ts) share: clean-up whatever happens, ports, databases,
// Redis, the server processes they start and stop, their settings, statistics, CPU accounting and the API.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { applyMigrations } from '../src/infra/migrate.js';

export const root = fileURLToPath(new URL('..', import.meta.url));

export class BenchError extends Error {}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
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

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * A fresh database on the server of `adminUrl`, migrated and dropped at clean-up, with a connection to the
 * server's admin database (kept open for the bench's probes) and the server's version.
 */
export async function createBenchDatabase(
  adminUrl: string,
): Promise<{ admin: pg.Client; database: string; databaseUrl: string; pgVersion: string }> {
  const database = `tmi_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  cleanups.push(() => admin.end());
  const pgVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  await admin.query(`CREATE DATABASE ${database}`);
  cleanups.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
  const databaseUrl = withDatabase(adminUrl, database);
  await applyMigrations(databaseUrl, { info: () => undefined });
  return { admin, database, databaseUrl, pgVersion };
}

export async function freePort(): Promise<number> {
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

export async function redisAnswers(url: string): Promise<boolean> {
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

export interface Child {
  name: string;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startChild(
  name: string,
  args: string[],
  env: Record<string, string>,
  port: number,
): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const quiet = /listening on|^Debugger listening|^For help, see/;
  const prefix = (data: Buffer) =>
    data
      .toString()
      .split('\n')
      .filter((line) => line.trim() !== '' && !quiet.test(line))
      .map((line) => `  [${name}] ${line}\n`)
      .join('');
  child.stdout!.on('data', (data: Buffer) => process.stderr.write(prefix(data)));
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

/** A moment a small, idle process woke later than it asked to. */
export interface Stall {
  /** When it started (epoch ms). */
  at: number;
  /** How much longer than asked it lasted (ms). */
  lateMs: number;
}

export interface StallProbe {
  /** The stalls that started between two moments (epoch ms, `Date.now()`). */
  between(from: number, to: number): Stall[];
  stop(): Promise<void>;
}

/** How often the stall probe wakes, and from how late a wake-up counts as a stall. */
const STALL_PROBE_INTERVAL_MS = 5;
export const STALL_THRESHOLD_MS = 5;

/**
 * A separate process that only sleeps and wakes: when it wakes late, nothing it did delayed it: the machine
 * was stalled (the hypervisor, other work) or had no CPU free. Lets a bench tell the rounds in which the
 * machine itself was slow.
 */
export function startStallProbe(): StallProbe {
  const script = `
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      const late = now - last - ${STALL_PROBE_INTERVAL_MS};
      if (late >= ${STALL_THRESHOLD_MS}) process.stdout.write(JSON.stringify([performance.timeOrigin + last, late]) + '\\n');
      last = now;
    }, ${STALL_PROBE_INTERVAL_MS});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stalls: Stall[] = [];
  let pending = '';
  child.stdout!.on('data', (data: Buffer) => {
    const lines = (pending + data.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const [at, lateMs] = JSON.parse(line) as [number, number];
      stalls.push({ at, lateMs });
    }
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exit;
  };
  cleanups.push(stop);
  return { between: (from, to) => stalls.filter((stall) => stall.at >= from && stall.at < to), stop };
}

// ---------------------------------------------------------------------------------------------------
// Settings, checks and errors.

/** A numeric setting from the environment: positive (or zero, when allowed), else the bench stops. */
export function envNumber(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new Error(`${name} must be a positive number, got '${raw}'`);
  }
  return value;
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new BenchError(message);
}

/** An error with its causes (fetch failures keep the reason in `cause`); `stack` adds the first one's. */
export function describe(error: unknown, stack = false): string {
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

// ---------------------------------------------------------------------------------------------------
// Statistics.

/** The p-th percentile (nearest rank) of values sorted ascending; NaN when there are none. */
export function sortedPercentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const percentile = (values: number[], p: number): number =>
  sortedPercentile(
    [...values].sort((a, b) => a - b),
    p,
  );

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The mean of the values left after dropping `fraction` of them at each end (at least one, given three). */
export function trimmedMean(values: number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const drop = sorted.length >= 3 ? Math.max(1, Math.floor(sorted.length * fraction)) : 0;
  const kept = sorted.slice(drop, sorted.length - drop);
  return kept.reduce((sum, value) => sum + value, 0) / kept.length;
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): where the machine's CPU goes, for the target processes, the PostgreSQL
// backends of the bench database, Redis and the load generator. On a small machine they compete for the
// same cores, so what a target achieves also depends on what the others need.

export const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux build in practice

/** A process's CPU time (user + system) in microseconds; undefined when it is unknown or gone. */
export function processCpuMicros(pid: number | undefined): number | undefined {
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
export function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = values.reduce((a, b) => a + b, 0);
    return { busy: total - values[3]! - values[4]!, total };
  } catch {
    return undefined;
  }
}

/**
 * Other work on the machine skews every number a bench prints: measures the CPUs over a second before it
 * starts and says so when they are not idle.
 */
export async function reportMachineLoad(): Promise<void> {
  const before = machineTicks();
  await sleep(1000);
  const after = machineTicks();
  if (!before || !after) return;
  const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
  console.log(
    `Machine busy before the bench: ${Math.round(busy * 100)}%` +
      (busy > 0.15 ? ' (WARNING: something else is using the CPUs; expect noisy numbers)' : ''),
  );
}

// ---------------------------------------------------------------------------------------------------
// The API, as the benches' fixtures use it.

/** A JSON request with a bearer token; any other status than `status` stops the bench. */
export async function api<T>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
  status: number,
): Promise<T> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.status === status, `${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
