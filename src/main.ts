import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './infra/config.js';
import { startEmbeddedPostgres } from './infra/embedded-postgres.js';
import { createLogger } from './infra/logger.js';
import { applyMigrations } from './infra/migrate.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const stops: (() => Promise<void>)[] = [];

  let databaseUrl = config.database.url;
  if (!databaseUrl) {
    const dataDir = resolve(config.database.dataDir, 'postgres');
    log.info({ dataDir }, 'no DATABASE_URL: starting embedded PostgreSQL');
    const embedded = await startEmbeddedPostgres({ dataDir, port: config.database.embeddedPort, log });
    databaseUrl = embedded.databaseUrl;
    stops.push(embedded.stop);
  }
  const { applied } = await applyMigrations(databaseUrl, log);
  if (applied.length > 0) log.info({ applied }, 'database migrated');

  const server = await startServer(config, { log, databaseUrl });
  stops.unshift(server.close);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    for (const stop of stops) await stop().catch((error: unknown) => log.error({ err: error }, 'shutdown step failed'));
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('SIGTERM', (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
