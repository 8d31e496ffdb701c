import type { TestServer } from './server.js';

export interface TestUser {
  id: string;
  provider: string;
  providerId: string;
  email: string;
  name: string;
  token: string;
}

/**
 * A signed-in user without going through the login flow (which test/auth.test.ts covers): the user row
 * is created as the test provider would and the token is issued by the server's own key.
 */
export async function signIn(server: TestServer, hint: string, options: { groups?: string[] } = {}): Promise<TestUser> {
  const user = await server.deps.db.prisma.user.upsert({
    where: { provider_providerId: { provider: 'tmi', providerId: hint } },
    create: {
      provider: 'tmi',
      providerId: hint,
      email: `${hint}@tmi.local`,
      name: `${hint} (TMI test user)`,
      groups: options.groups ?? [],
    },
    update: { groups: options.groups ?? [] },
  });
  const { token } = await server.deps.tokens.issue(user);
  return {
    id: user.id,
    provider: user.provider,
    providerId: user.providerId,
    email: user.email,
    name: user.name,
    token,
  };
}

export function userEntry(user: TestUser, role: 'reader' | 'writer' | 'owner') {
  return { principal_type: 'user', provider: user.provider, provider_id: user.providerId, email: user.email, role };
}
