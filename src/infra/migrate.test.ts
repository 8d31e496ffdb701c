import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations } from './migrate.js';

const SERVER = 'postgresql://postgres@127.0.0.1:5432';
const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
const expected = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort()
  .map((name) => ({
    name,
    checksum: createHash('sha256')
      .update(readFileSync(`${migrationsDir}/${name}/migration.sql`))
      .digest('hex'),
  }));
const silent = { info: () => {} };
const created: string[] = [];

async function admin<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ connectionString: `${SERVER}/${database}` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function freshDatabase(): Promise<string> {
  const name = `tmi_helper_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  created.push(name);
  return name;
}

async function migrationRows(database: string) {
  return admin(async (c) => {
    const { rows } = await c.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
    );
    return rows;
  }, database);
}

afterAll(async () => {
  await admin(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
});

describe('applyMigrations', () => {
  it('has at least one migration to test with', () => {
    expect(expected.length).toBeGreaterThan(0);
  });

  it('applies all migrations once, records Prisma checksums and is idempotent', async () => {
    const db = await freshDatabase();
    const url = `${SERVER}/${db}`;

    const first = await applyMigrations(url, silent);
    expect(first.applied).toEqual(expected.map((m) => m.name));

    const tables = await admin(async (c) => {
      const { rows } = await c.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      return rows.map((r) => r.table_name);
    }, db);
    expect(tables).toEqual(expect.arrayContaining(['users', 'threat_models', '_prisma_migrations']));

    const rows = await migrationRows(db);
    expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(expected);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);

    const second = await applyMigrations(url, silent);
    expect(second.applied).toEqual([]);
    expect(await migrationRows(db)).toHaveLength(expected.length);
  });

  it('refuses to run after a checksum mismatch or a failed migration', async () => {
    const db = await freshDatabase();
    const url = `${SERVER}/${db}`;
    await applyMigrations(url, silent);
    const name = expected[0]!.name;

    await admin((c) => c.query(`UPDATE "_prisma_migrations" SET checksum = 'x' WHERE migration_name = $1`, [name]), db);
    await expect(applyMigrations(url, silent)).rejects.toThrow(name);

    await admin(
      (c) =>
        c.query(`UPDATE "_prisma_migrations" SET checksum = $2, finished_at = NULL WHERE migration_name = $1`, [
          name,
          expected[0]!.checksum,
        ]),
      db,
    );
    await expect(applyMigrations(url, silent)).rejects.toThrow(name);
  });

  it('serialises concurrent runs with the advisory lock', async () => {
    const db = await freshDatabase();
    const url = `${SERVER}/${db}`;

    const results = await Promise.all([applyMigrations(url, silent), applyMigrations(url, silent)]);
    const applied = results.flatMap((r) => r.applied).sort();
    expect(applied).toEqual(expected.map((m) => m.name));

    const rows = await migrationRows(db);
    expect(rows.map((r) => r.migration_name)).toEqual(expected.map((m) => m.name));
  });
});
