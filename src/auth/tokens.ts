import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '../infra/errors/registry.js';
import { SIGNING_ALGORITHM, type SigningKey } from './keys.js';
import type { Principal } from './principal.js';

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  jti: string;
  exp: number;
  email: string;
  name: string;
  idp: string;
  provider_id: string;
  groups: string[];
  is_admin: boolean;
  is_security_reviewer: boolean;
}

export interface TokenSubject {
  id: string;
  provider: string;
  providerId: string;
  email: string;
  name: string;
  groups: string[];
  isAdmin: boolean;
  isSecurityReviewer: boolean;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The revocation entry that stands for every access token a user was issued up to a moment (an account
 * deleted, a role taken back): recorded like a token id, it lasts as long as the longest-lived token could,
 * so the moment is its expiry less that lifetime. A later entry for the same user moves the moment on.
 */
export const everyTokenOf = (userId: string): string => `user:${userId}`;
export const LONGEST_ACCESS_TOKEN_SECONDS = 86_400;

/**
 * The revocation of every access token a user was issued up to `at` (ms), the whole second included; the
 * tokens issued afterwards say a later second (`AccessTokens.issue`).
 */
export function everyTokenIssuedUpTo(userId: string, at: number): { jti: string; userId: string; expiresAt: Date } {
  const cutoff = Math.floor(at / 1000);
  return { jti: everyTokenOf(userId), userId, expiresAt: new Date((cutoff + LONGEST_ACCESS_TOKEN_SECONDS) * 1000) };
}

/**
 * Issues and verifies access tokens. Verification is local (no database round trip): the signature,
 * expiry, and an in-memory set of revoked token ids kept in step across instances by pubsub.
 */
export class AccessTokens {
  private readonly verified = new Map<string, Principal>();
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly key: SigningKey,
    /** The issuer is the server's public base URL, known only once it listens. */
    private readonly issuerOf: () => string,
    private readonly lifetimeSeconds: number,
  ) {}

  /** The `iss` of every token this server signs; discovery documents repeat it. */
  get issuer(): string {
    return this.issuerOf();
  }

  get expiresInSeconds(): number {
    return this.lifetimeSeconds;
  }

  async issue(subject: TokenSubject): Promise<{ token: string; jti: string; expiresAt: number }> {
    const jti = randomUUID();
    // After a revocation of every token the user was issued up to this second, a new one says the next.
    const cutoff = this.revokedUpTo(subject.id);
    const now = Math.max(Math.floor(Date.now() / 1000), cutoff === undefined ? 0 : Math.floor(cutoff) + 1);
    const expiresAt = now + this.lifetimeSeconds;
    const token = await new SignJWT({
      email: subject.email,
      name: subject.name,
      idp: subject.provider,
      provider_id: subject.providerId,
      groups: subject.groups,
      is_admin: subject.isAdmin,
      is_security_reviewer: subject.isSecurityReviewer,
    })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setSubject(subject.id)
      .setJti(jti)
      .setIssuer(this.issuerOf())
      .setAudience(this.issuerOf())
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .sign(this.key.privateKey);
    return { token, jti, expiresAt };
  }

  /** Returns the principal for a valid token or throws INVALID_TOKEN. */
  async verify(token: string): Promise<Principal> {
    const nowSeconds = Date.now() / 1000;
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.tokenExpiresAt > nowSeconds && !this.isRevoked(cached.tokenId, cached.userId, cached.tokenIssuedAt)) {
        return cached;
      }
      this.verified.delete(token);
      throw new AppError('INVALID_TOKEN');
    }
    let claims: AccessTokenClaims;
    try {
      const { payload } = await jwtVerify<AccessTokenClaims>(token, this.key.publicJwk, {
        issuer: this.issuerOf(),
        audience: this.issuerOf(),
        algorithms: [SIGNING_ALGORITHM],
      });
      claims = payload;
    } catch {
      throw new AppError('INVALID_TOKEN');
    }
    if (!claims.jti || !claims.sub || this.isRevoked(claims.jti, claims.sub, claims.iat)) {
      throw new AppError('INVALID_TOKEN');
    }
    const principal: Principal = {
      userId: claims.sub,
      provider: claims.idp,
      providerId: claims.provider_id,
      email: claims.email,
      name: claims.name,
      groups: Array.isArray(claims.groups) ? claims.groups : [],
      isAdmin: claims.is_admin === true,
      isSecurityReviewer: claims.is_security_reviewer === true,
      tokenId: claims.jti,
      tokenExpiresAt: claims.exp,
      tokenIssuedAt: claims.iat,
    };
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(token, principal);
    return principal;
  }

  /** Decodes a token without failing, for introspection of tokens that may be expired. */
  async inspect(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify<AccessTokenClaims>(token, this.key.publicJwk, {
        issuer: this.issuerOf(),
        audience: this.issuerOf(),
        algorithms: [SIGNING_ALGORITHM],
      });
      return this.isRevoked(payload.jti, payload.sub ?? '', payload.iat) ? undefined : payload;
    } catch {
      return undefined;
    }
  }

  private isRevoked(jti: string, userId: string, issuedAt: number | undefined): boolean {
    if (this.revoked.has(jti)) return true;
    const cutoff = this.revokedUpTo(userId);
    return cutoff !== undefined && (issuedAt === undefined || issuedAt <= cutoff);
  }

  /** The moment (seconds) up to which every access token of the user is revoked, if one is. */
  private revokedUpTo(userId: string): number | undefined {
    const entry = this.revoked.get(everyTokenOf(userId));
    return entry === undefined ? undefined : entry - LONGEST_ACCESS_TOKEN_SECONDS;
  }

  markRevoked(jti: string, expiresAtSeconds: number): void {
    if (expiresAtSeconds * 1000 < Date.now()) return;
    this.revoked.set(jti, Math.max(this.revoked.get(jti) ?? 0, expiresAtSeconds));
    if (this.revoked.size % 1000 === 0) this.pruneRevoked();
  }

  private pruneRevoked(): void {
    const now = Date.now() / 1000;
    for (const [jti, exp] of this.revoked) if (exp < now) this.revoked.delete(jti);
  }
}
