import '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../src/app-deps.js';
import type { Principal } from '../../src/auth/principal.js';
import type { AuthService, Introspection, OAuthProvider, TokenSet } from '../../src/auth/service.js';
import type { Config } from '../../src/infra/config.js';
import { AppError } from '../../src/infra/errors/registry.js';
import { ACCESS_COOKIE, principalFromRequest, REFRESH_COOKIE } from '../../src/http/auth.js';
import { sendError } from '../../src/http/errors.js';

// TMI's protocol endpoints: OAuth 2.0 (authorize, token, refresh, revoke, introspect, userinfo),
// logout, discovery documents and client configuration. They call AuthService directly because
// redirects, form bodies and cookies are not GraphQL's to express.

const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;
const SCOPES = ['openid', 'email', 'profile'];

const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? undefined);

const authorizeQuery = z.object({
  idp: optional(
    z
      .string()
      .max(100)
      .regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, 'must be a provider id'),
  ),
  client_callback: optional(z.string().max(1000)),
  state: optional(
    z
      .string()
      .max(256)
      .regex(/^[a-zA-Z0-9_~.+/=-]*$/, 'contains characters that are not allowed'),
  ),
  login_hint: optional(z.string().max(254)),
  // Accepted for compatibility; the tokens carry no scopes.
  scope: optional(
    z
      .string()
      .max(256)
      .regex(/^[a-zA-Z0-9_][a-zA-Z0-9_ ]*[a-zA-Z0-9_]$/, 'must be space-separated scope names'),
  ),
  code_challenge: optional(z.string().regex(PKCE_VALUE, 'must be 43-128 characters of [A-Za-z0-9-._~]')),
  code_challenge_method: optional(z.string().max(20)),
  // `token` delivers the tokens in the client callback's fragment; `code` (the default) a code for /oauth2/token.
  response_type: optional(z.string().max(20)),
});

// The provider's answer (RFC 6749 §4.1.2): a code or an error, the state, perhaps `iss` (RFC 9207).
const callbackQuery = z.record(z.string(), z.string().max(8192));

const tokenBody = z.object({
  grant_type: z.string({ error: 'is required' }).min(1, 'is required'),
  code: optional(
    z
      .string()
      .max(8192)
      .regex(/^[\x20-\x7E]+$/, 'must be visible ASCII'),
  ),
  code_verifier: optional(z.string().regex(PKCE_VALUE, 'must be 43-128 characters of [A-Za-z0-9-._~]')),
  redirect_uri: optional(z.string().max(1000)),
  refresh_token: optional(z.string().max(1000)),
  client_id: optional(z.string().max(256)),
  client_secret: optional(z.string().max(256)),
});

const refreshBody = z.object({ refresh_token: optional(z.string().min(1).max(1000)) });

const revokeBody = z.object({
  token: z.string({ error: 'is required' }).min(1, 'is required').max(2000),
  token_type_hint: optional(z.enum(['access_token', 'refresh_token'])),
});

const introspectBody = z.object({
  // The spec says 1000 characters; a JWT with a long name or many groups is longer, so allow what we issue.
  token: z.string({ error: 'is required' }).min(1, 'is required').max(4096),
  token_type_hint: optional(z.string().max(1000)),
});

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

