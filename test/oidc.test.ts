import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient, type RestResponse } from './helpers/clients.js';
import { pkcePair, TEST_CALLBACK } from './helpers/login.js';
import { configFile, followLogin, startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// Logins through a real OpenID Connect provider (oidc-provider) on loopback, mediated by the server as
// TMI does: /oauth2/authorize → the provider → /oauth2/callback → the client callback → /oauth2/token.
// Every response of the server is checked against TMI's OpenAPI contract by restClient.

interface Started {
  state: string;
  verifier: string;
  /** The server's answer to /oauth2/authorize. */
  response: RestResponse;
}

interface ClientOptions {
  idp?: string;
  loginHint?: string;
  /** The client callback; null: none (TMI's legacy mode). */
  callback?: string | null;
  responseType?: string;
}

/** The client's first step: GET /oauth2/authorize with its PKCE challenge and state. */
async function startLogin(baseUrl: string, options: ClientOptions = {}): Promise<Started> {
  const { verifier, challenge } = pkcePair();
  const state = `s-${Math.random().toString(36).slice(2)}`;
  const query = new URLSearchParams({
    idp: options.idp ?? 'corp',
    ...(options.callback === null ? {} : { client_callback: options.callback ?? TEST_CALLBACK }),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    ...(options.responseType ? { response_type: options.responseType } : {}),
  });
  const response = await restClient(baseUrl).get(`/oauth2/authorize?${query}`);
  return { state, verifier, response };
}

/** The browser at the provider: signs in and comes back with the URL of the server's /oauth2/callback. */
async function atProvider(baseUrl: string, providerUrl: string): Promise<string> {
  const outcome = await followLogin(providerUrl, { stopAt: `${baseUrl}/oauth2/callback` });
  if (!('location' in outcome)) {
    throw new Error(`the provider stopped at ${outcome.response.status}: ${await outcome.response.text()}`);
  }
  return outcome.location;
}

/** GET /oauth2/callback as the browser arrives there. */
function callback(baseUrl: string, url: string): Promise<RestResponse> {
  const { pathname, search } = new URL(url);
  return restClient(baseUrl).get(`${pathname}${search}`);
}

/** The whole browser journey; returns where the server finally sent the browser (the client callback). */
async function browserLogin(baseUrl: string, options: ClientOptions = {}): Promise<Started & { result: URL }> {
  const started = await startLogin(baseUrl, options);
  expect(started.response.status).toBe(302);
  const back = await callback(baseUrl, await atProvider(baseUrl, started.response.headers.get('location')!));
  expect(back.status).toBe(302);
  return { ...started, result: new URL(back.headers.get('location')!) };
}

function redeem(baseUrl: string, code: string, verifier: string) {
  return restClient(baseUrl).post('/oauth2/token', {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: TEST_CALLBACK,
  });
}

function expectError(response: RestResponse, status: number, error: string): void {
  expect({ status: response.status, error: response.body?.error }).toEqual({ status, error });
  expect(response.body.error_description).toEqual(expect.any(String));
}

describe('login through an OIDC provider', () => {
  let idp: TestOidcProvider;
  let server: TestServer;
  let second: TestServer;
  let baseUrl: string;

  beforeAll(async () => {
    idp = await startOidcProvider({ redirectUris: () => [`${baseUrl}/oauth2/callback`] });
    idp.accounts.set('alice', { sub: 'alice', email: 'alice@corp.example', name: 'Alice Corp', groups: ['eng'] });
    idp.accounts.set('root', {
      sub: 'root',
      email: 'root@corp.example',
      name: 'Root Admin',
      groups: ['eng', 'platform-admins'],
    });
    idp.accounts.set('mallory', {
      sub: 'mallory',
      email: 'boss@corp.example',
      emailVerified: false,
      name: 'Not The Boss',
    });
    idp.accounts.set('boss', { sub: 'boss', email: 'Boss@corp.example', name: 'The Boss' });
    // Secrets come from the environment, the rest from the file, as a deployment would split them.
    const file = configFile(`
auth:
  oauth:
    providers:
      corp:
        type: oidc
        name: Corp SSO
        issuer: ${idp.issuer}
        client_id: ${idp.clientId}
        scopes: [openid, email, profile, groups]
        allow_http: true
      google:
        enabled: false
administrators:
  - provider: corp
    group_name: platform-admins
    subject_type: group
  - provider: corp
    email: boss@corp.example
    subject_type: user
`);
    const env = { TMI_CONFIG_FILE: file, TMI_OAUTH_PROVIDERS_CORP_CLIENT_SECRET: idp.clientSecret };
    server = await startTestServer(env);
    baseUrl = server.baseUrl;
    second = await startTestServer(env, { shareDatabaseWith: server });
  });
  afterAll(async () => {
    await second?.close();
    await server?.close();
    await idp?.close();
  });

  it('lists the provider beside the test provider', async () => {
    const response = await restClient(baseUrl).get('/oauth2/providers');

    expect(response.status).toBe(200);
    expect(response.body.providers).toEqual([
      {
        id: 'corp',
        name: 'Corp SSO',
        icon: expect.any(String),
        auth_url: `${baseUrl}/oauth2/authorize?idp=corp`,
        token_url: `${baseUrl}/oauth2/token`,
        redirect_uri: `${baseUrl}/oauth2/callback`,
        client_id: idp.clientId,
      },
      expect.objectContaining({ id: 'tmi' }),
    ]);
  });

  it('sends the browser to the provider with its own PKCE challenge, state and nonce', async () => {
    const { response, state } = await startLogin(baseUrl, { loginHint: 'alice' });

    expect(response.status).toBe(302);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const location = new URL(response.headers.get('location')!);
    expect(location.origin).toBe(idp.issuer);
    const params = Object.fromEntries(location.searchParams);
    expect(params).toMatchObject({
      client_id: idp.clientId,
      response_type: 'code',
      redirect_uri: `${baseUrl}/oauth2/callback`,
      scope: 'openid email profile groups',
      code_challenge_method: 'S256',
      login_hint: 'alice',
    });
    // Not the client's: those stay between the client and this server.
    expect(params.state).not.toBe(state);
    expect(params.code_challenge).toMatch(/^[\w-]{43}$/);
    expect(params.nonce).toEqual(expect.any(String));
  });

  it('signs a user in: a code to the client callback, exchanged with the client PKCE verifier', async () => {
    const login = await browserLogin(baseUrl, { loginHint: 'alice' });

    expect(login.result.href.startsWith(TEST_CALLBACK)).toBe(true);
    expect(login.result.searchParams.get('state')).toBe(login.state);
    const tokens = await redeem(baseUrl, login.result.searchParams.get('code')!, login.verifier);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token)).toMatchObject({
      idp: 'corp',
      provider_id: 'alice',
      email: 'alice@corp.example',
      name: 'Alice Corp',
      is_admin: false,
    });

    const me = await restClient(baseUrl, tokens.body.access_token).get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      provider: 'corp',
      provider_id: 'alice',
      email: 'alice@corp.example',
      is_admin: false,
    });
  });

  it("takes the user's groups from the configured claim", async () => {
    const login = await browserLogin(baseUrl, { loginHint: 'alice' });
    const tokens = await redeem(baseUrl, login.result.searchParams.get('code')!, login.verifier);

    expect(decodeJwt(tokens.body.access_token).groups).toEqual(['eng']);
    const userinfo = await restClient(baseUrl, tokens.body.access_token).get('/oauth2/userinfo');
    expect(userinfo.status).toBe(200);
    expect(userinfo.body).toMatchObject({ idp: 'corp', email: 'alice@corp.example', groups: ['eng'] });
  });

  it('finds the same user again by provider and provider id', async () => {
    const first = await browserLogin(baseUrl, { loginHint: 'alice' });
    const again = await browserLogin(baseUrl, { loginHint: 'alice' });
    const a = await redeem(baseUrl, first.result.searchParams.get('code')!, first.verifier);
    const b = await redeem(baseUrl, again.result.searchParams.get('code')!, again.verifier);

    expect(decodeJwt(a.body.access_token).sub).toBe(decodeJwt(b.body.access_token).sub);
  });

  it('makes members of an administrator group from the configuration file administrators', async () => {
    const login = await browserLogin(baseUrl, { loginHint: 'root' });
    const tokens = await redeem(baseUrl, login.result.searchParams.get('code')!, login.verifier);

    expect(decodeJwt(tokens.body.access_token)).toMatchObject({ is_admin: true, groups: ['eng', 'platform-admins'] });
    const me = await restClient(baseUrl, tokens.body.access_token).get('/me');
    expect(me.body).toMatchObject({ provider_id: 'root', is_admin: true });
  });

  it('takes administrator rights back when the provider no longer puts the user in the administrator group', async () => {
    const account = idp.accounts.get('root')!;
    const asAdmin = await browserLogin(baseUrl, { loginHint: 'root' });
    const adminTokens = await redeem(baseUrl, asAdmin.result.searchParams.get('code')!, asAdmin.verifier);
    expect(decodeJwt(adminTokens.body.access_token).is_admin).toBe(true);
    const groups = account.groups;
    account.groups = ['eng'];
    try {
      const login = await browserLogin(baseUrl, { loginHint: 'root' });
      const tokens = await redeem(baseUrl, login.result.searchParams.get('code')!, login.verifier);

      expect(decodeJwt(tokens.body.access_token)).toMatchObject({ is_admin: false, groups: ['eng'] });
      expect((await restClient(baseUrl, tokens.body.access_token).get('/me')).body.is_admin).toBe(false);
      // The token that carried the role no longer works.
      expect((await restClient(baseUrl, adminTokens.body.access_token).get('/me')).status).toBe(401);
    } finally {
      account.groups = groups;
    }
    const again = await browserLogin(baseUrl, { loginHint: 'root' });
    const tokens = await redeem(baseUrl, again.result.searchParams.get('code')!, again.verifier);
    expect(decodeJwt(tokens.body.access_token).is_admin).toBe(true);
  });

  it('makes an administrator by e-mail only when the provider verified the address', async () => {
    const boss = await browserLogin(baseUrl, { loginHint: 'boss' });
    const mallory = await browserLogin(baseUrl, { loginHint: 'mallory' });
    const bossTokens = await redeem(baseUrl, boss.result.searchParams.get('code')!, boss.verifier);
    const malloryTokens = await redeem(baseUrl, mallory.result.searchParams.get('code')!, mallory.verifier);

    expect((await restClient(baseUrl, bossTokens.body.access_token).get('/me')).body.is_admin).toBe(true);
    expect((await restClient(baseUrl, malloryTokens.body.access_token).get('/me')).body.is_admin).toBe(false);
    const stored = await server.deps.db.prisma.user.findMany({
      where: { provider: 'corp', providerId: { in: ['boss', 'mallory'] } },
      select: { providerId: true, emailVerified: true },
      orderBy: { providerId: 'asc' },
    });
    expect(stored).toEqual([
      { providerId: 'boss', emailVerified: true },
      { providerId: 'mallory', emailVerified: false },
    ]);
  });

  it('delivers the tokens in the URL fragment when the client asks for response_type=token', async () => {
    const login = await browserLogin(baseUrl, { loginHint: 'alice', responseType: 'token' });

    expect(login.result.search).toBe('');
    const fragment = new URLSearchParams(login.result.hash.slice(1));
    expect(Object.fromEntries(fragment)).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: '3600',
      state: login.state,
    });
    const me = await restClient(baseUrl, fragment.get('access_token')!).get('/me');
    expect(me.body).toMatchObject({ provider: 'corp', provider_id: 'alice' });
    const refreshed = await restClient(baseUrl).post('/oauth2/refresh', {
      refresh_token: fragment.get('refresh_token'),
    });
    expect(refreshed.status).toBe(200);
  });

  it("answers the tokens at its own callback when the client named none (TMI's legacy mode)", async () => {
    const started = await startLogin(baseUrl, { loginHint: 'alice', callback: null });
    expect(started.response.status).toBe(302);

    const back = await callback(baseUrl, await atProvider(baseUrl, started.response.headers.get('location')!));

    expect(back.status).toBe(200);
    expect(back.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 3600,
    });
    const me = await restClient(baseUrl, back.body.access_token).get('/me');
    expect(me.body).toMatchObject({ provider: 'corp', provider_id: 'alice', email: 'alice@corp.example' });
  });

  it('completes a login whose callback reaches another instance', async () => {
    const started = await startLogin(baseUrl, { loginHint: 'alice' });
    const providerReturn = await atProvider(baseUrl, started.response.headers.get('location')!);
    const onSecond = providerReturn.replace(baseUrl, second.baseUrl);

    const back = await callback(second.baseUrl, onSecond);

    expect(back.status).toBe(302);
    const code = new URL(back.headers.get('location')!).searchParams.get('code')!;
    expect((await redeem(baseUrl, code, started.verifier)).status).toBe(200);
  });

  describe('refusals', () => {
    it('refuses a wrong PKCE verifier at the token endpoint', async () => {
      const login = await browserLogin(baseUrl, { loginHint: 'alice' });

      const response = await redeem(baseUrl, login.result.searchParams.get('code')!, pkcePair().verifier);

      expectError(response, 400, 'invalid_grant');
    });

    it('refuses a replayed code', async () => {
      const login = await browserLogin(baseUrl, { loginHint: 'alice' });
      const code = login.result.searchParams.get('code')!;
      const first = await redeem(baseUrl, code, login.verifier);

      const replay = await redeem(baseUrl, code, login.verifier);

      expect(first.status).toBe(200);
      expectError(replay, 400, 'invalid_grant');
      // The tokens issued from a replayed code are revoked (its refresh token no longer works).
      const refreshed = await restClient(baseUrl).post('/oauth2/refresh', { refresh_token: first.body.refresh_token });
      expectError(refreshed, 401, 'invalid_grant');
    });

    it('refuses a client_callback outside the allow-list before involving the provider', async () => {
      const { response } = await startLogin(baseUrl, { callback: 'https://attacker.example/oauth2/callback' });

      expectError(response, 400, 'invalid_request');
      expect(response.headers.get('location')).toBeNull();
    });

    it('refuses an unknown provider and a disabled one', async () => {
      expectError((await startLogin(baseUrl, { idp: 'okta' })).response, 400, 'invalid_provider');
      expectError((await startLogin(baseUrl, { idp: 'google' })).response, 400, 'invalid_provider');
    });

    it('refuses a callback with an unknown state, and a second use of a known one', async () => {
      const started = await startLogin(baseUrl, { loginHint: 'alice' });
      const providerReturn = await atProvider(baseUrl, started.response.headers.get('location')!);
      const forged = new URL(providerReturn);
      forged.searchParams.set('state', 'not-the-state-we-sent');

      expectError(await callback(baseUrl, forged.href), 400, 'invalid_request');
      expect((await callback(baseUrl, providerReturn)).status).toBe(302);
      expectError(await callback(baseUrl, providerReturn), 400, 'invalid_request');
      expectError(await callback(baseUrl, `${baseUrl}/oauth2/callback?code=abc`), 400, 'invalid_request');
    });

    it("sends the provider's refusal to the client callback as error=access_denied with the client's state", async () => {
      idp.refuseNext('access_denied');

      const login = await browserLogin(baseUrl, { loginHint: 'alice' });

      expect(Object.fromEntries(login.result.searchParams)).toEqual({
        error: 'access_denied',
        error_description: expect.stringContaining('access_denied'),
        state: login.state,
      });
    });

    it('answers a refusal at its own callback in legacy mode: 401, nowhere to redirect to', async () => {
      idp.refuseNext('access_denied');
      const started = await startLogin(baseUrl, { loginHint: 'alice', callback: null });

      const back = await callback(baseUrl, await atProvider(baseUrl, started.response.headers.get('location')!));

      expectError(back, 401, 'unauthorized');
      expect(back.body.error_description).toContain('access_denied');
      expect(back.headers.get('location')).toBeNull();
    });

    it('sends a refusal in the fragment when the client asked for tokens there', async () => {
      idp.refuseNext('access_denied');

      const login = await browserLogin(baseUrl, { loginHint: 'alice', responseType: 'token' });

      expect(new URLSearchParams(login.result.hash.slice(1)).get('error')).toBe('access_denied');
      expect(new URLSearchParams(login.result.hash.slice(1)).get('state')).toBe(login.state);
    });

    it('reports a code the provider does not accept as access_denied', async () => {
      const started = await startLogin(baseUrl, { loginHint: 'alice' });
      const providerReturn = new URL(await atProvider(baseUrl, started.response.headers.get('location')!));
      providerReturn.searchParams.set('code', 'forged-code');

      const back = await callback(baseUrl, providerReturn.href);

      expect(back.status).toBe(302);
      const result = new URL(back.headers.get('location')!);
      expect(result.searchParams.get('error')).toBe('access_denied');
      expect(result.searchParams.get('state')).toBe(started.state);
      expect(result.searchParams.get('code')).toBeNull();
    });

    it('refuses an unknown response_type, and tokens in the fragment without a state', async () => {
      expectError((await startLogin(baseUrl, { responseType: 'id_token' })).response, 400, 'invalid_request');
      const query = new URLSearchParams({
        idp: 'corp',
        client_callback: TEST_CALLBACK,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        response_type: 'token',
      });
      expectError(await restClient(baseUrl).get(`/oauth2/authorize?${query}`), 400, 'invalid_request');
    });
  });
});

