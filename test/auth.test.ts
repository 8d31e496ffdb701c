import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashSecret } from '../src/auth/tokens.js';
import { graphqlClient, restClient, type RestResponse } from './helpers/clients.js';
import { authorizationCode, authorize, login, pkcePair, TEST_CALLBACK } from './helpers/login.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The OAuth face end to end over HTTP: every REST response is checked against TMI's OpenAPI contract
// by restClient, unless a test says why not.

const FORM = 'application/x-www-form-urlencoded';

function tokenRequest(baseUrl: string, body: Record<string, string>, contentType = 'application/json') {
  const rawBody = contentType === FORM ? new URLSearchParams(body).toString() : JSON.stringify(body);
  return restClient(baseUrl).request('POST', '/oauth2/token', { rawBody, contentType });
}

function redeem(baseUrl: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return tokenRequest(baseUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, ...extra });
}

function refresh(baseUrl: string, refreshToken: string) {
  return restClient(baseUrl).post('/oauth2/refresh', { refresh_token: refreshToken });
}

function getMe(baseUrl: string, token: string) {
  return restClient(baseUrl, token).get('/me');
}

interface SetCookie {
  value: string;
  attributes: Map<string, string>;
}

function setCookies(response: RestResponse): Map<string, SetCookie> {
  const cookies = new Map<string, SetCookie>();
  for (const header of response.headers.getSetCookie()) {
    const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
    const [name = '', ...value] = pair.split('=');
    cookies.set(name, {
      value: decodeURIComponent(value.join('=')),
      attributes: new Map(
        attributes.map((attribute) => {
          const [key = '', ...rest] = attribute.split('=');
          return [key.toLowerCase(), rest.join('=')] as [string, string];
        }),
      ),
    });
  }
  return cookies;
}

function expectOAuthError(response: RestResponse, status: number, error: string): void {
  expect({ status: response.status, error: response.body?.error }).toEqual({ status, error });
  expect(response.body.error_description).toEqual(expect.any(String));
}

