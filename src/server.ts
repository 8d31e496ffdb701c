import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { restRoutes } from '../rest-compat/routes/index.js';
import { isCollaborationSocketPath, registerCollaborationSocket } from './http/collaboration-socket.js';
import { registerOAuthRoutes } from '../rest-compat/routes/oauth.js';
import { RAW_BODY, registerRestRoutes } from '../rest-compat/route-table.js';
import type { AppDeps } from './app-deps.js';
import { demoteFormerConfiguredAdministrators } from './auth/administrators.js';
import { announceRevocations } from './modules/credentials/revocation.js';
import { loadSigningKey } from './auth/keys.js';
import { AuthService, startRevocationSync, TEST_PROVIDER_ID } from './auth/service.js';
import { AccessTokens } from './auth/tokens.js';
import type { Config } from './infra/config.js';
import { createDatabase } from './infra/db.js';
import { AppError } from './infra/errors/registry.js';
import { startJobs } from './infra/jobs.js';
import { createLogger, type Logger } from './infra/logger.js';
import { createPubSub } from './infra/pubsub.js';
import { createRedis } from './infra/redis.js';
import { sendError } from './http/errors.js';
import { registerRateLimits } from './http/rate-limit.js';
import { registerRoot } from './http/root.js';
import { registerGraphQL } from './http/yoga.js';
import { purgeExpiredCredentialsHandler } from './modules/auth-maintenance/jobs.js';
import { sweepCollaborationHandler } from './modules/collaboration/jobs.js';
import { sweepWebhookDeliveriesHandler } from './modules/webhooks/jobs.js';
import { deliverWebhookHandler } from './modules/webhooks/worker.js';

export interface RunningServer {
  url: string;
  port: number;
  app: FastifyInstance;
  deps: AppDeps;
  close(): Promise<void>;
}

const jsonTypes = ['application/json-patch+json', 'application/merge-patch+json'];

/** Builds every dependency, the HTTP host and both faces, and starts listening. */
export async function startServer(
  config: Config,
  options: { log?: Logger; databaseUrl?: string } = {},
): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const databaseUrl = options.databaseUrl ?? config.database.url;
  if (!databaseUrl) throw new Error('startServer needs a database URL');
  const db = createDatabase(databaseUrl);
  const cleanups: (() => Promise<void> | void)[] = [() => db.close()];

  try {
    const redis = config.redis.url ? createRedis(config.redis.url) : undefined;
    if (redis) {
      redis.on('error', (error) => log.warn({ err: error }, 'redis error'));
      cleanups.push(() => void redis.disconnect());
    }
    const pubsubRedis = config.redis.url
      ? { publisher: createRedis(config.redis.url), subscriber: createRedis(config.redis.url) }
      : undefined;
    for (const connection of Object.values(pubsubRedis ?? {})) {
      connection.on('error', (error) => log.warn({ err: error }, 'redis pubsub error'));
    }
    const pubsub = createPubSub({ prefix: config.redis.prefix, redis: pubsubRedis });
    cleanups.push(() => pubsub.close());

    // For scheduled jobs, which act as the system rather than as a user; `deps` exists before they run.
    const systemContext = () => deps.serviceContext({ principal: undefined, requestId: `job-${randomUUID()}` });
    const jobs = await startJobs({
      connectionString: databaseUrl,
      schema: config.jobs.schema,
      log,
      registry: [
        purgeExpiredCredentialsHandler(db),
        sweepCollaborationHandler(systemContext),
        deliverWebhookHandler(config.webhooks, systemContext),
        sweepWebhookDeliveriesHandler(systemContext),
      ],
      work: config.roles.has('worker'),
      superviseIntervalSeconds: config.jobs.superviseIntervalSeconds,
    });
    cleanups.push(() => jobs.stop());

    const signingKey = await loadSigningKey(db.prisma, config.auth.jwtPrivateKey);
    let listeningUrl = `http://127.0.0.1:${config.http.port}`;
    const baseUrl = () => config.http.publicBaseUrl ?? listeningUrl;
    const tokens = new AccessTokens(
      signingKey,
      () => config.auth.jwtIssuer ?? baseUrl(),
      config.auth.accessTokenSeconds,
    );

    const demoted = await demoteFormerConfiguredAdministrators(db.prisma, config.auth, new Date());
    if (demoted.length > 0) {
      await announceRevocations({ revocations: tokens, pubsub }, demoted);
      log.info(
        { demoted: demoted.length },
        'administrators the configuration no longer names are administrators no more',
      );
    }

    const identityProviders = [
      ...config.auth.identity.providers.map((provider) => provider.id),
      ...(config.auth.testProviderEnabled ? [TEST_PROVIDER_ID] : []),
    ];
    const deps: AppDeps = {
      config,
      log,
      db,
      redis,
      pubsub,
      jobs,
      signingKey,
      tokens,
      baseUrl,
      serviceContext: ({ principal, requestId, log: requestLog }) => ({
        principal,
        db,
        pubsub,
        jobs,
        log: requestLog ?? log,
        requestId,
        now: () => new Date(),
        webhooks: config.webhooks,
        revocations: tokens,
        identityProviders,
      }),
    };
    const stopRevocationSync = await startRevocationSync(deps);
    cleanups.push(stopRevocationSync);

    const app = await buildHttpApp(deps, { api: config.roles.has('api') });
    cleanups.push(() => app.close());
    await app.listen({ port: config.http.port, host: config.http.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    listeningUrl = `http://127.0.0.1:${port}`;
    log.info({ url: baseUrl(), port }, 'TMI server listening');

    return { url: listeningUrl, port, app, deps, close: () => runCleanups(cleanups) };
  } catch (error) {
    await runCleanups(cleanups);
    throw error;
  }
}

/** Releases in reverse order of acquisition: the HTTP host first, the database last. */
async function runCleanups(cleanups: (() => Promise<void> | void)[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Shutting down: keep releasing the rest.
    }
  }
}

