import { createHash, randomBytes } from 'node:crypto';

/** A loopback callback: allowed outside production without configuration. */
export const TEST_CALLBACK = 'http://localhost:4200/oauth2/callback';

export interface LoginResult {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkcePair(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeOptions {
  loginHint?: string;
  challenge: string;
  state?: string;
  callback?: string;
}

/** GET /oauth2/authorize as a browser would start it; returns the redirect without following it. */
export function authorize(baseUrl: string, options: AuthorizeOptions): Promise<Response> {
  const query = new URLSearchParams({
    idp: 'tmi',
    client_callback: options.callback ?? TEST_CALLBACK,
    state: options.state ?? randomBytes(8).toString('hex'),
    code_challenge: options.challenge,
    code_challenge_method: 'S256',
    scope: 'openid profile email',
  });
  if (options.loginHint !== undefined) query.set('login_hint', options.loginHint);
  return fetch(`${baseUrl}/oauth2/authorize?${query}`, { redirect: 'manual' });
}

/** The authorization code from a successful authorize redirect. */
export async function authorizationCode(baseUrl: string, options: AuthorizeOptions): Promise<string> {
  const response = await authorize(baseUrl, options);
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) {
    throw new Error(`authorize failed: ${response.status} ${await response.text()}`);
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`authorize redirect without a code: ${location}`);
  return code;
}

/** The real PKCE login with the built-in `tmi` provider (a random test user without a hint). */
export async function login(baseUrl: string, loginHint?: string): Promise<LoginResult> {
  const { verifier, challenge } = pkcePair();
  const code = await authorizationCode(baseUrl, { loginHint, challenge });
  const response = await fetch(`${baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: TEST_CALLBACK,
    }),
  });
  if (response.status !== 200) throw new Error(`token exchange failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
  return { accessToken: body.access_token, refreshToken: body.refresh_token, expiresIn: body.expires_in };
}
