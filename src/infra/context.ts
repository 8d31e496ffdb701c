import type { Principal } from '../auth/principal.js';
import { AppError } from './errors/registry.js';
import type { WebhookConfig } from './config.js';
import type { Database } from './db.js';
import type { Jobs } from './jobs.js';
import type { Logger } from './logger.js';
import type { PubSubBus } from './pubsub.js';

/** Everything a service needs for one request; services import no transport code. */
export interface ServiceContext {
  principal: Principal | undefined;
  db: Database;
  pubsub: PubSubBus;
  jobs: Jobs;
  log: Logger;
  requestId: string;
  now: () => Date;
  /** Webhook policy (SSRF rules, timeouts, retries) for the services that create and send deliveries. */
  webhooks: WebhookConfig;
  /** Makes this instance refuse an access token at once (others hear of it through pubsub, `auth.token_revoked`). */
  revocations: { markRevoked(jti: string, expiresAtSeconds: number): void };
  /** The identity providers users sign in with here: the configured ones, and `tmi` when the test provider is on. */
  identityProviders: readonly string[];
}

export type AuthenticatedContext = ServiceContext & { principal: Principal };

export function requirePrincipal(ctx: ServiceContext): Principal {
  if (!ctx.principal) throw new AppError('UNAUTHENTICATED');
  return ctx.principal;
}

/** The caller, who must be an administrator (401 without credentials, 403 without the role). */
export function requireAdmin(ctx: ServiceContext): Principal {
  const principal = requirePrincipal(ctx);
  if (!principal.isAdmin) throw new AppError('ADMIN_REQUIRED');
  return principal;
}
