import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { AppDeps } from '../../src/app-deps.js';
import { loadConfig } from '../../src/infra/config.js';
import { createLogger } from '../../src/infra/logger.js';
import { startServer } from '../../src/server.js';

export interface TestServer {
  baseUrl: string;
  databaseUrl: string;
  pubsubPrefix: string;
  deps: AppDeps;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A fresh database cloned from the migrated template: every test server group is its own tenant. */
export async function createTestDatabase(): Promise<string> {
  const templateUrl = inject('templateDatabaseUrl');
  const template = new URL(templateUrl).pathname.slice(1);
  const name = `${inject('databasePrefix')}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: withDatabase(templateUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await client.end();
  }
  return withDatabase(templateUrl, name);
}

export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Starts the real server on a random loopback port with its own database and pubsub namespace.
 * `shareDatabaseWith` starts a second instance of the same deployment (same database and Redis
 * namespace), as two instances behind a load balancer.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { shareDatabaseWith?: TestServer; withoutRedis?: boolean } = {},
): Promise<TestServer> {
  const shared = options.shareDatabaseWith;
  const databaseUrl = shared?.databaseUrl ?? (await createTestDatabase());
  const pubsubPrefix = shared?.pubsubPrefix ?? `tmi-test-${randomBytes(6).toString('hex')}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    ...(options.withoutRedis ? {} : { REDIS_URL: inject('redisUrl') }),
    TMI_PUBSUB_PREFIX: pubsubPrefix,
    // Instances of one deployment share their public address (the load balancer's), hence the issuer.
    ...(shared ? { TMI_PUBLIC_BASE_URL: shared.deps.baseUrl() } : {}),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const server = await startServer(config, { log: createLogger(config.logLevel) });
  return {
    baseUrl: server.url,
    databaseUrl,
    pubsubPrefix,
    deps: server.deps,
    async close() {
      await server.close();
      if (!shared) await dropTestDatabase(databaseUrl);
    },
  };
}
