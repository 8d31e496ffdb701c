import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';

/** An access token to refuse from now on. */
export interface IssuedToken {
  jti: string;
  userId: string;
  expiresAt: Date;
}

/**
 * Records revocations inside the caller's transaction (instances that start later load them);
 * `announceRevocations` then tells the running ones, once that transaction has committed.
 */
export async function recordRevocations(tx: Tx, tokens: IssuedToken[], now: Date): Promise<IssuedToken[]> {
  const live = tokens.filter((token) => token.expiresAt > now);
  if (live.length === 0) return live;
  // A user's every-token entry recorded again moves on to the later moment.
  await tx.$executeRaw`
    INSERT INTO revoked_access_tokens (jti, user_id, expires_at)
    SELECT DISTINCT ON (t.jti) t.jti, t."userId", t."expiresAt"
    FROM jsonb_to_recordset(${JSON.stringify(live)}::jsonb) AS t(jti text, "userId" uuid, "expiresAt" timestamptz)
    ORDER BY t.jti, t."expiresAt" DESC
    ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_access_tokens.expires_at, EXCLUDED.expires_at)`;
  return live;
}

/** This instance refuses the tokens at once; the others through pubsub (`startRevocationSync`). */
export async function announceRevocations(
  ctx: Pick<ServiceContext, 'revocations' | 'pubsub'>,
  tokens: IssuedToken[],
): Promise<void> {
  for (const token of tokens) ctx.revocations.markRevoked(token.jti, token.expiresAt.getTime() / 1000);
  await Promise.all(
    tokens.map((token) =>
      ctx.pubsub.publish('auth.token_revoked', 'all', { jti: token.jti, expiresAt: token.expiresAt.toISOString() }),
    ),
  );
}

/** The unexpired access tokens issued through a user's client credentials (or one of them). */
export async function credentialTokens(
  tx: Tx,
  where: { ownerId: string; credentialId?: string },
): Promise<IssuedToken[]> {
  const rows = await tx.clientCredentialToken.findMany({
    where: {
      credential: { ownerId: where.ownerId, ...(where.credentialId ? { id: where.credentialId } : {}) },
    },
    select: { jti: true, expiresAt: true },
  });
  return rows.map((row) => ({ jti: row.jti, userId: where.ownerId, expiresAt: row.expiresAt }));
}
