import * as oidc from 'openid-client';
import type { IdentityProviderConfig } from '../infra/identity-config.js';

// The identity providers a deployment configures, as the OAuth service sees them: build the URL that
// sends a browser to the provider (with the server's own PKCE challenge, state and nonce), and turn the
// provider's callback into a verified identity. OIDC providers are discovered from their issuer and
// their ID tokens validated by openid-client; GitHub is plain OAuth 2.0 plus its REST API.

export interface ProviderIdentity {
  /** The provider's stable id for the user (OIDC `sub`, GitHub's numeric user id). */
  providerId: string;
  email: string;
  /** Whether the provider vouches for the address; only verified addresses can make an administrator. */
  emailVerified: boolean;
  name: string;
  groups: string[];
}

export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  loginHint?: string;
}

export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface IdentityProvider {
  readonly id: string;
  readonly name: string;
  readonly icon: string;
  readonly clientId: string;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  /** `callbackUrl` is the redirect URI with the provider's callback query. */
  complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderIdentity>;
}

/**
 * Why a provider login failed, in the terms the client callback receives (RFC 6749 §4.1.2.1):
 * `access_denied` when the provider or the user refused, `server_error` when its answer could not be
 * obtained or verified.
 */
export class ProviderLoginError extends Error {
  constructor(
    readonly error: 'access_denied' | 'server_error' | 'temporarily_unavailable',
    readonly description: string,
    cause?: unknown,
  ) {
    super(description, { cause });
    this.name = 'ProviderLoginError';
  }
}

export function createIdentityProvider(config: IdentityProviderConfig): IdentityProvider {
  return config.type === 'github' ? new GitHubProvider(config) : new OidcProvider(config);
}

class OidcProvider implements IdentityProvider {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly config: IdentityProviderConfig) {}

  get id() {
    return this.config.id;
  }
  get name() {
    return this.config.name;
  }
  get icon() {
    return this.config.icon;
  }
  get clientId() {
    return this.config.clientId;
  }

  /** Discovered once and kept; a failed discovery is tried again by the next login. */
  private client(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(new URL(this.config.issuer!), this.config.clientId, this.config.clientSecret, undefined, {
        execute: this.config.allowHttp ? [oidc.allowInsecureRequests] : [],
        timeout: this.config.timeoutSeconds,
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw new ProviderLoginError(
          'temporarily_unavailable',
          `The identity provider '${this.config.id}' could not be reached`,
          error,
        );
      });
    return this.configuration;
  }

  async authorizationUrl(request: AuthorizationRequest): Promise<URL> {
    const client = await this.client();
    return oidc.buildAuthorizationUrl(client, {
      redirect_uri: request.redirectUri,
      scope: this.config.scopes.join(' '),
      state: request.state,
      nonce: request.nonce,
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
      ...(request.loginHint ? { login_hint: request.loginHint } : {}),
    });
  }

  async complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderIdentity> {
    const client = await this.client();
    const claims = await providerCall(async () => {
      const tokens = await oidc.authorizationCodeGrant(client, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      // ID tokens may carry only `sub` (the claims are then served by userinfo, as oidc-provider does by default).
      const userinfo = client.serverMetadata().userinfo_endpoint
        ? await oidc.fetchUserInfo(client, tokens.access_token, idToken.sub)
        : {};
      return { ...userinfo, ...idToken } as Record<string, unknown>;
    });
    const email = stringClaim(claims.email) ?? emailLike(stringClaim(claims.preferred_username));
    if (!email) {
      throw new ProviderLoginError('access_denied', 'The identity provider did not share an e-mail address');
    }
    const fullName = [stringClaim(claims.given_name), stringClaim(claims.family_name)].filter(Boolean).join(' ');
    return {
      providerId: String(claims.sub),
      email,
      emailVerified: claims.email_verified !== false && claims.email_verified !== 'false',
      name: stringClaim(claims.name) ?? (fullName || undefined) ?? stringClaim(claims.preferred_username) ?? email,
      groups: groupsFrom(claims, this.config.groupsClaim),
    };
  }
}

interface GitHubUser {
  id: number;
  login: string;
  name?: string | null;
  email?: string | null;
}

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

class GitHubProvider implements IdentityProvider {
  private readonly client: oidc.Configuration;

  constructor(private readonly config: IdentityProviderConfig) {
    const authorizationEndpoint = new URL(config.authorizationUrl!);
    this.client = new oidc.Configuration(
      {
        issuer: authorizationEndpoint.origin,
        authorization_endpoint: authorizationEndpoint.href,
        token_endpoint: config.tokenUrl!,
      },
      config.clientId,
      config.clientSecret,
    );
    if (config.allowHttp) oidc.allowInsecureRequests(this.client);
    this.client.timeout = config.timeoutSeconds;
    this.client[oidc.customFetch] = (url, options) => githubFetch(url, options, config.tokenUrl!);
  }