describe('OAuth with the built-in tmi provider', () => {
  let server: TestServer;
  let baseUrl: string;

  beforeAll(async () => {
    server = await startTestServer();
    baseUrl = server.baseUrl;
  });
  afterAll(() => server?.close());

  it('lists the tmi provider with absolute URLs', async () => {
    const response = await restClient(baseUrl).get('/oauth2/providers');

    expect(response.status).toBe(200);
    expect(response.body.providers).toEqual([
      expect.objectContaining({
        id: 'tmi',
        auth_url: `${baseUrl}/oauth2/authorize?idp=tmi`,
        token_url: `${baseUrl}/oauth2/token`,
      }),
    ]);
  });

  describe('authorize', () => {
    it('redirects to the client callback with a code and the state, keeping its query', async () => {
      const callback = `${TEST_CALLBACK}?tab=models`;
      const response = await restClient(baseUrl).get(
        `/oauth2/authorize?${new URLSearchParams({
          idp: 'tmi',
          login_hint: 'alice',
          client_callback: callback,
          state: 'xyz-123',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
          scope: 'openid',
        })}`,
      );

      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(TEST_CALLBACK);
      expect(location.searchParams.get('tab')).toBe('models');
      expect(location.searchParams.get('state')).toBe('xyz-123');
      expect(location.searchParams.get('code')).toMatch(/^[\w-]{43}$/);
    });

    it("without a client callback (TMI's legacy mode), goes to its own callback, which answers the tokens once", async () => {
      const response = await restClient(baseUrl).get(
        `/oauth2/authorize?${new URLSearchParams({
          idp: 'tmi',
          login_hint: 'legacy-user',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
        })}`,
      );

      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(`${baseUrl}/oauth2/callback`);
      const answered = await restClient(baseUrl).get(`${location.pathname}${location.search}`);
      expect(answered.status).toBe(200);
      expect(answered.body).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 3600,
      });
      expect(answered.headers.get('cache-control')).toBe('no-store');
      // No cookies: a callback URL from someone else's login must not sign a browser in as them.
      expect(answered.headers.get('set-cookie')).toBeNull();
      const me = await restClient(baseUrl, answered.body.access_token).get('/me');
      expect(me.body).toMatchObject({ provider: 'tmi', provider_id: 'legacy-user' });
      expectOAuthError(await restClient(baseUrl).get(`${location.pathname}${location.search}`), 400, 'invalid_request');
    });

    it('defaults to the tmi provider when no idp is named', async () => {
      const query = new URLSearchParams({
        client_callback: TEST_CALLBACK,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      });
      const response = await restClient(baseUrl).get(`/oauth2/authorize?${query}`);

      expect(response.status).toBe(302);
    });

    it('refuses the plain PKCE method and a missing challenge', async () => {
      const { challenge } = pkcePair();
      const plain = await restClient(baseUrl).get(
        `/oauth2/authorize?${new URLSearchParams({ idp: 'tmi', client_callback: TEST_CALLBACK, code_challenge: challenge, code_challenge_method: 'plain' })}`,
      );
      const missing = await restClient(baseUrl).get(
        `/oauth2/authorize?${new URLSearchParams({ idp: 'tmi', client_callback: TEST_CALLBACK, code_challenge_method: 'S256' })}`,
      );

      expectOAuthError(plain, 400, 'invalid_request');
      expect(plain.body.error_description).toMatch(/S256/);
      expectOAuthError(missing, 400, 'invalid_request');
      expect(missing.body.error_description).toMatch(/code_challenge/);
    });

    it.each([
      ['a host that is not on the allow-list', 'https://evil.example.com/callback'],
      ['a non-HTTP scheme', 'javascript:alert(1)'],
      ['no callback at all', ''],
    ])('refuses %s as client_callback', async (_case, callback) => {
      const response = await authorize(baseUrl, { challenge: pkcePair().challenge, callback });
      const body = await response.json();

      expect({ status: response.status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
      expect(response.headers.get('location')).toBeNull();
    });

    it('allows any loopback callback outside production', async () => {
      for (const callback of ['http://127.0.0.1:9999/cb', 'http://[::1]:4200/cb', 'https://localhost/cb']) {
        const response = await authorize(baseUrl, { challenge: pkcePair().challenge, callback });
        expect({ callback, status: response.status }).toEqual({ callback, status: 302 });
      }
    });

    it.each([['ab'], ['a'.repeat(21)], ['under_score'], ['dots.are.out']])('refuses login_hint %j', async (hint) => {
      const response = await authorize(baseUrl, { challenge: pkcePair().challenge, loginHint: hint });

      expect(response.status).toBe(400);
      expect((await response.json()).error).toBe('invalid_request');
    });

    it('refuses an unknown provider', async () => {
      const query = new URLSearchParams({
        idp: 'google',
        client_callback: TEST_CALLBACK,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      });
      const response = await restClient(baseUrl).get(`/oauth2/authorize?${query}`);

      expectOAuthError(response, 400, 'invalid_provider');
    });
  });

  describe('authorization code exchange', () => {
    it('completes the PKCE login and the token identifies the hinted user', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { loginHint: 'alice', challenge });

      const response = await redeem(baseUrl, code, verifier, { redirect_uri: TEST_CALLBACK });

      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.body).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 3600,
      });
      const me = await getMe(baseUrl, response.body.access_token);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        principal_type: 'user',
        provider: 'tmi',
        provider_id: 'alice',
        email: 'alice@tmi.local',
        display_name: 'alice (TMI test user)',
        is_admin: false,
        is_security_reviewer: false,
        groups: [],
      });
    });

    it('accepts a form-encoded exchange', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { challenge });

      const response = await tokenRequest(
        baseUrl,
        { grant_type: 'authorization_code', code, code_verifier: verifier },
        FORM,
      );

      expect(response.status).toBe(200);
      expect(response.body.token_type).toBe('bearer');
    });

    it('signs in a fresh random user without a login_hint', async () => {
      const first = await login(baseUrl);
      const second = await login(baseUrl);

      const [a, b] = await Promise.all([getMe(baseUrl, first.accessToken), getMe(baseUrl, second.accessToken)]);
      expect(a.body.provider_id).toMatch(/^user-[0-9a-f]{8}$/);
      expect(b.body.provider_id).toMatch(/^user-[0-9a-f]{8}$/);
      expect(a.body.provider_id).not.toBe(b.body.provider_id);
    });

    it('refuses a wrong code_verifier with invalid_grant', async () => {
      const code = await authorizationCode(baseUrl, { challenge: pkcePair().challenge });

      const response = await redeem(baseUrl, code, pkcePair().verifier);

      expectOAuthError(response, 400, 'invalid_grant');
    });

    it('refuses a replayed code and revokes the tokens issued from it', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { challenge });
      const first = await redeem(baseUrl, code, verifier);
      expect(first.status).toBe(200);

      const replay = await redeem(baseUrl, code, verifier);

      expectOAuthError(replay, 400, 'invalid_grant');
      expectOAuthError(await refresh(baseUrl, first.body.refresh_token), 401, 'invalid_grant');
    });

    it('refuses an expired code', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { challenge });
      await server.deps.db.prisma.authorizationCode.update({
        where: { codeHash: hashSecret(code) },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });

      expectOAuthError(await redeem(baseUrl, code, verifier), 400, 'invalid_grant');
    });

    it('refuses a redirect_uri other than the client_callback', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { challenge });

      const response = await redeem(baseUrl, code, verifier, { redirect_uri: 'http://localhost:4200/elsewhere' });

      expectOAuthError(response, 400, 'invalid_grant');
    });

    it('refuses unknown codes, unsupported grants and incomplete requests', async () => {
      const { verifier } = pkcePair();

      expectOAuthError(await redeem(baseUrl, 'no-such-code', verifier), 400, 'invalid_grant');
      // client_credentials is supported (test/client-credentials.test.ts): an unknown client is 401.
      expectOAuthError(
        await tokenRequest(baseUrl, { grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' }),
        401,
        'invalid_client',
      );
      expectOAuthError(await tokenRequest(baseUrl, { grant_type: 'password' }), 400, 'unsupported_grant_type');
      expectOAuthError(await tokenRequest(baseUrl, { code: 'abc' }), 400, 'invalid_request');
      expectOAuthError(
        await tokenRequest(baseUrl, { grant_type: 'authorization_code', code_verifier: verifier }),
        400,
        'invalid_request',
      );
      expectOAuthError(
        await tokenRequest(baseUrl, { grant_type: 'authorization_code', code: 'abc', code_verifier: 'short' }),
        400,
        'invalid_request',
      );
    });
  });

  describe('refresh tokens', () => {
    it('rotates: the old token fails afterwards and reusing it revokes its successor too', async () => {
      const session = await login(baseUrl, 'rotor');

      const rotated = await refresh(baseUrl, session.refreshToken);
      expect(rotated.status).toBe(200);
      expect(rotated.body.refresh_token).not.toBe(session.refreshToken);
      expect((await getMe(baseUrl, rotated.body.access_token)).body.provider_id).toBe('rotor');

      expectOAuthError(await refresh(baseUrl, session.refreshToken), 401, 'invalid_grant');
      expectOAuthError(await refresh(baseUrl, rotated.body.refresh_token), 401, 'invalid_grant');
    });

    it('rotates through the token endpoint, where a reused token is invalid_grant 400', async () => {
      const session = await login(baseUrl);
      const grant = { grant_type: 'refresh_token', refresh_token: session.refreshToken };

      const rotated = await tokenRequest(baseUrl, grant, FORM);
      expect(rotated.status).toBe(200);

      expectOAuthError(await tokenRequest(baseUrl, grant), 400, 'invalid_grant');
      expectOAuthError(await refresh(baseUrl, rotated.body.refresh_token), 401, 'invalid_grant');
    });

    it('refuses an expired refresh token, an unknown one and none at all', async () => {
      const session = await login(baseUrl, 'expiring');
      const user = await findUser(server, 'expiring');
      await server.deps.db.prisma.refreshToken.updateMany({
        where: { userId: user.id },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });

      expectOAuthError(await refresh(baseUrl, session.refreshToken), 401, 'invalid_grant');
      expectOAuthError(await refresh(baseUrl, 'not-a-token'), 401, 'invalid_grant');
      expectOAuthError(await restClient(baseUrl).post('/oauth2/refresh', {}), 400, 'invalid_request');
    });
  });

  describe('cookies', () => {
    it('sets both token cookies on exchange, and the access cookie authenticates GET /me', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(baseUrl, { loginHint: 'cookie-user', challenge });

      const response = await redeem(baseUrl, code, verifier);

      const cookies = setCookies(response);
      const access = cookies.get('tmi_access_token');
      const refreshCookie = cookies.get('tmi_refresh_token');
      expect(access?.value).toBe(response.body.access_token);
      expect(Object.fromEntries(access!.attributes)).toMatchObject({
        httponly: '',
        path: '/',
        samesite: 'Lax',
        'max-age': '3600',
      });
      expect(access!.attributes.has('secure')).toBe(false);
      expect(refreshCookie?.value).toBe(response.body.refresh_token);
      expect(Object.fromEntries(refreshCookie!.attributes)).toMatchObject({
        httponly: '',
        path: '/oauth2',
        samesite: 'Strict',
      });

      const me = await restClient(baseUrl).get('/me', { cookie: `tmi_access_token=${access!.value}` });
      expect(me.status).toBe(200);
      expect(me.body.provider_id).toBe('cookie-user');
    });

    it('refreshes from the refresh cookie when the body is empty', async () => {
      const session = await login(baseUrl);

      const response = await restClient(baseUrl).request('POST', '/oauth2/refresh', {
        rawBody: '',
        contentType: 'application/json',
        headers: { cookie: `tmi_refresh_token=${session.refreshToken}` },
      });

      expect(response.status).toBe(200);
      expect(setCookies(response).get('tmi_refresh_token')?.value).toBe(response.body.refresh_token);
    });
  });

  describe('revocation', () => {
    it('revokes an access token: GET /me then answers 401 and introspection reports it inactive', async () => {
      const session = await login(baseUrl);
      expect((await getMe(baseUrl, session.accessToken)).status).toBe(200);

      const revoked = await restClient(baseUrl).post('/oauth2/revoke', {
        token: session.accessToken,
        token_type_hint: 'access_token',
      });

      expect(revoked).toMatchObject({ status: 200, body: {} });
      expectOAuthError(await getMe(baseUrl, session.accessToken), 401, 'unauthorized');
      expect((await introspect(baseUrl, session.accessToken)).body).toEqual({ active: false });
    });

    it('revokes a refresh token given as form data, whatever the hint', async () => {
      const session = await login(baseUrl);

      const revoked = await restClient(baseUrl).request('POST', '/oauth2/revoke', {
        rawBody: new URLSearchParams({ token: session.refreshToken, token_type_hint: 'access_token' }).toString(),
        contentType: FORM,
      });

      expect(revoked.status).toBe(200);
      expectOAuthError(await refresh(baseUrl, session.refreshToken), 401, 'invalid_grant');
      expect((await getMe(baseUrl, session.accessToken)).status).toBe(200);
    });

    it('answers 200 for unknown tokens and 400 without a token', async () => {
      expect((await restClient(baseUrl).post('/oauth2/revoke', { token: 'never-issued' })).status).toBe(200);
      expectOAuthError(await restClient(baseUrl).post('/oauth2/revoke', {}), 400, 'invalid_request');
    });
  });

  describe('introspection and userinfo', () => {
    it('describes an active access token', async () => {
      const session = await login(baseUrl, 'intro');

      const response = await introspect(baseUrl, session.accessToken);

      const claims = decodeJwt(session.accessToken);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        active: true,
        sub: (await findUser(server, 'intro')).id,
        email: 'intro@tmi.local',
        name: 'intro (TMI test user)',
        exp: claims.exp,
        iat: claims.iat,
        iss: claims.iss,
        token_type: 'Bearer',
      });
    });

    it('reports garbage and refresh tokens as inactive', async () => {
      const session = await login(baseUrl);

      expect((await introspect(baseUrl, 'garbage')).body).toEqual({ active: false });
      expect((await introspect(baseUrl, session.refreshToken)).body).toEqual({ active: false });
    });

    it('serves OIDC userinfo for the bearer', async () => {
      const session = await login(baseUrl, 'info');

      const response = await restClient(baseUrl, session.accessToken).get('/oauth2/userinfo');

      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        sub: (await findUser(server, 'info')).id,
        email: 'info@tmi.local',
        name: 'info (TMI test user)',
        idp: 'tmi',
        groups: [],
      });
      expectOAuthError(await restClient(baseUrl).get('/oauth2/userinfo'), 401, 'unauthorized');
    });
  });

  describe('GET /me and the me query', () => {
    it('serves the same profile on both faces', async () => {
      const session = await login(baseUrl, 'both-faces');

      const rest = await getMe(baseUrl, session.accessToken);
      const graphql = await graphqlClient(
        baseUrl,
        session.accessToken,
      )(
        '{ me { userId principalType provider providerId displayName email isAdmin isSecurityReviewer groups { groupName } lastLoginAt } }',
      );

      const user = await findUser(server, 'both-faces');
      expect(graphql.errors).toBeUndefined();
      expect(graphql.data.me).toEqual({
        userId: user.id,
        principalType: 'USER',
        provider: 'tmi',
        providerId: 'both-faces',
        displayName: 'both-faces (TMI test user)',
        email: 'both-faces@tmi.local',
        isAdmin: false,
        isSecurityReviewer: false,
        groups: [],
        lastLoginAt: user.lastLoginAt?.toISOString(),
      });
      expect(rest.body).toMatchObject({
        principal_type: 'user',
        provider: 'tmi',
        provider_id: 'both-faces',
        display_name: 'both-faces (TMI test user)',
        email: 'both-faces@tmi.local',
        is_admin: false,
        is_security_reviewer: false,
        groups: [],
      });
    });

    it('answers 401 without a token and once the user row is gone', async () => {
      const session = await login(baseUrl, 'ghost');
      await server.deps.db.prisma.user.delete({
        where: { provider_providerId: { provider: 'tmi', providerId: 'ghost' } },
      });

      expectOAuthError(await restClient(baseUrl).get('/me'), 401, 'unauthorized');
      const gone = await getMe(baseUrl, session.accessToken);
      expectOAuthError(gone, 401, 'unauthorized');
      expect(gone.body.error_description).toBe('Your user account no longer exists');
    });
  });

  describe('logout', () => {
    it('revokes the access token and the refresh cookie, and clears both cookies', async () => {
      const session = await login(baseUrl);

      const response = await restClient(baseUrl, session.accessToken).request('POST', '/me/logout', {
        headers: { cookie: `tmi_refresh_token=${session.refreshToken}` },
      });

      expect(response.status).toBe(204);
      const cleared = setCookies(response);
      expect(cleared.get('tmi_access_token')?.value).toBe('');
      expect(cleared.get('tmi_refresh_token')?.attributes.get('path')).toBe('/oauth2');
      expect(cleared.get('tmi_refresh_token')?.value).toBe('');
      expectOAuthError(await getMe(baseUrl, session.accessToken), 401, 'unauthorized');
      expectOAuthError(await refresh(baseUrl, session.refreshToken), 401, 'invalid_grant');
    });

    it('leaves a refresh token of another user alone and needs authentication', async () => {
      const victim = await login(baseUrl);
      const caller = await login(baseUrl);

      const response = await restClient(baseUrl, caller.accessToken).request('POST', '/me/logout', {
        body: { refresh_token: victim.refreshToken },
      });

      expect(response.status).toBe(204);
      expect((await refresh(baseUrl, victim.refreshToken)).status).toBe(200);
      expectOAuthError(await restClient(baseUrl).post('/me/logout'), 401, 'unauthorized');
    });
  });

  describe('discovery', () => {
    it('publishes metadata with absolute URLs', async () => {
      const client = restClient(baseUrl);
      const [openid, authServer, resource] = await Promise.all([
        client.get('/.well-known/openid-configuration'),
        client.get('/.well-known/oauth-authorization-server'),
        client.get('/.well-known/oauth-protected-resource'),
      ]);

      expect(openid.body).toMatchObject({
        issuer: expect.stringMatching(/^http:\/\//),
        authorization_endpoint: `${baseUrl}/oauth2/authorize`,
        token_endpoint: `${baseUrl}/oauth2/token`,
        userinfo_endpoint: `${baseUrl}/oauth2/userinfo`,
        jwks_uri: `${baseUrl}/.well-known/jwks.json`,
        code_challenge_methods_supported: ['S256'],
      });
      expect(authServer.body).toMatchObject({
        issuer: openid.body.issuer,
        revocation_endpoint: `${baseUrl}/oauth2/revoke`,
      });
      expect(resource.body).toMatchObject({ resource: baseUrl, authorization_servers: [openid.body.issuer] });
    });

    it('publishes a JWKS that verifies issued tokens', async () => {
      const session = await login(baseUrl);
      const { body: openid } = await restClient(baseUrl).get('/.well-known/openid-configuration');
      // TMI's schema lists only kty/use/alg/kid with additionalProperties: false, which would forbid the
      // RSA key material (n, e) without which the set is useless; we check the documented members.
      const jwks = await restClient(baseUrl).request<JSONWebKeySet>('GET', '/.well-known/jwks.json', {
        validate: false,
      });
      for (const key of jwks.body.keys)
        expect(key).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: expect.any(String) });
      expect(jwks.body.keys[0]).not.toHaveProperty('d');

      const remote = await jwtVerify(session.accessToken, createRemoteJWKSet(new URL(openid.jwks_uri)));
      const local = await jwtVerify(session.accessToken, createLocalJWKSet(jwks.body));

      expect(remote.protectedHeader).toMatchObject({ alg: 'RS256', kid: jwks.body.keys[0]!.kid });
      expect(local.payload.sub).toBe(remote.payload.sub);
    });

    it('advertises the issuer that issued tokens carry', async () => {
      const session = await login(baseUrl);
      const { body: openid } = await restClient(baseUrl).get('/.well-known/openid-configuration');

      expect(decodeJwt(session.accessToken).iss).toBe(openid.issuer);
    });
  });

  it('serves the client configuration and an empty SAML provider list', async () => {
    const client = restClient(baseUrl);
    const [config, saml] = await Promise.all([client.get('/config'), client.get('/saml/providers')]);

    expect(config.status).toBe(200);
    expect(config.body.features).toMatchObject({ saml_enabled: false });
    expect(saml).toMatchObject({ status: 200, body: { providers: [] } });
  });
});

