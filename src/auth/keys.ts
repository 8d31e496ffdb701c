import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importPKCS8, type JWK } from 'jose';
import type { PrismaClient } from '../infra/db.js';

export const SIGNING_ALGORITHM = 'RS256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function fromPrivateJwk(kid: string, jwk: JWK): Promise<SigningKey> {
  const { importJWK } = await import('jose');
  const privateKey = (await importJWK(jwk, SIGNING_ALGORITHM)) as CryptoKey;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
  return { kid, privateKey, publicJwk: { ...publicPart, kid, alg: SIGNING_ALGORITHM, use: 'sig' } };
}

/**
 * The server's token-signing key: from configuration (PKCS#8 PEM) when given; otherwise generated once
 * and kept in the database, so every instance sharing the database signs with the same key.
 */
export async function loadSigningKey(prisma: PrismaClient, configuredPem: string | undefined): Promise<SigningKey> {
  if (configuredPem) {
    const privateKey = await importPKCS8(configuredPem.replace(/\\n/g, '\n'), SIGNING_ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const { createHash } = await import('node:crypto');
    const kid = createHash('sha256').update(String(jwk.n)).digest('base64url').slice(0, 16);
    return fromPrivateJwk(kid, jwk);
  }
  const existing = await prisma.signingKey.findFirst({ orderBy: { createdAt: 'asc' } });
  if (existing) return fromPrivateJwk(existing.kid, existing.privateJwk as JWK);

  const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  await prisma.$executeRaw`INSERT INTO signing_keys (kid, algorithm, private_jwk) VALUES (${randomUUID()}, ${SIGNING_ALGORITHM}, ${JSON.stringify(jwk)}::jsonb) ON CONFLICT DO NOTHING`;
  // Another instance may have won the race: everyone uses the oldest key.
  const stored = await prisma.signingKey.findFirstOrThrow({ orderBy: { createdAt: 'asc' } });
  return fromPrivateJwk(stored.kid, stored.privateJwk as JWK);
}
