import { usePayloadFormatter } from '@envelop/core';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type DocumentNode, type ExecutionResult, GraphQLError, getOperationAST, parse, validate } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext } from '../../schema/context.js';
import { schema } from '../../schema/index.js';
import type { AppDeps } from '../app-deps.js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../infra/logger.js';
import { toPublicError } from '../infra/errors/public.js';
import { ConnectionPresence } from '../modules/collaboration/presence.js';
import { principalFromRequest, tokenFromHeaders } from './auth.js';
import { randomUUID } from 'node:crypto';

/** Maps any resolver error through the registry: AppErrors keep their code and status, others are masked. */
export function maskError(error: unknown, requestId: string, log?: Logger): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (error instanceof GraphQLError && !error.originalError) return error; // parse/validation errors
  const mapped = toPublicError(original, requestId);
  if (mapped.code === 'INTERNAL') log?.error({ err: original, requestId }, 'GraphQL resolver failed');
  else log?.info({ code: mapped.code, requestId }, 'GraphQL request rejected');
  return new GraphQLError(mapped.body.error_description, {
    path: error instanceof GraphQLError ? error.path : undefined,
    nodes: error instanceof GraphQLError ? error.nodes : undefined,
    extensions: {
      ...mapped.extensions,
      ...(mapped.retryAfterSeconds !== undefined ? { retryAfter: mapped.retryAfterSeconds } : {}),
      code: mapped.code,
      // Yoga consumes `http` to set the response status; `status` stays visible to clients.
      status: mapped.status,
      http: { status: mapped.status },
      tmi: mapped.body,
      ...(mapped.code === 'INTERNAL' ? { requestId } : {}),
    },
  });
}

/** An error as clients see it: `extensions.http` is for the HTTP layer only, as Yoga treats it. */
function withoutInternals(error: GraphQLError) {
  const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
  return { ...error.toJSON(), extensions };
}

interface FastifyServerContext {
  req: FastifyRequest;
  reply: FastifyReply;
  principal: Principal | undefined;
}

