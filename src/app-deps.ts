import type { AccessTokens } from './auth/tokens.js';
import type { SigningKey } from './auth/keys.js';
import type { Config } from './infra/config.js';
import type { ServiceContext } from './infra/context.js';
import type { Database } from './infra/db.js';
import type { Jobs } from './infra/jobs.js';
import type { Logger } from './infra/logger.js';
import type { PubSubBus } from './infra/pubsub.js';
import type { Redis } from './infra/redis.js';

/** The long-lived parts of one server process, built once at start-up and handed to each face. */
export interface AppDeps {
  config: Config;
  log: Logger;
  db: Database;
  redis: Redis | undefined;
  pubsub: PubSubBus;
  jobs: Jobs;
  signingKey: SigningKey;
  tokens: AccessTokens;
  /** The issuer / public base URL: configured, or the local listening address. */
  baseUrl: () => string;
  /** A service context for work done on a request's behalf (principal may be undefined). */
  serviceContext: (options: {
    principal: ServiceContext['principal'];
    requestId: string;
    log?: Logger;
  }) => ServiceContext;
}
