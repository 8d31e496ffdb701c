import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AppDeps } from '../app-deps.js';
import type { Config } from '../infra/config.js';
import type { Tx } from '../infra/db.js';
import { AppError, type ErrorCode } from '../infra/errors/registry.js';
import type { User } from '../generated/prisma/client.js';
import type { Principal } from './principal.js';
import { hashSecret, randomSecret, type TokenSubject } from './tokens.js';

// The OAuth 2.0 authorization server: the built-in `tmi` test provider, PKCE authorization codes,
// rotating refresh tokens, revocation (RFC 7009) and introspection (RFC 7662). Transport-free:
// rest-compat/routes/oauth.ts turns HTTP into these calls and these results into TMI JSON.

export const TEST_PROVIDER_ID = 'tmi';
const AUTHORIZATION_CODE_SECONDS = 120;
const LOGIN_HINT = /^[a-zA-Z0-9-]{3,20}$/;
/** Serialises "is there an admin yet?" across concurrent first logins (pg advisory lock key). */
const FIRST_ADMIN_LOCK_KEY = 0x746d6901;

export interface OAuthProvider {
  id: string;
  name: string;
  icon: string;
  authUrl: string;
  tokenUrl: string;
  redirectUri: string;
  clientId: string;
}

export interface AuthorizeRequest {
  idp?: string;
  loginHint?: string;
  clientCallback?: string;
  state?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
}

export interface TokenRequest {
  grantType: string;
  code?: string;
  codeVerifier?: string;
  redirectUri?: string;
  refreshToken?: string;
}

export interface TokenSet {
  accessToken: string;
  tokenType: 'bearer';
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

export type TokenTypeHint = 'access_token' | 'refresh_token';

export type Introspection =
  | { active: false }
  | {
      active: true;
      sub: string;
      email: string;
      name: string;
      exp: number;
      iat?: number;
      iss?: string;
      tokenType: 'Bearer';
    };

export interface UserInfo {
  sub: string;
  email: string;
  name: string;
  idp: string;
  groups: string[];
}

interface Identity {
  provider: string;
  providerId: string;
  email: string;
  name: string;
}

type InvalidGrantCode = Extract<ErrorCode, 'INVALID_GRANT' | 'INVALID_REFRESH_TOKEN'>;

export class AuthService {
  constructor(private deps: AppDeps) {}

  private get prisma() {
    return this.deps.db.prisma;
  }

  private get config(): Config {
    return this.deps.config;
  }

  listProviders(baseUrl: string): OAuthProvider[] {
    if (!this.config.auth.testProviderEnabled) return [];
    return [
      {
        id: TEST_PROVIDER_ID,
        name: 'TMI Test Provider',
        icon: 'fa-solid fa-flask',
        authUrl: `${baseUrl}/oauth2/authorize?idp=${TEST_PROVIDER_ID}`,
        tokenUrl: `${baseUrl}/oauth2/token`,
        redirectUri: `${baseUrl}/oauth2/callback`,
        clientId: 'tmi-client',
      },
    ];
  }

  /** Signs the test user in and returns the client callback URL carrying a single-use code and the state. */
  async authorize(request: AuthorizeRequest): Promise<string> {
    this.assertTestProvider(request.idp);
    const clientCallback = required(request.clientCallback, 'client_callback');
    const callback = this.checkedCallback(clientCallback);
    const codeChallenge = checkedCodeChallenge(request.codeChallenge, request.codeChallengeMethod);
    const user = await this.signIn(testIdentity(request.loginHint));

    const code = randomSecret();
    await this.prisma.authorizationCode.create({
      data: {
        codeHash: hashSecret(code),
        userId: user.id,
        codeChallenge,
        codeChallengeMethod: 'S256',
        clientCallback,
        expiresAt: new Date(Date.now() + AUTHORIZATION_CODE_SECONDS * 1000),
      },
    });
    callback.searchParams.set('code', code);
    if (request.state !== undefined) callback.searchParams.set('state', request.state);
    return callback.href;
  }

