import { z } from 'zod';
import { loadIdentityConfig, type IdentityConfig } from './identity-config.js';

// The only module that reads process.env: everything else receives a typed Config.

const csv = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((value) => (value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value)));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  TMI_PUBLIC_BASE_URL: z.url().optional(),
  DATABASE_URL: z.string().optional(),
  REDIS_URL: z.string().optional(),
  TMI_DATA_DIR: z.string().default('.data'),
  TMI_EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  TMI_ROLES: z
    .string()
    .default('api,worker')
    .transform((value) => new Set(value.split(',').map((role) => role.trim())))
    .pipe(z.set(z.enum(['api', 'worker']))),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TMI_CORS_ALLOWED_ORIGINS: csv,
  TMI_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  TMI_JWT_PRIVATE_KEY: z.string().optional(),
  TMI_JWT_ISSUER: z.string().optional(),
  TMI_JWT_EXPIRATION_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  TMI_REFRESH_TOKEN_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  TMI_TEST_PROVIDER_ENABLED: bool(true),
  TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST: csv,
  TMI_ADMIN_PROVIDER: z.string().optional(),
  TMI_ADMIN_PROVIDER_ID: z.string().optional(),
  TMI_ADMIN_EMAIL: z.string().optional(),
  TMI_AUTH_AUTO_PROMOTE_FIRST_USER: bool(false),
  TMI_CONFIG_FILE: z.string().optional(),
  TMI_OAUTH_CALLBACK_URL: z.string().optional(),
  TMI_OAUTH_TOKEN_DELIVERY: z.string().optional(),
  TMI_COOKIE_SECURE: bool(false),
  TMI_OPERATOR_NAME: z.string().optional(),
  TMI_OPERATOR_CONTACT: z.string().optional(),
  TMI_GRAPHIQL: bool(true),
  TMI_TRUST_PROXY: bool(false),
  TMI_PUBSUB_PREFIX: z.string().default('tmi'),
  TMI_JOBS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('pgboss'),
  TMI_CLIENT_URL: z.string().optional(),
  TMI_WS_PING_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  TMI_JOBS_SUPERVISE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  TMI_WEBHOOK_ALLOW_HTTP_TARGETS: bool(false),
  TMI_SSRF_WEBHOOK_ALLOWLIST: csv,
  TMI_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  TMI_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  TMI_WEBHOOK_RETRY_DELAY_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  TMI_WEBHOOK_RETRY_DELAY_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3600),
  TMI_WEBHOOK_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(10),
  TMI_WEBHOOK_IN_PROGRESS_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  TMI_WEBHOOK_WORKER_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(100),
  TMI_WEBHOOK_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(4),
  TMI_RATE_LIMIT_ENABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).optional(),
  TMI_RATE_LIMIT_AUTH_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(100),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  env: 'development' | 'production' | 'test';
  http: {
    port: number;
    host: string;
    publicBaseUrl: string | undefined;
    corsAllowedOrigins: string[];
    maxBodyBytes: number;
    graphiql: boolean;
    cookieSecure: boolean;
    /** Behind a load balancer: take the client address and protocol from X-Forwarded-* headers. */
    trustProxy: boolean;
  };
  database: { url: string | undefined; dataDir: string; embeddedPort: number };
  redis: { url: string | undefined; prefix: string };
  jobs: { schema: string; superviseIntervalSeconds: number };
  /** Collaboration sockets: a ping this often; a connection that misses a whole interval's pong is gone. */
  collaboration: { pingIntervalMs: number };
  webhooks: WebhookConfig;
  /**
   * Per-user API quotas (each user's requests a minute and an hour) and a per-address limit on the sign-in
   * endpoints; on by default except under NODE_ENV=test.
   */
  rateLimits: { enabled: boolean; authRequestsPerMinute: number };
  roles: Set<'api' | 'worker'>;
  logLevel: string;
  auth: {
    jwtPrivateKey: string | undefined;
    jwtIssuer: string | undefined;
    accessTokenSeconds: number;
    refreshTokenDays: number;
    testProviderEnabled: boolean;
    clientCallbackAllowList: string[];
    admin: { provider: string | undefined; providerId: string | undefined; email: string | undefined };
    autoPromoteFirstUser: boolean;
    /** Identity providers and administrators (TMI_CONFIG_FILE and TMI_OAUTH_PROVIDERS_* variables). */
    identity: IdentityConfig;
  };
  operator: { name: string; contact: string } | undefined;
  clientUrl: string | undefined;
}

