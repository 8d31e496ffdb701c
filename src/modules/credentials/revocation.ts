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
  if (live.length > 0) await tx.revokedAccessToken.createMany({ data: live, skipDuplicates: true });
  return live;
}

/** This instance refuses the tokens at once; the others through pubsub (`startRevocationSync`). */
export async function announceRevocations(ctx: ServiceContext, tokens: IssuedToken[]): Promise<void> {
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