/** The HTTP host; a worker-only process serves just `GET /`, for health checks. */
export async function buildHttpApp(deps: AppDeps, options: { api: boolean }): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.log.child({ module: 'http' }),
    bodyLimit: config.http.maxBodyBytes,
    trustProxy: config.http.trustProxy,
    genReqId: (request) => {
      const header = request.headers['x-request-id'];
      return typeof header === 'string' && /^[\w-]{1,64}$/.test(header) ? header : randomUUID();
    },
    // Path parameters longer than the router's default 100 characters reach the routes, which answer TMI's 400
    // (the contract documents no 414), e.g. an `idp` of 101.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
  }) as unknown as FastifyInstance;

  // JSON bodies are parsed by Fastify's safe parser, and their text is kept: signed callbacks verify it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', ...jsonTypes], { parseAs: 'string' }, (request, body, done) => {
    (request as typeof request & { [RAW_BODY]?: string })[RAW_BODY] = body as string;
    void parseJson(request, body as string, done);
  });
  await app.register(formbody, { bodyLimit: config.http.maxBodyBytes });
  await app.register(cookie);
  await app.register(helmet, {
    // GraphiQL loads its assets from a CDN; the API itself serves JSON.
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    hsts: config.env === 'production',
  });
  const allowed = new Set(config.http.corsAllowedOrigins);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['content-type', 'cache-control', 'pragma', 'authorization', 'if-match', 'x-request-id'],
    exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600,
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  if (options.api) await registerRateLimits(app, deps);
  // Remember every route so a known path asked with the wrong method gets 405, as TMI answers.
  const knownRoutes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat().map((method) => method.toUpperCase());
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+');
    knownRoutes.push({ pattern: new RegExp(`^${source}/?$`), methods: new Set(methods) });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = knownRoutes.filter((route) => route.pattern.test(path)).flatMap((route) => [...route.methods]);
    if (allowed.length > 0) {
      reply.header('Allow', [...new Set(allowed)].filter((method) => method !== 'HEAD').join(', '));
      return sendError(
        request,
        reply,
        new AppError('METHOD_NOT_ALLOWED', `${request.method} is not supported on ${path}`),
      );
    }
    return sendError(request, reply, new AppError('ROUTE_NOT_FOUND', `No endpoint ${request.method} ${path}`));
  });

  registerRoot(app, deps);
  if (!options.api) return app;
  await registerOAuthRoutes(app, deps, new AuthService(deps));
  registerRestRoutes(app, deps, restRoutes);
  const graphql = registerGraphQL(app, deps);
  const collaboration = registerCollaborationSocket(app, deps);
  // Upgrades to any other path are answered, not left hanging.
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/graphql' || isCollaborationSocketPath(path)) return;
    const body = JSON.stringify({ error: 'not_found', error_description: `No WebSocket endpoint at ${path}` });
    socket.end(
      `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
  // Before the HTTP server closes: it waits for every socket, WebSockets included, so they must go first.
  app.addHook('preClose', async () => {
    await collaboration.close();
    await graphql.close();
  });
  return app;
}