export async function registerOAuthRoutes(app: FastifyInstance, deps: AppDeps, auth: AuthService): Promise<void> {
  const { config } = deps;
  const cookies = cookieWriter(config);

  app.get(
    '/oauth2/providers',
    guarded(async (_request, reply) =>
      reply.send({ providers: auth.listProviders(deps.baseUrl()).map(presentProvider) }),
    ),
  );

  app.get(
    '/oauth2/authorize',
    guarded(async (request, reply) => {
      const query = parse(authorizeQuery, request.query);
      const location = await auth.authorize({
        idp: query.idp,
        loginHint: query.login_hint,
        clientCallback: query.client_callback,
        state: query.state,
        codeChallenge: query.code_challenge,
        codeChallengeMethod: query.code_challenge_method,
        responseType: query.response_type,
      });
      return reply.header('cache-control', 'no-store').redirect(location, 302);
    }),
  );

  app.get(
    '/oauth2/callback',
    guarded(async (request, reply) => {
      const query = parse(callbackQuery, request.query);
      const result = await auth.completeLogin(new URLSearchParams(query));
      reply.header('referrer-policy', 'no-referrer');
      // TMI's legacy mode (no client callback): the tokens are the answer. Not the browser's cookies: a callback
      // URL from someone else's login, opened in a victim's browser, must not sign the victim in as them.
      if ('tokens' in result) return sendTokens(reply, result.tokens);
      return reply.header('cache-control', 'no-store').redirect(result.redirect, 302);
    }),
  );

  app.post(
    '/oauth2/token',
    guarded(async (request, reply) => {
      const body = parse(tokenBody, request.body);
      const client = basicClientCredentials(request.headers.authorization);
      const tokens = await auth.exchangeToken({
        grantType: body.grant_type,
        code: body.code,
        codeVerifier: body.code_verifier,
        redirectUri: body.redirect_uri,
        refreshToken: body.refresh_token,
        clientId: client?.clientId ?? body.client_id,
        clientSecret: client?.clientSecret ?? body.client_secret,
      });
      // Machine clients (client_credentials: no refresh token) get no browser cookies.
      return sendTokens(tokens.refreshToken ? cookies.set(reply, tokens) : reply, tokens);
    }),
  );

  app.get(
    '/oauth2/userinfo',
    guarded(async (request, reply) =>
      reply.header('cache-control', 'no-store').send(auth.userinfo(await authenticate(deps, request))),
    ),
  );

  app.post(
    '/oauth2/revoke',
    guarded(async (request, reply) => {
      const body = parse(revokeBody, request.body);
      await auth.revoke(body.token, body.token_type_hint);
      return reply.send({});
    }),
  );

  app.post(
    '/oauth2/introspect',
    guarded(async (request, reply) => {
      const body = parse(introspectBody, request.body);
      return reply.header('cache-control', 'no-store').send(presentIntrospection(await auth.introspect(body.token)));
    }),
  );

  await app.register(async (scope) => {
    // A browser client may POST these with a JSON content type and no body at all, relying on cookies.
    const json = scope.getDefaultJsonParser('error', 'error');
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
      body.length === 0 ? done(null, undefined) : json(request, String(body), done),
    );

    scope.post(
      '/oauth2/refresh',
      guarded(async (request, reply) => {
        const refreshToken = parse(refreshBody, request.body).refresh_token ?? request.cookies[REFRESH_COOKIE];
        if (!refreshToken) {
          throw new AppError('INVALID_REQUEST', "The 'refresh_token' parameter is required", {
            suggestion: 'Send refresh_token in the body, or the tmi_refresh_token cookie',
          });
        }
        const tokens = await auth.refresh(refreshToken);
        return sendTokens(cookies.set(reply, tokens), tokens);
      }),
    );

    scope.post(
      '/me/logout',
      guarded(async (request, reply) => {
        const principal = await authenticate(deps, request);
        const refreshToken = parse(refreshBody, request.body).refresh_token ?? request.cookies[REFRESH_COOKIE];
        await auth.logout(principal, refreshToken);
        return cookies.clear(reply).code(204).send();
      }),
    );
  });

  app.get(
    '/.well-known/jwks.json',
    guarded(async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send({ keys: [deps.signingKey.publicJwk] }),
    ),
  );
  app.get(
    '/.well-known/openid-configuration',
    guarded(async (_request, reply) => reply.send(openIdConfiguration(deps.baseUrl(), issuerOf(deps)))),
  );
  app.get(
    '/.well-known/oauth-authorization-server',
    guarded(async (_request, reply) => reply.send(authorizationServerMetadata(deps.baseUrl(), issuerOf(deps)))),
  );
  app.get(
    '/.well-known/oauth-protected-resource',
    guarded(async (_request, reply) => reply.send(protectedResourceMetadata(deps.baseUrl(), issuerOf(deps)))),
  );

  app.get(
    '/saml/providers',
    guarded(async (_request, reply) => reply.send({ providers: [] })),
  );
  app.get(
    '/config',
    guarded(async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(clientConfig(config))),
  );
}

function guarded(handler: Handler): Handler {
  return async (request, reply) => {
    try {
      return await handler(request, reply);
    } catch (error) {
      return sendError(request, reply, error);
    }
  };
}