  get id() {
    return this.config.id;
  }
  get name() {
    return this.config.name;
  }
  get icon() {
    return this.config.icon;
  }
  get clientId() {
    return this.config.clientId;
  }

  async authorizationUrl(request: AuthorizationRequest): Promise<URL> {
    return oidc.buildAuthorizationUrl(this.client, {
      redirect_uri: request.redirectUri,
      scope: this.config.scopes.join(' '),
      state: request.state,
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
      // GitHub's name for a login hint.
      ...(request.loginHint ? { login: request.loginHint } : {}),
    });
  }

  async complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderIdentity> {
    const { user, emails } = await providerCall(async () => {
      const tokens = await oidc.authorizationCodeGrant(this.client, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
      });
      const [user, emails] = await Promise.all([
        this.api<GitHubUser>(tokens.access_token, '/user'),
        this.api<GitHubEmail[]>(tokens.access_token, '/user/emails'),
      ]);
      return { user, emails };
    });
    if (typeof user.id !== 'number' || typeof user.login !== 'string' || !Array.isArray(emails)) {
      throw new ProviderLoginError('server_error', 'GitHub answered with an unexpected user description');
    }
    const verified = emails.filter((entry) => entry.verified);
    const chosen = verified.find((entry) => entry.primary) ?? verified[0];
    const email = chosen?.email ?? user.email ?? `${user.id}+${user.login}@users.noreply.github.com`;
    return {
      providerId: String(user.id),
      email,
      emailVerified: chosen !== undefined,
      name: user.name || user.login,
      groups: [],
    };
  }

  private async api<T>(accessToken: string, path: string): Promise<T> {
    const response = await oidc.fetchProtectedResource(
      this.client,
      accessToken,
      new URL(`${this.config.apiUrl}${path}`),
      'GET',
      undefined,
      new Headers({
        accept: 'application/vnd.github+json',
        'user-agent': 'TMI',
        'x-github-api-version': '2022-11-28',
      }),
    );
    if (!response.ok) {
      throw new ProviderLoginError('server_error', `GitHub answered ${response.status} to GET ${path}`);
    }
    return (await response.json()) as T;
  }
}

/**
 * GitHub answers a refused token request with 200 and an OAuth error body; given its RFC 6749 status
 * (400), openid-client reports it as the provider's refusal rather than as a malformed answer.
 */
async function githubFetch(url: string, options: oidc.CustomFetchOptions, tokenUrl: string): Promise<Response> {
  const response = await fetch(url, options as RequestInit);
  if (url !== tokenUrl || response.status !== 200) return response;
  const text = await response.text();
  let refused = false;
  try {
    const body: unknown = JSON.parse(text);
    refused = typeof body === 'object' && body !== null && 'error' in body;
  } catch {
    // Not JSON: left to openid-client to refuse.
  }
  return new Response(text, {
    status: refused ? 400 : 200,
    headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
  });
}

/** Runs the provider round trips, turning openid-client's failures into a ProviderLoginError. */
async function providerCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProviderLoginError) throw error;
    if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) {
      const said = `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
      if (error.error === 'temporarily_unavailable' || error.error === 'server_error') {
        throw new ProviderLoginError(
          error.error,
          `The identity provider could not complete the login (${said})`,
          error,
        );
      }
      // The provider does not accept this server as its client: a deployment's mistake, not the user's refusal.
      if (error instanceof oidc.ResponseBodyError && /client/.test(error.error)) {
        throw new ProviderLoginError('server_error', `The identity provider refused this server (${said})`, error);
      }
      // A denied consent, a login the provider would not complete, a code it does not accept.
      throw new ProviderLoginError('access_denied', `The identity provider refused the login (${said})`, error);
    }
    throw new ProviderLoginError('server_error', "The identity provider's answer could not be verified", error);
  }
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function emailLike(value: string | undefined): string | undefined {
  return value && /^[^@\s]+@[^@\s]+$/.test(value) ? value : undefined;
}

/** The claim at a dot path (`groups`, `realm_access.roles`): an array of names, or one name. */
export function groupsFrom(claims: Record<string, unknown>, path: string): string[] {
  // A claim whose name holds dots (`https://example.com/groups`, as Auth0 names them) is taken as named.
  let value: unknown = path in claims ? claims[path] : claims;
  if (!(path in claims)) {
    for (const part of path.split('.')) {
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    }
  }
  const names = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && name.length > 0))].slice(
    0,
    500,
  );
}