  /** POST /oauth2/token. */
  async exchangeToken(request: TokenRequest): Promise<TokenSet> {
    switch (request.grantType) {
      case 'authorization_code':
        return this.redeemCode(request);
      case 'refresh_token':
        return this.rotate(required(request.refreshToken, 'refresh_token'), 'INVALID_GRANT');
      default:
        throw new AppError('UNSUPPORTED_GRANT_TYPE', `The grant type '${request.grantType}' is not supported`, {
          suggestion: 'Use authorization_code (with PKCE) or refresh_token',
        });
    }
  }

  /** POST /oauth2/refresh: the same rotation, but TMI answers a bad token with 401. */
  refresh(refreshToken: string): Promise<TokenSet> {
    return this.rotate(refreshToken, 'INVALID_REFRESH_TOKEN');
  }

  /** RFC 7009: succeeds whether or not the token was known, so callers learn nothing about other tokens. */
  async revoke(token: string, tokenTypeHint?: TokenTypeHint): Promise<void> {
    const attempts =
      tokenTypeHint === 'refresh_token'
        ? [() => this.revokeRefreshToken(token), () => this.revokeAccessToken(token)]
        : [() => this.revokeAccessToken(token), () => this.revokeRefreshToken(token)];
    for (const attempt of attempts) if (await attempt()) return;
  }

  async introspect(token: string): Promise<Introspection> {
    const claims = await this.deps.tokens.inspect(token);
    if (!claims) return { active: false };
    return {
      active: true,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      tokenType: 'Bearer',
    };
  }

  userinfo(principal: Principal): UserInfo {
    return {
      sub: principal.userId,
      email: principal.email,
      name: principal.name,
      idp: principal.provider,
      groups: principal.groups,
    };
  }

  /** Revokes the caller's access token and, when given one of theirs, that refresh token's family. */
  async logout(principal: Principal, refreshToken?: string): Promise<void> {
    await this.revokeAccessTokenId(principal.tokenId, principal.userId, principal.tokenExpiresAt);
    if (!refreshToken) return;
    const record = await this.findRefreshToken(refreshToken);
    if (record?.userId === principal.userId) await this.revokeFamily(record.familyId);
  }

  private assertTestProvider(idp: string | undefined): void {
    // TMI defaults to its test provider when no idp is named, outside production.
    const provider = idp ?? (this.config.env === 'production' ? undefined : TEST_PROVIDER_ID);
    if (provider !== TEST_PROVIDER_ID || !this.config.auth.testProviderEnabled) {
      throw new AppError('INVALID_PROVIDER', `Provider '${idp ?? ''}' is not configured or supported`, {
        suggestion: 'GET /oauth2/providers lists the configured providers',
      });
    }
  }

  private checkedCallback(value: string): URL {
    const url = URL.canParse(value) ? new URL(value) : undefined;
    const allowed =
      url !== undefined &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      (this.config.auth.clientCallbackAllowList.some((entry) => hasUrlPrefix(value, entry)) ||
        (this.config.env !== 'production' && isLoopback(url)));
    if (!allowed) {
      throw new AppError('INVALID_REQUEST', 'client_callback is not an allowed redirect target', {
        context: { client_callback: value },
        suggestion: 'Add the callback URL to TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST',
      });
    }
    return url;
  }

  /** Creates or refreshes the user and settles whether they are an administrator, in one transaction. */
  private signIn(identity: Identity): Promise<User> {
    const now = new Date();
    return this.prisma.$transaction(async (tx) => {
      const user = await tx.user.upsert({
        where: { provider_providerId: { provider: identity.provider, providerId: identity.providerId } },
        create: { ...identity, lastLoginAt: now },
        update: { email: identity.email, name: identity.name, lastLoginAt: now },
      });
      if (user.isAdmin || !(await this.becomesAdmin(tx, user))) return user;
      return tx.user.update({ where: { id: user.id }, data: { isAdmin: true } });
    });
  }

  private async becomesAdmin(tx: Tx, user: User): Promise<boolean> {
    if (matchesConfiguredAdmin(this.config.auth.admin, user)) return true;
    if (!this.config.auth.autoPromoteFirstUser) return false;
    if (await tx.user.findFirst({ where: { isAdmin: true }, select: { id: true } })) return false;
    // Checked again under the lock: two first logins racing must not both become admin.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK_KEY}::bigint)`;
    return (await tx.user.findFirst({ where: { isAdmin: true }, select: { id: true } })) === null;
  }

