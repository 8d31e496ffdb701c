import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AppDeps } from '../app-deps.js';
import type { Config } from '../infra/config.js';
import type { Tx } from '../infra/db.js';
import { AppError, type ErrorCode } from '../infra/errors/registry.js';
import type { User } from '../generated/prisma/client.js';
import { exchangeClientCredentials } from '../modules/credentials/grant.js';
import { announceRevocations, type IssuedToken, recordRevocations } from '../modules/credentials/revocation.js';
import { isConfiguredAdministrator } from './administrators.js';
import { createIdentityProvider, ProviderLoginError, type IdentityProvider } from './identity-providers.js';
import { pendingLoginStore, type PendingLogin, type PendingLoginStore } from './login-state.js';
import type { Principal } from './principal.js';
import { everyTokenIssuedUpTo, hashSecret, randomSecret, type TokenSubject } from './tokens.js';

// The OAuth 2.0 authorization server: the built-in `tmi` test provider and the configured identity
// providers (OIDC, GitHub) whose logins it mediates, PKCE authorization codes or tokens in the callback's
// fragment, rotating refresh tokens, revocation (RFC 7009) and introspection (RFC 7662). Transport-free:
// rest-compat/routes/oauth.ts turns HTTP into these calls and these results into TMI JSON.

export const TEST_PROVIDER_ID = 'tmi';
const AUTHORIZATION_CODE_SECONDS = 120;
/** How long a user may take at the identity provider before its callback is refused. */
const PROVIDER_LOGIN_SECONDS = 600;
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
  /** `code` (a code for POST /oauth2/token) or `token` (tokens in the callback's fragment); else configured. */
  responseType?: string;
}

export interface TokenRequest {
  grantType: string;
  code?: string;
  codeVerifier?: string;
  redirectUri?: string;
  refreshToken?: string;
  clientId?: string;
  clientSecret?: string;
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
  emailVerified: boolean;
  groups: string[];
}

/** What the client asked /oauth2/authorize for: where and how the login's result goes back to it. */
type ClientRequest = Pick<PendingLogin, 'clientCallback' | 'clientState' | 'codeChallenge' | 'delivery'>;

/** A login's result: where to send the browser, or (legacy mode) the tokens to answer it with. */
export type LoginResult = { redirect: string } | { tokens: TokenSet };

type InvalidGrantCode = Extract<ErrorCode, 'INVALID_GRANT' | 'INVALID_REFRESH_TOKEN'>;

export class AuthService {
  private readonly providers: Map<string, IdentityProvider>;
  private readonly pendingLogins: PendingLoginStore;

  constructor(private deps: AppDeps) {
    this.providers = new Map(
      deps.config.auth.identity.providers.map((provider) => [provider.id, createIdentityProvider(provider)]),
    );
    this.pendingLogins = pendingLoginStore(deps.redis, deps.config.redis.prefix);
    if (this.providers.size > 0) {
      deps.log.info({ providers: [...this.providers.keys()] }, 'identity providers configured');
    }
  }

  private get prisma() {
    return this.deps.db.prisma;
  }

  private get config(): Config {
    return this.deps.config;
  }