describe('an OIDC provider that refuses the server as its client', () => {
  let idp: TestOidcProvider;
  let server: TestServer;

  beforeAll(async () => {
    idp = await startOidcProvider({ redirectUris: () => [`${server.baseUrl}/oauth2/callback`] });
    idp.accounts.set('alice', { sub: 'alice', email: 'alice@corp.example', name: 'Alice Corp' });
    server = await startTestServer({
      TMI_OAUTH_PROVIDERS_CORP_ISSUER: idp.issuer,
      TMI_OAUTH_PROVIDERS_CORP_CLIENT_ID: idp.clientId,
      TMI_OAUTH_PROVIDERS_CORP_CLIENT_SECRET: 'not-the-secret',
      TMI_OAUTH_PROVIDERS_CORP_ALLOW_HTTP: 'true',
    });
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
  });

  it('sends server_error to the client callback, not access_denied', async () => {
    const login = await browserLogin(server.baseUrl, { loginHint: 'alice' });

    expect(login.result.searchParams.get('error')).toBe('server_error');
    expect(login.result.searchParams.get('error_description')).toContain('invalid_client');
    expect(login.result.searchParams.get('state')).toBe(login.state);
  });
});

describe('an OIDC provider that cannot be reached', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      TMI_OAUTH_PROVIDERS_DOWN_ISSUER: 'http://127.0.0.1:9/',
      TMI_OAUTH_PROVIDERS_DOWN_CLIENT_ID: 'client',
      TMI_OAUTH_PROVIDERS_DOWN_ALLOW_HTTP: 'true',
      TMI_OAUTH_PROVIDERS_DOWN_TIMEOUT_SECONDS: '2',
    });
  });
  afterAll(() => server?.close());

  it('answers /oauth2/authorize with 503 and Retry-After', async () => {
    const { response } = await startLogin(server.baseUrl, { idp: 'down' });

    expectError(response, 503, 'service_unavailable');
    expect(response.headers.get('retry-after')).toBe('30');
  });
});
