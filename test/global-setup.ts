import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { applyMigrations } from '../src/infra/migrate.js';

// Tests run against a real PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, else the local
// default ports. Locally, a missing PostgreSQL is replaced by the embedded one; in CI a missing
// service fails the run instead of skipping anything.

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
    databasePrefix: string;
    redisUrl: string;
  }
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export default async function setup(project: TestProject) {
  const ci = process.env.CI === 'true';
  const cleanups: (() => Promise<void>)[] = [];

  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    if (await reachable('127.0.0.1', 5432)) serverUrl = 'postgresql://postgres@127.0.0.1:5432/postgres';
    else if (ci) throw new Error('CI: PostgreSQL is required (set DATABASE_URL or run it on 127.0.0.1:5432)');
    else {
      const dataDir = mkdtempSync(join(tmpdir(), 'tmi-test-pg-'));
      const embedded = await startEmbeddedPostgres({
        dataDir: join(dataDir, 'data'),
        port: 54400 + (process.pid % 500),
        log: { info: () => undefined },
      });
      serverUrl = embedded.databaseUrl;
      cleanups.push(async () => {
        await embedded.stop();
        rmSync(dataDir, { recursive: true, force: true });
      });
    }
  }

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisHost = new URL(redisUrl);
  if (!(await reachable(redisHost.hostname, Number(redisHost.port || 6379)))) {
    throw new Error(`Redis is required for the tests and does not answer at ${redisUrl}`);
  }

  const template = `tmi_test_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  const templateUrl = withDatabase(serverUrl, template);
  await applyMigrations(templateUrl, { info: () => undefined });

  project.provide('templateDatabaseUrl', templateUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('databasePrefix', `tmi_t_${process.pid}`);

  return async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
      [`tmi_t_${process.pid}_%`, template],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await client.end();
    for (const cleanup of cleanups) await cleanup();
  };
}
