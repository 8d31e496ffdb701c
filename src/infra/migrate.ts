// Applies pending Prisma migrations (prisma/migrations/<name>/migration.sql) with plain `pg`,
// keeping Prisma's `_prisma_migrations` bookkeeping so `prisma migrate deploy` agrees with us.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** The advisory lock key Prisma Migrate uses on PostgreSQL. */
const PRISMA_LOCK_KEY = 72707369;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"            VARCHAR(64) NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** prisma/migrations, seen from src/infra (tsx) or dist/src/infra (compiled). */
function migrationsDir(): string {
  for (const relative of ['../../prisma/migrations', '../../../prisma/migrations']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new Error('prisma/migrations directory not found');
}

async function loadMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(path.join(dir, name, 'migration.sql'));
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

export async function applyMigrations(
  databaseUrl: string,
  log: { info: (obj: object, msg?: string) => void },
): Promise<{ applied: string[] }> {
  const migrations = await loadMigrations(migrationsDir());
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_LOCK_KEY]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query<MigrationRow>(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
      );
      const live = rows.filter((r) => r.rolled_back_at === null);
      const failed = live.find((r) => r.finished_at === null);
      if (failed) {
        throw new Error(`migration ${failed.migration_name} failed previously; resolve it before applying migrations`);
      }

      const applied: string[] = [];
      for (const migration of migrations) {
        const row = live.find((r) => r.migration_name === migration.name);
        if (row) {
          if (row.checksum !== migration.checksum) {
            throw new Error(`migration ${migration.name} was modified after it was applied (checksum mismatch)`);
          }
          continue;
        }
        await applyOne(client, migration);
        applied.push(migration.name);
        log.info({ migration: migration.name }, 'applied migration');
      }
      return { applied };
    } finally {
      // Closing the session releases the lock too, so a failed unlock must not hide the real error.
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

// Prisma wraps some steps (e.g. enum changes) in their own `BEGIN;` ... `COMMIT;` lines; inside our
// per-migration transaction those would commit early, so they are dropped (the checksum stays on the file).
const OWN_TRANSACTION_LINE = /^[ \t]*(BEGIN|COMMIT)[ \t]*;[ \t]*$/gim;

async function applyOne(client: pg.Client, migration: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(migration.sql.replace(OWN_TRANSACTION_LINE, ''));
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`migration ${migration.name} failed: ${reason}`, { cause: err });
  }
}