  private async redeemCode(request: TokenRequest): Promise<TokenSet> {
    const code = required(request.code, 'code');
    const verifier = required(request.codeVerifier, 'code_verifier');
    const codeHash = hashSecret(code);
    const now = new Date();
    // Claiming first makes the code single-use even when two exchanges race.
    const claimed = await this.prisma.authorizationCode.updateMany({
      where: { codeHash, usedAt: null },
      data: { usedAt: now },
    });
    const record = await this.prisma.authorizationCode.findUnique({ where: { codeHash }, include: { user: true } });
    if (!record) throw invalidGrant('The authorization code is invalid');
    if (claimed.count === 0) {
      // A replayed code may have been stolen: tokens issued from it are revoked (RFC 6749 §4.1.2).
      await this.revokeFamily(familyIdForCode(codeHash));
      this.deps.log.warn({ userId: record.userId }, 'authorization code replayed; its refresh tokens were revoked');
      throw invalidGrant('The authorization code has already been used');
    }
    if (record.expiresAt <= now) throw invalidGrant('The authorization code has expired');
    if (request.redirectUri !== undefined && request.redirectUri !== record.clientCallback) {
      throw invalidGrant('redirect_uri does not match the client_callback of the authorization request');
    }
    if (!pkceVerifierMatches(verifier, record.codeChallenge)) {
      throw invalidGrant('code_verifier does not match the code_challenge');
    }
    return this.issueTokens(record.user, familyIdForCode(codeHash));
  }

  /** Refresh token rotation: each token works once; presenting a used one revokes its whole family. */
  private async rotate(refreshToken: string, invalid: InvalidGrantCode): Promise<TokenSet> {
    const now = new Date();
    const record = await this.prisma.refreshToken.findUnique({
      where: { tokenHash: hashSecret(refreshToken) },
      include: { user: true },
    });
    if (!record) throw new AppError(invalid, 'The refresh token is not valid');
    if (record.expiresAt <= now) throw new AppError(invalid, 'The refresh token has expired');
    const claimed =
      record.rotatedAt === null && record.revokedAt === null
        ? await this.prisma.refreshToken.updateMany({
            where: { id: record.id, rotatedAt: null, revokedAt: null },
            data: { rotatedAt: now },
          })
        : { count: 0 };
    if (claimed.count === 0) {
      await this.revokeFamily(record.familyId);
      this.deps.log.warn({ userId: record.userId, familyId: record.familyId }, 'refresh token reused; family revoked');
      throw new AppError(invalid, 'The refresh token has already been used or was revoked');
    }
    return this.issueTokens(record.user, record.familyId);
  }

  private async issueTokens(user: User, familyId: string): Promise<TokenSet> {
    const access = await this.deps.tokens.issue(tokenSubject(user));
    const refreshToken = randomSecret();
    const refreshSeconds = this.config.auth.refreshTokenDays * 86_400;
    await this.prisma.refreshToken.create({
      data: {
        tokenHash: hashSecret(refreshToken),
        familyId,
        userId: user.id,
        expiresAt: new Date(Date.now() + refreshSeconds * 1000),
      },
    });
    return {
      accessToken: access.token,
      tokenType: 'bearer',
      expiresIn: this.deps.tokens.expiresInSeconds,
      refreshToken,
      refreshExpiresIn: refreshSeconds,
    };
  }

  private async revokeAccessToken(token: string): Promise<boolean> {
    const claims = await this.deps.tokens.inspect(token);
    if (!claims) return false;
    await this.revokeAccessTokenId(claims.jti, claims.sub, claims.exp);
    return true;
  }

  /** Persisted for instances that start later; published so running instances stop accepting it now. */
  private async revokeAccessTokenId(jti: string, userId: string, expiresAtSeconds: number): Promise<void> {
    const expiresAt = new Date(expiresAtSeconds * 1000);
    await this.prisma.revokedAccessToken.createMany({ data: [{ jti, userId, expiresAt }], skipDuplicates: true });
    this.deps.tokens.markRevoked(jti, expiresAtSeconds);
    await this.deps.pubsub.publish('auth.token_revoked', 'all', { jti, expiresAt: expiresAt.toISOString() });
  }

