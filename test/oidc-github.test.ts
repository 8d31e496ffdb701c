import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient, type RestResponse } from './helpers/clients.js';
import { pkcePair, TEST_CALLBACK } from './helpers/login.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// GitHub's OAuth 2.0 login (not OIDC: no discovery, no ID token; the user and their e-mail addresses come
// from its REST API), against a loopback stand-in for GitHub's three endpoints that checks what GitHub
// checks: client credentials, redirect_uri, the PKCE verifier, single-use codes, bearer tokens.

interface GitHubAccount {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

interface FakeGitHub {
  url: string;
  clientId: string;
  clientSecret: string;
  /** The account the next authorization signs in. */
  account: GitHubAccount;
  /** The next authorization is refused as a user cancelling would be. */
  denyNext: boolean;
  requests: string[];
  close(): Promise<void>;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function startFakeGitHub(): Promise<FakeGitHub> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const codes = new Map<string, { account: GitHubAccount; redirectUri: string; challenge: string }>();
  const tokens = new Map<string, GitHubAccount>();
  const fake: FakeGitHub = {
    url,
    clientId: 'Iv1.fakeclient',
    clientSecret: 'fake-github-secret',
    account: { id: 1, login: 'octocat', name: null, emails: [] },
    denyNext: false,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const json = (response: import('node:http').ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  server.on('request', (request, response) => {
    void (async () => {
      const requestUrl = new URL(request.url ?? '/', url);
      fake.requests.push(`${request.method} ${requestUrl.pathname}`);
      if (request.method === 'GET' && requestUrl.pathname === '/login/oauth/authorize') {
        const params = requestUrl.searchParams;
        const back = new URL(params.get('redirect_uri')!);
        if (params.get('client_id') !== fake.clientId) return json(response, 400, { error: 'unknown client' });
        if (fake.denyNext) {
          fake.denyNext = false;
          back.searchParams.set('error', 'access_denied');
          back.searchParams.set('error_description', 'The user has denied your application access.');
        } else {
          const code = randomBytes(10).toString('hex');
          codes.set(code, {
            account: fake.account,
            redirectUri: params.get('redirect_uri')!,
            challenge: params.get('code_challenge')!,
          });
          back.searchParams.set('code', code);
        }
        back.searchParams.set('state', params.get('state')!);
        response.writeHead(302, { location: back.href }).end();
        return;
      }
      if (request.method === 'POST' && requestUrl.pathname === '/login/oauth/access_token') {
        const form = await readForm(request);
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifierOk =
          grant &&
          createHash('sha256')
            .update(form.get('code_verifier') ?? '')
            .digest('base64url') === grant.challenge;
        // GitHub answers a bad code with 200 and an error body.
        if (
          form.get('client_id') !== fake.clientId ||
          form.get('client_secret') !== fake.clientSecret ||
          !grant ||
          grant.redirectUri !== form.get('redirect_uri') ||
          !verifierOk
        ) {
          return json(response, 200, { error: 'bad_verification_code', error_description: 'The code is incorrect.' });
        }
        const token = `gho_${randomBytes(12).toString('hex')}`;
        tokens.set(token, grant.account);
        return json(response, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const account = tokens.get((request.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (!account) return json(response, 401, { message: 'Requires authentication' });
      if (requestUrl.pathname === '/user') {
        return json(response, 200, { id: account.id, login: account.login, name: account.name, email: null });
      }
      if (requestUrl.pathname === '/user/emails') return json(response, 200, account.emails);
      return json(response, 404, { message: 'Not Found' });
    })();
  });
  return fake;
}

async function githubLogin(
  baseUrl: string,
  options: { responseType?: string } = {},
): Promise<{ state: string; verifier: string; result: URL }> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(6).toString('hex');
  const query = new URLSearchParams({
    idp: 'github',
    client_callback: TEST_CALLBACK,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(options.responseType ? { response_type: options.responseType } : {}),
  });
  const rest = restClient(baseUrl);
  const start = await rest.get(`/oauth2/authorize?${query}`);
  expect(start.status).toBe(302);
  const atGitHub = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const providerReturn = new URL(atGitHub.headers.get('location')!);
  expect(providerReturn.href.startsWith(`${baseUrl}/oauth2/callback?`)).toBe(true);
  const back: RestResponse = await rest.get(`${providerReturn.pathname}${providerReturn.search}`);
  expect(back.status).toBe(302);
  return { state, verifier, result: new URL(back.headers.get('location')!) };
}

describe('login through GitHub', () => {
  let github: FakeGitHub;
  let server: TestServer;
  let baseUrl: string;

  beforeAll(async () => {
    github = await startFakeGitHub();
    // Configured by environment alone, with the preset's defaults for everything but GitHub's addresses;
    // no Redis: logins in flight are kept in the process.
    server = await startTestServer(
      {
        TMI_OAUTH_PROVIDERS_GITHUB_CLIENT_ID: github.clientId,
        TMI_OAUTH_PROVIDERS_GITHUB_CLIENT_SECRET: github.clientSecret,
        TMI_OAUTH_PROVIDERS_GITHUB_AUTHORIZATION_URL: `${github.url}/login/oauth/authorize`,
        TMI_OAUTH_PROVIDERS_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
        TMI_OAUTH_PROVIDERS_GITHUB_API_URL: github.url,
        TMI_OAUTH_PROVIDERS_GITHUB_ALLOW_HTTP: 'true',
        TMI_ADMIN_PROVIDER: 'github',
        TMI_ADMIN_PROVIDER_ID: '583231',
      },
      { withoutRedis: true },
    );
    baseUrl = server.baseUrl;
  });
  afterAll(async () => {
    await server?.close();
    await github?.close();
  });

  it('is listed with the GitHub preset', async () => {
    const response = await restClient(baseUrl).get('/oauth2/providers');

    expect(response.body.providers[0]).toEqual({
      id: 'github',
      name: 'GitHub',
      icon: 'fa-brands fa-github',
      auth_url: `${baseUrl}/oauth2/authorize?idp=github`,
      token_url: `${baseUrl}/oauth2/token`,
      redirect_uri: `${baseUrl}/oauth2/callback`,
      client_id: github.clientId,
    });
  });

  it('signs in with the numeric user id and the primary verified address', async () => {
    github.account = {
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      emails: [
        { email: 'unverified@example.com', primary: false, verified: false },
        { email: 'octocat@github.example', primary: true, verified: true },
      ],
    };

    const login = await githubLogin(baseUrl);

    expect(login.result.searchParams.get('state')).toBe(login.state);
    const tokens = await restClient(baseUrl).post('/oauth2/token', {
      grant_type: 'authorization_code',
      code: login.result.searchParams.get('code'),
      code_verifier: login.verifier,
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token)).toMatchObject({
      idp: 'github',
      provider_id: '583231',
      email: 'octocat@github.example',
      name: 'The Octocat',
      groups: [],
      // TMI_ADMIN_PROVIDER + TMI_ADMIN_PROVIDER_ID name this user.
      is_admin: true,
    });
    expect(github.requests).toEqual(
      expect.arrayContaining(['POST /login/oauth/access_token', 'GET /user', 'GET /user/emails']),
    );
  });

  it('falls back to the login and a no-reply address when nothing is verified', async () => {
    github.account = { id: 42, login: 'hubot', name: null, emails: [] };

    const login = await githubLogin(baseUrl, { responseType: 'token' });

    const token = new URLSearchParams(login.result.hash.slice(1)).get('access_token')!;
    const me = await restClient(baseUrl, token).get('/me');
    expect(me.body).toMatchObject({
      provider: 'github',
      provider_id: '42',
      name: 'hubot',
      email: '42+hubot@users.noreply.github.com',
      is_admin: false,
    });
  });

  it("sends GitHub's refusal to the client callback", async () => {
    github.denyNext = true;

    const login = await githubLogin(baseUrl);

    expect(login.result.searchParams.get('error')).toBe('access_denied');
    expect(login.result.searchParams.get('state')).toBe(login.state);
  });

  it('reports a code GitHub refuses (with its 200 and error body) as access_denied', async () => {
    const { challenge } = pkcePair();
    const query = new URLSearchParams({
      idp: 'github',
      client_callback: TEST_CALLBACK,
      state: 'client-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const rest = restClient(baseUrl);
    const start = await rest.get(`/oauth2/authorize?${query}`);
    const atGitHub = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const providerReturn = new URL(atGitHub.headers.get('location')!);
    providerReturn.searchParams.set('code', 'forged');

    const back = await rest.get(`${providerReturn.pathname}${providerReturn.search}`);

    expect(back.status).toBe(302);
    const result = new URL(back.headers.get('location')!);
    expect(result.searchParams.get('error')).toBe('access_denied');
    expect(result.searchParams.get('error_description')).toContain('bad_verification_code');
    expect(result.searchParams.get('state')).toBe('client-state');
  });

  it('refuses a callback whose state this instance never issued', async () => {
    const response = await restClient(baseUrl).get('/oauth2/callback?code=abc&state=unknown');

    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });
});
