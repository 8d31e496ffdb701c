import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, it, expect } from 'vitest';
import { startEmbeddedPostgres } from './embedded-postgres.js';

const TIMEOUT = 60_000;
const log = { info: (): void => {} };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Temp folder whose data dir the `postgres` OS user can reach when we run as root (mkdtemp is 0700). */
async function tempDataDir(): Promise<{ dataDir: string; cleanup: () => Promise<void> }> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'tmi-pg-test-'));
  await fs.chmod(base, 0o755);
  return { dataDir: path.join(base, 'postgres'), cleanup: () => fs.rm(base, { recursive: true, force: true }) };
}

async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('keeps data across a stop/start', { timeout: TIMEOUT }, async () => {
    const { dataDir, cleanup } = await tempDataDir();
    const port = await freePort();
    try {
      const first = await startEmbeddedPostgres({ dataDir, port, log });
      expect(first.databaseUrl).toBe(`postgresql://postgres:tmi-local@127.0.0.1:${port}/tmi`);
      await withClient(first.databaseUrl, async (c) => {
        await c.query('CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)');
        await c.query('INSERT INTO note VALUES (1, $1)', ['héllo ✓']);
      });
      await first.stop();
      await first.stop(); // idempotent

      const second = await startEmbeddedPostgres({ dataDir, port, log });
      try {
        const rows = await withClient(
          second.databaseUrl,
          async (c) => (await c.query('SELECT id, body FROM note')).rows,
        );
        expect(rows).toEqual([{ id: 1, body: 'héllo ✓' }]);
      } finally {
        await second.stop();
      }
    } finally {
      await cleanup();
    }
  });

  // Leftover-postmaster handling inspects /proc, so it is Linux-only.
  it.runIf(process.platform === 'linux')(
    'starts despite a stale postmaster.pid left by a crashed run',
    { timeout: TIMEOUT },
    async () => {
      const { dataDir, cleanup } = await tempDataDir();
      const port = await freePort();
      const pidFile = path.join(dataDir, 'postmaster.pid');
      try {
        const first = await startEmbeddedPostgres({ dataDir, port, log });
        const pidFileContent = await fs.readFile(pidFile, 'utf8');
        await first.stop();
        await expect(fs.access(pidFile)).rejects.toThrow();

        // A dead pid, and a pid reused by a live unrelated process of the OS user postgres runs
        // as (postgres itself would take that for a running postmaster and refuse to start).
        const deadPid = spawnSync('true').pid;
        const { uid, gid } = await fs.stat(dataDir);
        const unrelated = spawn('sleep', ['60'], { uid, gid, stdio: 'ignore' });
        try {
          for (const stalePid of [deadPid, unrelated.pid]) {
            await fs.writeFile(pidFile, pidFileContent.replace(/^\d+/, String(stalePid)));
            const again = await startEmbeddedPostgres({ dataDir, port, log });
            try {
              const rows = await withClient(again.databaseUrl, async (c) => (await c.query('SELECT 1 AS ok')).rows);
              expect(rows).toEqual([{ ok: 1 }]);
            } finally {
              await again.stop();
            }
          }
        } finally {
          unrelated.kill();
        }
      } finally {
        await cleanup();
      }
    },
  );

  it.runIf(process.platform === 'linux')(
    'shuts down a postmaster orphaned by a killed server process, then starts',
    { timeout: TIMEOUT },
    async () => {
      const { dataDir, cleanup } = await tempDataDir();
      const port = await freePort();
      try {
        // A separate node process starts postgres and is then SIGKILLed, leaving postgres running.
        const script = `const { startEmbeddedPostgres } = await import(${JSON.stringify(new URL('./embedded-postgres.ts', import.meta.url).href)});
        await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, log: { info() {} } });
        process.kill(process.pid, 'SIGKILL');`;
        const crashed = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          encoding: 'utf8',
        });
        expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
        const orphanPid = Number.parseInt(await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8'), 10);
        expect(() => process.kill(orphanPid, 0)).not.toThrow();

        const again = await startEmbeddedPostgres({ dataDir, port, log });
        try {
          await expect(fs.readlink(`/proc/${orphanPid}/cwd`)).rejects.toThrow(); // gone (or an unreaped zombie)
          const rows = await withClient(again.databaseUrl, async (c) => (await c.query('SELECT 1 AS ok')).rows);
          expect(rows).toEqual([{ ok: 1 }]);
        } finally {
          await again.stop();
        }
      } finally {
        await cleanup();
      }
    },
  );
});
