import { usePayloadFormatter } from '@envelop/core';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, parse, validate } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext } from '../../schema/context.js';
import { schema } from '../../schema/index.js';
import type { AppDeps } from '../app-deps.js';
import type { Logger } from '../infra/logger.js';
import { toPublicError } from '../infra/errors/public.js';
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
      code: mapped.code,
      // Yoga consumes `http` to set the response status; `status` stays visible to clients.
      status: mapped.status,
      http: { status: mapped.status },
      tmi: mapped.body,
      ...(mapped.code === 'INTERNAL' ? { requestId } : {}),
    },
  });
}

interface FastifyServerContext {
  req: FastifyRequest;
  reply: FastifyReply;
}

export function registerGraphQL(app: FastifyInstance, deps: AppDeps): { close: () => Promise<void> } {
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
    context: async ({ req }): Promise<GraphQLContext> => {
      const principal = await principalFromRequest(deps.tokens, req);
      return { service: deps.serviceContext({ principal, requestId: req.id, log: req.log as unknown as Logger }) };
    },
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: async (req, reply) => {
      try {
        // Authenticate before Yoga so a bad token is a 401, the same answer REST gives.
        await principalFromRequest(deps.tokens, req);
      } catch (error) {
        const mapped = toPublicError(error, req.id);
        return reply
          .code(mapped.status)
          .header('WWW-Authenticate', 'Bearer')
          .send({
            errors: [
              {
                message: mapped.body.error_description,
                extensions: { code: mapped.code, http: { status: mapped.status } },
              },
            ],
          });
      }
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
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
          const contextValue: GraphQLContext = { service: deps.serviceContext({ principal, requestId }) };
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
      await disposable.dispose();
      wss.close();
    },
  };
}
