import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { AccessTokens } from '../auth/tokens.js';

export const ACCESS_COOKIE = 'tmi_access_token';
export const REFRESH_COOKIE = 'tmi_refresh_token';

/** The caller's token: a bearer header, else the web client's cookie. */
export function tokenFromHeaders(
  authorization: string | undefined,
  cookieHeader: string | undefined,
): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ?? authorization;
  }
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === ACCESS_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** undefined when no credentials were sent; throws INVALID_TOKEN when they were but do not verify. */
export async function principalFromRequest(
  tokens: AccessTokens,
  request: Pick<FastifyRequest, 'headers'>,
): Promise<Principal | undefined> {
  const token = tokenFromHeaders(request.headers.authorization, request.headers.cookie);
  if (!token) return undefined;
  return tokens.verify(token);
}
