import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpiredCredentials, purgeExpiredCredentialsHandler } from '../src/modules/auth-maintenance/jobs.js';
import { createLogger } from '../src/infra/logger.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn } from './helpers/users.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

async function queuedJobs(): Promise<number> {
  const rows = await server.deps.db.prisma.$queryRawUnsafe<{ count: bigint }[]>(
    `SELECT count(*) AS count FROM pgboss.job WHERE name = $1`,
    purgeExpiredCredentials.name,
  );
  return Number(rows[0]?.count ?? 0);
}

describe('jobs', () => {
  it('are enqueued inside the caller’s transaction: a rollback leaves no job', async () => {
    const { prisma } = server.deps.db;
    const before = await queuedJobs();
    await expect(
      prisma.$transaction(async (tx) => {
        await server.deps.jobs.enqueue(tx, purgeExpiredCredentials, {});
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await queuedJobs()).toBe(before);

    await prisma.$transaction(async (tx) => {
      await server.deps.jobs.enqueue(tx, purgeExpiredCredentials, {});
    });
    expect(await queuedJobs()).toBe(before + 1);
  });

  it('the purge handler deletes expired credentials and keeps live ones', async () => {
    const user = await signIn(server, 'purge-user');
    const { prisma } = server.deps.db;
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 3_600_000);
    await prisma.refreshToken.createMany({
      data: [
        { tokenHash: 'expired-hash', familyId: crypto.randomUUID(), userId: user.id, expiresAt: past },
        { tokenHash: 'live-hash', familyId: crypto.randomUUID(), userId: user.id, expiresAt: future },
      ],
    });
    const { handler } = purgeExpiredCredentialsHandler(server.deps.db);
    await handler({}, { jobId: 'test', log: createLogger('silent') });
    const left = await prisma.refreshToken.findMany({ where: { userId: user.id }, select: { tokenHash: true } });
    expect(left.map((row) => row.tokenHash)).toEqual(['live-hash']);
  });
});
