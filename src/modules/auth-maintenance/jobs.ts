import { z } from 'zod';
import type { Database } from '../../infra/db.js';
import { defineJob, registerJob } from '../../infra/jobs.js';

/** Hourly clean-up of expired authorization codes, refresh tokens, revocation records and client credentials' token records. */
export const purgeExpiredCredentials = defineJob({
  name: 'auth.purge_expired',
  schema: z.object({}).passthrough(),
  retryLimit: 3,
  retryDelaySeconds: 30,
  retryBackoff: true,
  expireInSeconds: 300,
  schedule: '17 * * * *',
});

export function purgeExpiredCredentialsHandler(db: Database) {
  return registerJob(purgeExpiredCredentials, async (_payload, { log }) => {
    const now = new Date();
    const [codes, refreshTokens, revoked, credentialTokens] = await Promise.all([
      db.prisma.authorizationCode.deleteMany({ where: { expiresAt: { lt: now } } }),
      db.prisma.refreshToken.deleteMany({ where: { expiresAt: { lt: now } } }),
      db.prisma.revokedAccessToken.deleteMany({ where: { expiresAt: { lt: now } } }),
      db.prisma.clientCredentialToken.deleteMany({ where: { expiresAt: { lt: now } } }),
    ]);
    log.info(
      {
        codes: codes.count,
        refreshTokens: refreshTokens.count,
        revoked: revoked.count,
        credentialTokens: credentialTokens.count,
      },
      'purged expired credentials',
    );
  });
}