/** RFC 6749 §2.3.1: client credentials may come as HTTP Basic, each part form-urlencoded. */
function basicClientCredentials(authorization: string | undefined) {
  const match = authorization ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new AppError('INVALID_CLIENT', 'The Basic credentials must be client_id:client_secret');
  const part = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
  try {
    return { clientId: part(decoded.slice(0, colon)), clientSecret: part(decoded.slice(colon + 1)) };
  } catch {
    throw new AppError('INVALID_CLIENT', 'The Basic credentials are not form-urlencoded');
  }
}

/** Like the domain's parseInput, but OAuth endpoints answer malformed requests with `invalid_request`. */
function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const fieldErrors = result.error.issues.map((issue) => ({ field: issue.path.join('.'), error: issue.message }));
  const summary = fieldErrors.map(({ field, error }) => (field ? `${field} ${error}` : error)).join('; ');
  throw new AppError('INVALID_REQUEST', `Invalid request: ${summary}`, { context: { field_errors: fieldErrors } });
}

async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Principal> {
  const principal = await principalFromRequest(deps.tokens, request);
  if (!principal) throw new AppError('UNAUTHENTICATED');
  return principal;
}

function cookieWriter(config: Config) {
  const secure = config.http.cookieSecure;
  // The refresh token cookie only travels to the OAuth endpoints, and never cross-site.
  const access = { httpOnly: true, secure, path: '/', sameSite: 'lax' } as const;
  const refresh = { httpOnly: true, secure, path: '/oauth2', sameSite: 'strict' } as const;
  return {
    set(reply: FastifyReply, tokens: TokenSet): FastifyReply {
      return reply
        .setCookie(ACCESS_COOKIE, tokens.accessToken, { ...access, maxAge: tokens.expiresIn })
        .setCookie(REFRESH_COOKIE, tokens.refreshToken, { ...refresh, maxAge: tokens.refreshExpiresIn });
    },
    clear(reply: FastifyReply): FastifyReply {
      return reply.clearCookie(ACCESS_COOKIE, access).clearCookie(REFRESH_COOKIE, refresh);
    },
  };
}

function sendTokens(reply: FastifyReply, tokens: TokenSet): FastifyReply {
  // RFC 6749 §5.1: token responses must not be cached.
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send({
    access_token: tokens.accessToken,
    token_type: tokens.tokenType,
    expires_in: tokens.expiresIn,
    refresh_token: tokens.refreshToken,
  });
}

function presentProvider(provider: OAuthProvider) {
  return {
    id: provider.id,
    name: provider.name,
    icon: provider.icon,
    auth_url: provider.authUrl,
    token_url: provider.tokenUrl,
    redirect_uri: provider.redirectUri,
    client_id: provider.clientId,
  };
}

function presentIntrospection(result: Introspection) {
  if (!result.active) return { active: false };
  const { tokenType, ...claims } = result;
  return { ...claims, token_type: tokenType };
}

function issuerOf(deps: AppDeps): string {
  return deps.tokens.issuer;
}

function authorizationServerMetadata(base: string, issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${base}/oauth2/authorize`,
    token_endpoint: `${base}/oauth2/token`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    // `token`: /oauth2/authorize may deliver the tokens in the client callback's fragment.
    response_types_supported: ['code', 'token'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: SCOPES,
  };
}

function openIdConfiguration(base: string, issuer: string) {
  return {
    ...authorizationServerMetadata(base, issuer),
    userinfo_endpoint: `${base}/oauth2/userinfo`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['sub', 'email', 'name', 'idp', 'groups'],
  };
}

function protectedResourceMetadata(base: string, issuer: string) {
  return {
    resource: base,
    authorization_servers: [issuer],
    jwks_uri: `${base}/.well-known/jwks.json`,
    bearer_methods_supported: ['header'],
    scopes_supported: SCOPES,
    resource_name: 'TMI (Threat Modeling Improved) API',
  };
}

function clientConfig(config: Config) {
  return {
    // Only what this server actually serves today.
    features: { websocket_enabled: true, saml_enabled: false, webhooks_enabled: true, timmy_enabled: false },
    ...(config.operator ? { operator: { name: config.operator.name, contact: config.operator.contact } } : {}),
  };
}