interface PlainJsonOperation {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/**
 * The common case — one query or mutation POSTed as JSON, answered as JSON — when it needs none of
 * Yoga's HTTP handling (GraphiQL, SSE, multipart, batching, the graphql-response media type).
 */
function plainJsonOperation(req: FastifyRequest): PlainJsonOperation | undefined {
  if (req.method !== 'POST' || !(req.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
  const accept = req.headers.accept;
  if (accept && !/application\/json|\*\/\*/.test(accept)) return undefined;
  if (accept && /text\/event-stream|multipart\/mixed|application\/graphql-response\+json/.test(accept))
    return undefined;
  const body = req.body as Partial<PlainJsonOperation & { extensions: unknown }> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.query !== 'string') return undefined;
  if (body.variables != null && (typeof body.variables !== 'object' || Array.isArray(body.variables))) return undefined;
  if (body.operationName != null && typeof body.operationName !== 'string') return undefined;
  if (body.extensions != null) return undefined;
  return body as PlainJsonOperation;
}

/**
 * Runs a plain JSON operation through Yoga's own envelop pipeline (the same parse and validation caches,
 * context, graphql-jit executor and error formatting) without its Fetch-API request and response
 * layers, which cost more than the operation itself. Anything unusual returns undefined for Yoga to
 * answer in full.
 */
async function executePlainJson(
  yoga: YogaServerInstance<FastifyServerContext, GraphQLContext>,
  serverContext: FastifyServerContext,
  operation: PlainJsonOperation,
): Promise<{ status: number; body: string } | undefined> {
  const enveloped = yoga.getEnveloped({ ...serverContext, params: operation });
  let document: DocumentNode;
  try {
    document = enveloped.parse(operation.query);
  } catch {
    return undefined;
  }
  if (enveloped.validate(enveloped.schema, document).length > 0) return undefined;
  const definition = getOperationAST(document, operation.operationName ?? undefined);
  if (!definition || definition.operation === 'subscription') return undefined;
  const contextValue = await enveloped.contextFactory();
  const result = (await enveloped.execute({
    schema: enveloped.schema,
    document,
    contextValue,
    variableValues: operation.variables ?? undefined,
    operationName: operation.operationName ?? undefined,
  })) as ExecutionResult;
  // As Yoga answers application/json: the highest status an error asks for, else 200.
  let status = 200;
  for (const error of result.errors ?? []) {
    const wanted = (error.extensions as { http?: { status?: number } } | undefined)?.http?.status;
    if (wanted && (status === 200 || wanted > status)) status = wanted;
  }
  const body = JSON.stringify({
    ...(result.errors
      ? {
          errors: result.errors.map(withoutInternals),
        }
      : {}),
    ...('data' in result ? { data: result.data } : {}),
  });
  return { status, body };
}

export function registerGraphQL(app: FastifyInstance, deps: AppDeps): { close: () => Promise<void> } {
  // The collaboration connections GraphQL subscribers hold on this instance (diagramEvents).
  const collaboration = new ConnectionPresence(() =>
    deps.serviceContext({ principal: undefined, requestId: `presence-${randomUUID()}` }),
  );
  const yoga = createYoga<FastifyServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: deps.config.http.graphiql ? { subscriptionsProtocol: 'WS' } : false,
    landingPage: false,
    logging: false,
    // The HTTP host enforces body limits; Yoga's own limiter costs more than the request.
    maxRequestBodySize: false,
    cors: false,
    plugins: [
      useGraphQlJit(),
      // Every error of a result goes through the registry, with the request id of its context.
      usePayloadFormatter((result, args) => {
        if (!result.errors) return false;
        const requestId = (args.contextValue as GraphQLContext).service.requestId;
        return { ...result, errors: result.errors.map((error) => maskError(error, requestId, deps.log)) };
      }),
    ],
    maskedErrors: false,
    context: ({ req, principal }): GraphQLContext => ({
      service: deps.serviceContext({ principal, requestId: req.id, log: req.log as unknown as Logger }),
      collaboration,
    }),
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: async (req, reply) => {
      let principal: Principal | undefined;
      try {
        // Authenticate before Yoga so a bad token is a 401, the same answer REST gives.
        principal = await principalFromRequest(deps.tokens, req);
      } catch (error) {
        const masked = maskError(error, req.id, deps.log);
        return reply
          .code(masked.extensions.status as number)
          .header('WWW-Authenticate', 'Bearer')
          .send({ errors: [withoutInternals(masked)] });
      }
      const serverContext: FastifyServerContext = { req, reply, principal };
      const operation = plainJsonOperation(req);
      if (operation) {
        const answered = await executePlainJson(yoga, serverContext, operation);
        if (answered) return reply.code(answered.status).type('application/json; charset=utf-8').send(answered.body);
      }
      const response = await yoga.handleNodeRequestAndResponse(req, reply, serverContext);
      response.headers.forEach((value, key) => {
        reply.header(key, value);
      });
      reply.status(response.status);
      reply.send(response.body);
      return reply;
    },
  });

  // graphql-ws on the same path: the access token comes from connection_init's payload, the
  // Authorization header, or the web client's cookie.
  const wss = new WebSocketServer({ noServer: true });
  const disposable = useServer(
    {
      schema,
      onSubscribe: async (ctx, _id, payload) => {
        const document = parse(payload.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const params = ctx.connectionParams as { authorization?: string; Authorization?: string } | undefined;
        const request = ctx.extra.request;
        const header = params?.authorization ?? params?.Authorization ?? request.headers.authorization;
        const token = tokenFromHeaders(header, request.headers.cookie);
        const requestId = randomUUID();
        try {
          const principal = token ? await deps.tokens.verify(token) : undefined;
          const contextValue: GraphQLContext = {
            service: deps.serviceContext({ principal, requestId }),
            collaboration,
          };
          return {
            schema,
            document,
            variableValues: payload.variables,
            operationName: payload.operationName,
            contextValue,
          };
        } catch (error) {
          return [maskError(error, requestId, deps.log)];
        }
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors) return undefined;
        const requestId = (args.contextValue as GraphQLContext).service.requestId;
        return { ...result, errors: result.errors.map((error) => maskError(error, requestId, deps.log).toJSON()) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => maskError(error, 'ws', deps.log).toJSON()),
    },
    wss,
  );

  app.server.on('upgrade', (request, socket, head) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/graphql') return;
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  return {
    async close() {
      // Subscribers leave their collaboration sessions while the database and pubsub are still up.
      await collaboration.close();
      await disposable.dispose();
      wss.close();
    },
  };
}
