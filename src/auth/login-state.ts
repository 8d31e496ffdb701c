import type { Redis } from '../infra/redis.js';
import { hashSecret } from './tokens.js';

// A login in flight at an identity provider: what the client asked for (its callback, state and PKCE
// challenge) and the server's own PKCE verifier and nonce with the provider, kept under the state the
// server sent the provider. Short-lived and single-use: taking it removes it. In Redis when configured
// (every instance sees it, whichever one the provider's callback reaches), else in this process.

export interface PendingLogin {
  providerId: string;
  /** Where the login's result goes; null in TMI's legacy mode, where /oauth2/callback answers the tokens. */
  clientCallback: string | null;
  clientState: string | undefined;
  codeChallenge: string;
  delivery: 'code' | 'fragment' | 'json';
  /** Who signs in, for the built-in test provider (legacy mode only: otherwise it signs in at once). */
  loginHint?: string;
  /** The server's PKCE verifier and nonce with the provider. */
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
}

export interface PendingLoginStore {
  put(state: string, login: PendingLogin, ttlSeconds: number): Promise<void>;
  /** The login stored under `state`, removed in the same step; undefined when unknown, expired or taken. */
  take(state: string): Promise<PendingLogin | undefined>;
}

export function pendingLoginStore(redis: Redis | undefined, prefix: string): PendingLoginStore {
  return redis ? new RedisPendingLogins(redis, `${prefix}:oauth:login:`) : new MemoryPendingLogins();
}

class RedisPendingLogins implements PendingLoginStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async put(state: string, login: PendingLogin, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.key(state), JSON.stringify(login), 'EX', ttlSeconds);
  }

  async take(state: string): Promise<PendingLogin | undefined> {
    const value = await this.redis.getdel(this.key(state));
    return value === null ? undefined : (JSON.parse(value) as PendingLogin);
  }

  private key(state: string): string {
    // Only a hash of the state is stored: the key list does not reveal usable states.
    return this.prefix + hashSecret(state);
  }
}

class MemoryPendingLogins implements PendingLoginStore {
  private readonly logins = new Map<string, { login: PendingLogin; expiresAt: number }>();

  async put(state: string, login: PendingLogin, ttlSeconds: number): Promise<void> {
    const now = Date.now();
    for (const [key, entry] of this.logins) if (entry.expiresAt <= now) this.logins.delete(key);
    this.logins.set(hashSecret(state), { login, expiresAt: now + ttlSeconds * 1000 });
  }

  async take(state: string): Promise<PendingLogin | undefined> {
    const key = hashSecret(state);
    const entry = this.logins.get(key);
    this.logins.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.login : undefined;
  }
}