  private async revokeRefreshToken(token: string): Promise<boolean> {
    const record = await this.findRefreshToken(token);
    if (!record) return false;
    await this.revokeFamily(record.familyId);
    return true;
  }

  private findRefreshToken(token: string) {
    return this.prisma.refreshToken.findUnique({
      where: { tokenHash: hashSecret(token) },
      select: { familyId: true, userId: true },
    });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.prisma.refreshToken.updateMany({
      where: { familyId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
  }
}

/**
 * Loads the revoked, not yet expired access-token ids into this instance and keeps it in step with the
 * others. Subscribes before loading so a revocation published meanwhile is not missed.
 */
export async function startRevocationSync(deps: AppDeps): Promise<() => void> {
  const stop = await deps.pubsub.listen('auth.token_revoked', 'all', ({ jti, expiresAt }) =>
    deps.tokens.markRevoked(jti, Date.parse(expiresAt) / 1000),
  );
  try {
    const revoked = await deps.db.prisma.revokedAccessToken.findMany({
      where: { expiresAt: { gt: new Date() } },
      select: { jti: true, expiresAt: true },
    });
    for (const { jti, expiresAt } of revoked) deps.tokens.markRevoked(jti, expiresAt.getTime() / 1000);
  } catch (error) {
    stop();
    throw error;
  }
  return stop;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') {
    throw new AppError('INVALID_REQUEST', `The '${name}' parameter is required`);
  }
  return value;
}

function invalidGrant(message: string): AppError {
  return new AppError('INVALID_GRANT', message);
}

function checkedCodeChallenge(challenge: string | undefined, method: string | undefined): string {
  const value = required(challenge, 'code_challenge');
  if (method !== 'S256') {
    throw new AppError('INVALID_REQUEST', "code_challenge_method must be 'S256'", {
      context: { code_challenge_method: method ?? null },
      suggestion: 'Send code_challenge = BASE64URL(SHA256(code_verifier)) and code_challenge_method=S256',
    });
  }
  return value;
}

function testIdentity(loginHint: string | undefined): Identity {
  if (loginHint !== undefined && !LOGIN_HINT.test(loginHint)) {
    throw new AppError('INVALID_REQUEST', 'login_hint must be 3-20 characters: letters, digits and hyphens', {
      context: { login_hint: loginHint },
    });
  }
  // Lower-cased so that "Alice" and "alice" are one person, as their e-mail addresses are.
  const name = loginHint?.toLowerCase() ?? `user-${randomBytes(4).toString('hex')}`;
  return { provider: TEST_PROVIDER_ID, providerId: name, email: `${name}@tmi.local`, name: `${name} (TMI test user)` };
}

function matchesConfiguredAdmin(admin: Config['auth']['admin'], user: User): boolean {
  const providerMatches = admin.provider === user.provider;
  if (providerMatches && admin.providerId !== undefined && admin.providerId === user.providerId) return true;
  return (
    admin.email !== undefined &&
    admin.email.toLowerCase() === user.email.toLowerCase() &&
    (admin.provider === undefined || providerMatches)
  );
}

/** Prefix match that stops at a URL boundary, so `https://app.example` does not admit `https://app.example.evil`. */
function hasUrlPrefix(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix)) return false;
  const next = value.charAt(prefix.length);
  return next === '' || /[/?#]$/.test(prefix) || '/?#'.includes(next);
}

function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function pkceVerifierMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * The refresh-token family of the tokens issued for an authorization code, derived from the code's
 * hash (as a UUIDv8) so a replayed code can revoke them without storing the link.
 */
function familyIdForCode(codeHash: string): string {
  const hex = createHash('sha256').update(`family:${codeHash}`).digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function tokenSubject(user: User): TokenSubject {
  return {
    id: user.id,
    provider: user.provider,
    providerId: user.providerId,
    email: user.email,
    name: user.name,
    groups: user.groups,
    isAdmin: user.isAdmin,
    isSecurityReviewer: user.isSecurityReviewer,
  };
}
