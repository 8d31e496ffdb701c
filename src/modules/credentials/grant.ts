import { timingSafeEqual } from 'node:crypto';
import type { AccessTokens } from '../../auth/tokens.js';
import { hashSecret } from '../../auth/tokens.js';
import type { Database } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import type { Logger } from '../../infra/logger.js';

// The client_credentials grant (RFC 6749 §4.4): a credential's client id and secret become an access
// token acting as the credential's owner, with their permissions but never an administrator's (as TMI
// does: administration needs an interactive sign-in). No refresh token: the client authenticates again.
// Every token issued is recorded against its credential, so deleting the credential revokes it.

export interface IssuedClientToken {
  accessToken: string;
  expiresIn: number;
}

export async function exchangeClientCredentials(
  deps: { db: Database; tokens: AccessTokens; log: Logger },
  clientId: string,
  clientSecret: string,
): Promise<IssuedClientToken> {
  const prisma = deps.db.prisma;
  const credential = await prisma.clientCredential.findUnique({ where: { clientId }, include: { owner: true } });
  // The same answer for every failure, so callers learn nothing about which client ids exist.
  const refuse = (reason: string) => {
    deps.log.warn({ clientId, reason }, 'client credentials refused');
    return new AppError('INVALID_CLIENT');
  };
  if (!credential || !secretMatches(clientSecret, credential.secretHash))
    throw refuse('unknown client or wrong secret');
  if (!credential.isActive) throw refuse('inactive');
  if (credential.expiresAt && credential.expiresAt <= new Date()) throw refuse('expired');

  const { owner } = credential;
  const access = await deps.tokens.issue({ ...owner, isAdmin: false });
  // Recorded only while the credential still exists: a deletion running meanwhile holds its row, and
  // this statement then finds nothing to record the token against.
  const recorded = await prisma.$executeRaw`
    WITH used AS (
      UPDATE client_credentials SET last_used_at = now()
      WHERE id = ${credential.id}::uuid AND is_active
      RETURNING id
    )
    INSERT INTO client_credential_tokens (jti, credential_id, expires_at)
    SELECT ${access.jti}, id, ${new Date(access.expiresAt * 1000)} FROM used`;
  if (recorded === 0) throw refuse('deleted meanwhile');
  deps.log.info({ clientId, credentialId: credential.id, userId: owner.id }, 'client credentials token issued');
  return { accessToken: access.token, expiresIn: deps.tokens.expiresInSeconds };
}

function secretMatches(secret: string, storedHash: string): boolean {
  const computed = Buffer.from(hashSecret(secret));
  const expected = Buffer.from(storedHash);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