  listProviders(baseUrl: string): OAuthProvider[] {
    const redirectUri = this.providerCallbackUrl(baseUrl);
    const configured = [...this.providers.values()].map((provider) => ({
      id: provider.id,
      name: provider.name,
      icon: provider.icon,
      authUrl: `${baseUrl}/oauth2/authorize?idp=${encodeURIComponent(provider.id)}`,
      tokenUrl: `${baseUrl}/oauth2/token`,
      redirectUri,
      clientId: provider.clientId,
    }));
    if (!this.config.auth.testProviderEnabled) return configured;
    return [
      ...configured,
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

  /**
   * GET /oauth2/authorize. The test provider signs its user in at once and returns the client callback
   * carrying the result; a configured provider gets the browser, with the server's own PKCE challenge,
   * state and nonce (kept server-side until its callback), and the returned URL points there.
   */
  async authorize(request: AuthorizeRequest): Promise<string> {
    const provider = request.idp === undefined ? undefined : this.providers.get(request.idp);
    if (!provider) this.assertTestProvider(request.idp);
    const clientCallback = request.clientCallback ?? null;
    if (clientCallback !== null) this.checkedCallback(clientCallback);
    const delivery = this.checkedDelivery(request.responseType);
    const client: ClientRequest = {
      clientCallback,
      clientState: request.state,
      codeChallenge: checkedCodeChallenge(request.codeChallenge, request.codeChallengeMethod),
      // Without a client callback (TMI's legacy mode), the server's callback answers the tokens as JSON.
      delivery: clientCallback === null ? 'json' : delivery,
    };
    if (client.delivery === 'fragment' && !client.clientState) {
      // Tokens in the fragment skip the client's PKCE check: its state check is what refuses a foreign login.
      throw new AppError('INVALID_REQUEST', 'state is required when the tokens are delivered in the URL fragment', {
        suggestion: 'Send a random state and compare it with the one the callback receives',
      });
    }
    if (!provider && client.delivery === 'json') {
      // The test provider signs in at once; in legacy mode the browser still goes to the server's callback.
      testIdentity(request.loginHint);
      const state = randomSecret();
      const redirectUri = this.providerCallbackUrl(this.deps.baseUrl());
      await this.pendingLogins.put(
        state,
        {
          ...client,
          providerId: TEST_PROVIDER_ID,
          codeVerifier: '',
          nonce: '',
          redirectUri,
          loginHint: request.loginHint,
        },
        PROVIDER_LOGIN_SECONDS,
      );
      const location = new URL(redirectUri);
      location.searchParams.set('state', state);
      return location.href;
    }
    if (!provider) return redirectOf(await this.deliver(await this.signIn(testIdentity(request.loginHint)), client));

    const state = randomSecret();
    const login: PendingLogin = {
      ...client,
      providerId: provider.id,
      codeVerifier: randomSecret(48),
      nonce: randomSecret(),
      redirectUri: this.providerCallbackUrl(this.deps.baseUrl()),
    };
    let location: URL;
    try {
      location = await provider.authorizationUrl({
        redirectUri: login.redirectUri,
        state,
        nonce: login.nonce,
        codeChallenge: pkceChallenge(login.codeVerifier),
        loginHint: request.loginHint,
      });
    } catch (error) {
      this.deps.log.warn({ err: error, provider: provider.id }, 'identity provider unavailable');
      throw new AppError('SERVICE_UNAVAILABLE', `The identity provider '${provider.id}' is not reachable`, {
        retryAfterSeconds: 30,
      });
    }
    await this.pendingLogins.put(state, login, PROVIDER_LOGIN_SECONDS);
    return location.href;
  }

  /**
   * GET /oauth2/callback, where a configured provider sends the browser back. Returns the client
   * callback carrying the login's result, or an `error` when the provider refused or could not be
   * verified. An unknown, expired or already used state is the caller's error: there is no callback to
   * send it to.
   */
  async completeLogin(query: URLSearchParams): Promise<LoginResult> {
    const state = query.get('state');
    const login = state ? await this.pendingLogins.take(state) : undefined;
    if (!state || !login) {
      throw new AppError('INVALID_REQUEST', 'The state parameter is unknown, expired or was already used', {
        suggestion: 'Start the login again at /oauth2/authorize',
      });
    }
    if (login.providerId === TEST_PROVIDER_ID && login.delivery === 'json') {
      return this.deliver(await this.signIn(testIdentity(login.loginHint)), login);
    }
    const provider = this.providers.get(login.providerId);
    if (!provider) return failed(login, 'server_error', 'Unknown provider');
    const callbackUrl = new URL(login.redirectUri);
    for (const [name, value] of query) callbackUrl.searchParams.append(name, value);
    let identity: Identity;
    try {
      const claims = await provider.complete(callbackUrl, {
        state,
        nonce: login.nonce,
        codeVerifier: login.codeVerifier,
      });
      identity = { provider: provider.id, ...claims };
    } catch (error) {
      if (!(error instanceof ProviderLoginError)) throw error;
      this.deps.log.warn(
        { err: error.cause ?? error, provider: provider.id },
        `provider login failed: ${error.message}`,
      );
      return failed(login, error.error, error.description);
    }
    return this.deliver(await this.signIn(identity), login);
  }

  /** POST /oauth2/token. */
  async exchangeToken(request: TokenRequest): Promise<TokenSet> {
    switch (request.grantType) {
      case 'authorization_code':
        return this.redeemCode(request);
      case 'refresh_token':
        return this.rotate(required(request.refreshToken, 'refresh_token'), 'INVALID_GRANT');
      case 'client_credentials':
        return this.clientCredentials(request);
      default:
        throw new AppError('UNSUPPORTED_GRANT_TYPE', `The grant type '${request.grantType}' is not supported`, {
          suggestion: 'Use authorization_code (with PKCE), refresh_token or client_credentials',
        });
    }
  }

  /** RFC 6749 §4.4 (src/modules/credentials/grant.ts): no refresh token, the client authenticates again. */
  private async clientCredentials(request: TokenRequest): Promise<TokenSet> {
    const clientId = required(request.clientId, 'client_id');
    const clientSecret = required(request.clientSecret, 'client_secret');
    const issued = await exchangeClientCredentials(this.deps, clientId, clientSecret);
    // TMI's token response requires the field; empty says there is none.
    return {
      accessToken: issued.accessToken,
      tokenType: 'bearer',
      expiresIn: issued.expiresIn,
      refreshToken: '',
      refreshExpiresIn: 0,
    };
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

  /** Where providers send browsers back: configured, or this server's /oauth2/callback. */
  private providerCallbackUrl(baseUrl: string): string {
    return this.config.auth.identity.callbackUrl ?? `${baseUrl}/oauth2/callback`;
  }

  private checkedDelivery(responseType: string | undefined): ClientRequest['delivery'] {
    if (responseType === undefined) return this.config.auth.identity.tokenDelivery;
    if (responseType === 'code') return 'code';
    if (responseType === 'token') return 'fragment';
    throw new AppError('INVALID_REQUEST', "response_type must be 'code' or 'token'", {
      context: { response_type: responseType },
    });
  }

  /**
   * The client callback carrying a signed-in user: a single-use code for POST /oauth2/token (bound to the
   * client's PKCE challenge) in the query, or the tokens themselves in the fragment; in legacy mode (no
   * client callback) the tokens, for the server's callback to answer.
   */
  private async deliver(user: User, client: ClientRequest): Promise<LoginResult> {
    const { clientCallback } = client;
    if (client.delivery === 'json' || clientCallback === null) {
      return { tokens: await this.issueTokens(user, randomUUID()) };
    }
    if (client.delivery === 'fragment') {
      const tokens = await this.issueTokens(user, randomUUID());
      return deliveryUrl(client, {
        access_token: tokens.accessToken,
        refresh_token: tokens.refreshToken,
        token_type: 'Bearer',
        expires_in: String(tokens.expiresIn),
      });
    }
    const code = randomSecret();
    await this.prisma.authorizationCode.create({
      data: {
        codeHash: hashSecret(code),
        userId: user.id,
        codeChallenge: client.codeChallenge,
        codeChallengeMethod: 'S256',
        clientCallback,
        expiresAt: new Date(Date.now() + AUTHORIZATION_CODE_SECONDS * 1000),
      },
    });
    return deliveryUrl(client, { code });
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
  private async signIn(identity: Identity): Promise<User> {
    const now = new Date();
    const { provider, providerId, email, name, groups, emailVerified } = identity;
    let revoked: IssuedToken[] = [];
    const signedIn = await this.prisma.$transaction(async (tx) => {
      const user = await tx.user.upsert({
        where: { provider_providerId: { provider, providerId } },
        create: { provider, providerId, email, name, groups, emailVerified, lastLoginAt: now },
        // The provider's groups as of this login replace the previous ones; an address it vouches for is
        // verified (one an administrator marked verified stays so).
        update: { email, name, groups, lastLoginAt: now, ...(emailVerified ? { emailVerified } : {}) },
      });
      if (isConfiguredAdministrator(this.config.auth, identity)) {
        if (user.isAdmin) return user;
        return tx.user.update({ where: { id: user.id }, data: { isAdmin: true, adminByConfiguration: true } });
      }
      // Named by the configuration no longer: no longer an administrator, nor are the tokens it was issued.
      if (user.adminByConfiguration) {
        revoked = await recordRevocations(tx, [everyTokenIssuedUpTo(user.id, now.getTime())], now);
        return tx.user.update({ where: { id: user.id }, data: { isAdmin: false, adminByConfiguration: false } });
      }
      if (user.isAdmin || !(await this.becomesFirstAdmin(tx))) return user;
      return tx.user.update({ where: { id: user.id }, data: { isAdmin: true } });
    });
    await announceRevocations(this.announcer, revoked);
    return signedIn;
  }

  private async becomesFirstAdmin(tx: Tx): Promise<boolean> {
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
    const token = { jti, userId, expiresAt: new Date(expiresAtSeconds * 1000) };
    await announceRevocations(this.announcer, await recordRevocations(this.prisma, [token], new Date()));
  }

  /** Where this instance's revocations are announced: its own verifier, and the others through pubsub. */
  private get announcer() {
    return { revocations: this.deps.tokens, pubsub: this.deps.pubsub };
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
  return {
    provider: TEST_PROVIDER_ID,
    providerId: name,
    email: `${name}@tmi.local`,
    name: `${name} (TMI test user)`,
    emailVerified: true,
    groups: [],
  };
}

/**
 * The client callback with the login's result and the client's state: in the query for a code or an
 * error of the code flow, in the fragment (replacing any) for tokens or an error of the token flow.
 */
function deliveryUrl(client: ClientRequest, result: Record<string, string>): { redirect: string } {
  if (client.clientCallback === null) throw new Error('a login without a client callback is answered, not sent');
  const url = new URL(client.clientCallback);
  const params = { ...result, ...(client.clientState !== undefined ? { state: client.clientState } : {}) };
  if (client.delivery === 'fragment') {
    url.hash = new URLSearchParams(params).toString();
  } else {
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  }
  return { redirect: url.href };
}

/** A login that failed: the error to the client callback, or in legacy mode the server's callback's own answer. */
function failed(client: ClientRequest, error: ProviderLoginError['error'], description: string): LoginResult {
  if (client.clientCallback !== null) return deliveryUrl(client, { error, error_description: description });
  if (error === 'access_denied') {
    throw new AppError('UNAUTHENTICATED', `The identity provider refused the login: ${description}`);
  }
  throw new AppError('SERVICE_UNAVAILABLE', `The identity provider could not complete the login: ${description}`, {
    retryAfterSeconds: 30,
  });
}

function redirectOf(result: LoginResult): string {
  if ('redirect' in result) return result.redirect;
  throw new Error('a login with a client callback is sent there, not answered');
}

function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
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
  const computed = Buffer.from(pkceChallenge(verifier));
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
