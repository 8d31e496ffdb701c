import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

// A real OpenID Connect provider (the `oidc-provider` package) on a loopback port, for login tests. Its
// login and consent pages are replaced by an endpoint that signs in the account the test chose (by the
// login_hint the server forwards), grants what was asked, or refuses when the test says so.

export interface TestAccount {
  sub: string;
  email: string;
  emailVerified?: boolean;
  name: string;
  groups?: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** The next login is refused with this error (e.g. `access_denied`), as a user declining consent. */
  refuseNext(error: string): void;
  /** Authorization codes the provider redeemed (so a test can see which ones it was asked for). */
  redeemedCodes: number;
  close(): Promise<void>;
}

/**
 * `redirectUris` is read when the first request arrives, so a test can start the provider, then the
 * server configured with its issuer, then tell the provider the server's callback.
 */
export async function startOidcProvider(options: { redirectUris: () => string[] }): Promise<TestOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'tmi-test-client';
  const clientSecret = 'tmi-test-client-secret-0123456789abcdef';
  const accounts = new Map<string, TestAccount>();
  let refusal: string | undefined;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

  const configuration = (): Configuration => ({
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris(),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['oidc-test-cookie-key'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: account.emailVerified ?? true,
          name: account.name,
          groups: account.groups ?? [],
        }),
      };
    },
  });
  const state = { redeemedCodes: 0 };
  let started: { provider: Provider; handle: ReturnType<Provider['callback']> } | undefined;
  const start = () => {
    const provider = new Provider(issuer, configuration());
    provider.on('authorization_code.consumed', () => {
      state.redeemedCodes += 1;
    });
    return { provider, handle: provider.callback() };
  };

  server.on('request', (request, response) => {
    started ??= start();
    const { provider, handle } = started;
    if (!request.url?.startsWith('/interaction/')) {
      void handle(request, response);
      return;
    }
    void (async () => {
      try {
        const interaction = await provider.interactionDetails(request, response);
        if (refusal) {
          const error = refusal;
          refusal = undefined;
          await provider.interactionFinished(request, response, {
            error,
            error_description: 'The user declined',
          });
          return;
        }
        const hint = interaction.params.login_hint;
        const accountId = typeof hint === 'string' && accounts.has(hint) ? hint : accounts.keys().next().value;
        if (!accountId) throw new Error('the test OIDC provider has no account');
        const grant = new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
        grant.addOIDCScope(String(interaction.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(
          request,
          response,
          { login: { accountId }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      } catch (error) {
        response.statusCode = 500;
        response.end(String(error));
      }
    })();
  });

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    refuseNext(error) {
      refusal = error;
    },
    get redeemedCodes() {
      return state.redeemedCodes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A browser following redirects from `start` (keeping each origin's cookies) until one leads outside the
 * servers it knows, i.e. to the client's callback; returns that URL, or the response that ended the walk.
 */
export async function followLogin(
  start: string,
  options: { stopAt: string; maxRedirects?: number },
): Promise<{ location: string } | { response: Response }> {
  const jar = new Map<string, Map<string, string>>();
  let url = start;
  for (let hop = 0; hop < (options.maxRedirects ?? 20); hop += 1) {
    if (url.startsWith(options.stopAt)) return { location: url };
    const origin = new URL(url).origin;
    const cookies = jar.get(origin) ?? new Map<string, string>();
    jar.set(origin, cookies);
    const response = await fetch(url, {
      redirect: 'manual',
      headers: cookies.size ? { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response };
    await response.arrayBuffer();
    url = new URL(location, url).href;
  }
  throw new Error(`too many redirects from ${start}`);
}

/** Writes a YAML configuration file (TMI_CONFIG_FILE) and returns its path. */
export function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tmi-config-')), 'config.yml');
  writeFileSync(path, text);
  return path;
}