export interface WebhookConfig {
  /** Plain http targets are allowed (local development only). */
  allowHttpTargets: boolean;
  /** Hosts a webhook may target whatever they resolve to (e.g. 127.0.0.1, localhost for a local receiver). */
  allowedHosts: string[];
  timeoutMs: number;
  /** Attempts per delivery, the first included; then it is `failed`. */
  maxAttempts: number;
  retryDelaySeconds: number;
  retryDelayMaxSeconds: number;
  /** Consecutive failed deliveries after which a subscription stops receiving (`pending_delete`). */
  failureThreshold: number;
  /** An async delivery with no final status callback for this long is `failed`. */
  inProgressTimeoutSeconds: number;
  worker: { batchSize: number; concurrency: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** Parses the environment once; reports every problem at the same time. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  const problems: string[] = [];
  const identity = loadIdentityConfig(
    source,
    { file: env.TMI_CONFIG_FILE, callbackUrl: env.TMI_OAUTH_CALLBACK_URL, tokenDelivery: env.TMI_OAUTH_TOKEN_DELIVERY },
    problems,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      publicBaseUrl: env.TMI_PUBLIC_BASE_URL?.replace(/\/$/, ''),
      corsAllowedOrigins: env.TMI_CORS_ALLOWED_ORIGINS,
      maxBodyBytes: env.TMI_MAX_BODY_BYTES,
      graphiql: env.TMI_GRAPHIQL,
      cookieSecure: env.TMI_COOKIE_SECURE || production,
      trustProxy: env.TMI_TRUST_PROXY,
    },
    database: { url: env.DATABASE_URL, dataDir: env.TMI_DATA_DIR, embeddedPort: env.TMI_EMBEDDED_POSTGRES_PORT },
    redis: { url: env.REDIS_URL, prefix: env.TMI_PUBSUB_PREFIX },
    jobs: { schema: env.TMI_JOBS_SCHEMA, superviseIntervalSeconds: env.TMI_JOBS_SUPERVISE_INTERVAL_SECONDS },
    collaboration: { pingIntervalMs: env.TMI_WS_PING_INTERVAL_MS },
    webhooks: {
      allowHttpTargets: env.TMI_WEBHOOK_ALLOW_HTTP_TARGETS,
      allowedHosts: env.TMI_SSRF_WEBHOOK_ALLOWLIST,
      timeoutMs: env.TMI_WEBHOOK_TIMEOUT_MS,
      maxAttempts: env.TMI_WEBHOOK_MAX_ATTEMPTS,
      retryDelaySeconds: env.TMI_WEBHOOK_RETRY_DELAY_SECONDS,
      retryDelayMaxSeconds: env.TMI_WEBHOOK_RETRY_DELAY_MAX_SECONDS,
      failureThreshold: env.TMI_WEBHOOK_FAILURE_THRESHOLD,
      inProgressTimeoutSeconds: env.TMI_WEBHOOK_IN_PROGRESS_TIMEOUT_SECONDS,
      worker: { batchSize: env.TMI_WEBHOOK_WORKER_BATCH_SIZE, concurrency: env.TMI_WEBHOOK_WORKER_CONCURRENCY },
    },
    rateLimits: {
      enabled:
        env.TMI_RATE_LIMIT_ENABLED === undefined || env.TMI_RATE_LIMIT_ENABLED === ''
          ? env.NODE_ENV !== 'test'
          : ['true', '1', 'yes'].includes(env.TMI_RATE_LIMIT_ENABLED),
      authRequestsPerMinute: env.TMI_RATE_LIMIT_AUTH_PER_MINUTE,
    },
    roles: env.TMI_ROLES,
    logLevel: env.LOG_LEVEL,
    auth: {
      jwtPrivateKey: env.TMI_JWT_PRIVATE_KEY,
      jwtIssuer: env.TMI_JWT_ISSUER,
      accessTokenSeconds: env.TMI_JWT_EXPIRATION_SECONDS,
      refreshTokenDays: env.TMI_REFRESH_TOKEN_DAYS,
      // The built-in test provider signs anyone in: on for local use, off in production unless asked for.
      testProviderEnabled: production ? source.TMI_TEST_PROVIDER_ENABLED === 'true' : env.TMI_TEST_PROVIDER_ENABLED,
      clientCallbackAllowList: env.TMI_OAUTH_CLIENT_CALLBACK_ALLOWLIST,
      admin: { provider: env.TMI_ADMIN_PROVIDER, providerId: env.TMI_ADMIN_PROVIDER_ID, email: env.TMI_ADMIN_EMAIL },
      autoPromoteFirstUser: env.TMI_AUTH_AUTO_PROMOTE_FIRST_USER,
      identity,
    },
    operator:
      env.TMI_OPERATOR_NAME && env.TMI_OPERATOR_CONTACT
        ? { name: env.TMI_OPERATOR_NAME, contact: env.TMI_OPERATOR_CONTACT }
        : undefined,
    clientUrl: env.TMI_CLIENT_URL,
  };
}