function findUser(server: TestServer, providerId: string) {
  return server.deps.db.prisma.user.findUniqueOrThrow({
    where: { provider_providerId: { provider: 'tmi', providerId } },
  });
}

function introspect(baseUrl: string, token: string) {
  return restClient(baseUrl).request('POST', '/oauth2/introspect', {
    rawBody: new URLSearchParams({ token }).toString(),
    contentType: FORM,
  });
}

describe('revocation across instances', () => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    first = await startTestServer();
    second = await startTestServer({}, { shareDatabaseWith: first });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('reaches running instances through pubsub and later ones through the database', async () => {
    const session = await login(first.baseUrl);
    expect((await getMe(second.baseUrl, session.accessToken)).status).toBe(200);

    await restClient(first.baseUrl).post('/oauth2/revoke', { token: session.accessToken });

    await vi.waitFor(async () => expect((await getMe(second.baseUrl, session.accessToken)).status).toBe(401), {
      timeout: 5000,
    });
    const later = await startTestServer({}, { shareDatabaseWith: first });
    try {
      expect((await getMe(later.baseUrl, session.accessToken)).status).toBe(401);
    } finally {
      await later.close();
    }
  });
});

describe('administrators', () => {
  it('promotes the configured provider and provider id, and nobody else', async () => {
    const server = await startTestServer({ TMI_ADMIN_PROVIDER: 'tmi', TMI_ADMIN_PROVIDER_ID: 'boss' });
    try {
      const boss = await login(server.baseUrl, 'boss');
      const staff = await login(server.baseUrl, 'staff');

      const [bossMe, staffMe] = await Promise.all([
        getMe(server.baseUrl, boss.accessToken),
        getMe(server.baseUrl, staff.accessToken),
      ]);
      expect(bossMe.body).toMatchObject({
        is_admin: true,
        groups: [{ internal_uuid: '00000000-0000-0000-0000-000000000002', group_name: 'administrators' }],
      });
      expect(decodeJwt(boss.accessToken).is_admin).toBe(true);
      expect(staffMe.body.is_admin).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('promotes by configured e-mail', async () => {
    const server = await startTestServer({ TMI_ADMIN_EMAIL: 'Chief@tmi.local' });
    try {
      const chief = await login(server.baseUrl, 'chief');

      expect((await getMe(server.baseUrl, chief.accessToken)).body.is_admin).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('takes back at start what the configuration no longer grants, and keeps what an administrator granted', async () => {
    const first = await startTestServer({ TMI_ADMIN_PROVIDER: 'tmi', TMI_ADMIN_PROVIDER_ID: 'deputy' });
    let second: TestServer | undefined;
    try {
      const deputy = await login(first.baseUrl, 'deputy');
      const keeper = await login(first.baseUrl, 'keeper');
      const keeperId = decodeJwt(keeper.accessToken).sub!;
      const granted = await restClient(first.baseUrl, deputy.accessToken).post(
        '/admin/groups/00000000-0000-0000-0000-000000000002/members',
        { user_internal_uuid: keeperId },
      );
      expect(granted.status).toBe(201);

      // The same deployment restarted without the deputy in its configuration.
      second = await startTestServer({}, { shareDatabaseWith: first });
      const users = second.deps.db.prisma.user;
      expect(await users.findFirstOrThrow({ where: { providerId: 'deputy' } })).toMatchObject({ isAdmin: false });
      expect(await users.findUniqueOrThrow({ where: { id: keeperId } })).toMatchObject({ isAdmin: true });
      // The tokens that carried the role no longer work; refreshing, without signing in again, gets tokens
      // without it.
      expect((await getMe(second.baseUrl, deputy.accessToken)).status).toBe(401);
      expect((await getMe(first.baseUrl, deputy.accessToken)).status).toBe(401);
      const refreshed = await restClient(second.baseUrl).post('/oauth2/refresh', {
        refresh_token: deputy.refreshToken,
      });
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token).is_admin).toBe(false);
      expect((await getMe(second.baseUrl, (await login(second.baseUrl, 'keeper')).accessToken)).body.is_admin).toBe(
        true,
      );
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('auto-promotes exactly one of several racing first users', async () => {
    const server = await startTestServer({ TMI_AUTH_AUTO_PROMOTE_FIRST_USER: 'true' });
    try {
      const racers = await Promise.all(
        ['r-one', 'r-two', 'r-three', 'r-four', 'r-five'].map((hint) => login(server.baseUrl, hint)),
      );
      const later = await login(server.baseUrl, 'latecomer');

      const admins = racers.filter((session) => decodeJwt(session.accessToken).is_admin === true);
      expect(admins).toHaveLength(1);
      expect(await server.deps.db.prisma.user.count({ where: { isAdmin: true } })).toBe(1);
      expect((await getMe(server.baseUrl, later.accessToken)).body.is_admin).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('deployment settings', () => {
  it('hides the test provider when it is disabled', async () => {
    const server = await startTestServer({ TMI_TEST_PROVIDER_ENABLED: 'false' });
    try {
      const providers = await restClient(server.baseUrl).get('/oauth2/providers');
      const response = await authorize(server.baseUrl, { challenge: pkcePair().challenge });

      expect(providers.body).toEqual({ providers: [] });
      expect(response.status).toBe(400);
      expect((await response.json()).error).toBe('invalid_provider');
    } finally {
      await server.close();
    }
  });

  it('in production admits only allow-listed callbacks, matched at a URL boundary, and marks cookies Secure', async () => {
    const allowed = 'https://app.example.com/callback';
    const server = await startTestServer({
      NODE_ENV: 'production',
      TMI_TEST_PROVIDER_ENABLED: 'true',
      TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST: `${allowed}, https://other.example.com`,
    });
    try {
      const statusFor = async (callback: string) =>
        (await authorize(server.baseUrl, { challenge: pkcePair().challenge, callback })).status;

      expect(await statusFor(`${allowed}?from=login`)).toBe(302);
      expect(await statusFor('https://other.example.com/any/path')).toBe(302);
      expect(await statusFor('https://other.example.com.evil.net/cb')).toBe(400);
      expect(await statusFor(`${allowed}.evil.net`)).toBe(400);
      expect(await statusFor(TEST_CALLBACK)).toBe(400);

      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(server.baseUrl, { challenge, callback: allowed });
      const tokens = await redeem(server.baseUrl, code, verifier);
      expect(setCookies(tokens).get('tmi_access_token')?.attributes.has('secure')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
