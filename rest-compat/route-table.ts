import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { schema } from '../schema/index.js';
import type { AppDeps } from '../src/app-deps.js';
import type { Logger } from '../src/infra/logger.js';
import { principalFromRequest } from '../src/http/auth.js';
import { sendError } from '../src/http/errors.js';
import { AppError } from '../src/infra/errors/registry.js';
import { parseInput } from '../src/infra/errors/validation.js';
import { prepareOperation } from './execute.js';
import { errorToRest, toGraphQLInput, toRest } from './naming.js';

export interface RestInput<P, Q> {
  params: P;
  query: Q;
  body: unknown;
  /** The JSON body's exact text, for routes whose body is signed (HMAC callbacks). */
  rawBody: string | undefined;
  headers: FastifyRequest['headers'];
}

/** One TMI endpoint: which GraphQL document serves it and how REST becomes variables and back. */
export interface RestRoute<TData = unknown, TVariables = unknown, P = unknown, Q = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The path as TMI's OpenAPI document writes it, e.g. /threat_models/{threat_model_id}. */
  path: string;
  document: TypedDocumentNode<TData, TVariables>;
  params: z.ZodType<P>;
  query: z.ZodType<Q>;
  /** Content types the body may have; omitted for routes without a body. */
  bodyTypes?: string[];
  /** REST-shaped variable values; each is translated to its GraphQL input type mechanically. */
  variables: (input: RestInput<P, Q>) => Record<string, unknown>;
  /** Final touches on the mechanically translated result (TMI-specific envelope or omissions). */
  present?: (rest: unknown) => unknown;
  /** The success status, or how the (translated, not yet presented) result decides it (e.g. 201 vs 200 on PUT). */
  status: number | ((rest: unknown) => number);
  /** Headers of a successful answer (e.g. `Cache-Control: no-store` on credentials). */
  headers?: Record<string, string>;
  /**
   * An error body of the route's own where TMI's contract defines one (instead of the common error
   * body); return undefined for the common one.
   */
  presentError?: (
    error: AppError,
    context: { params: P; baseUrl: string },
  ) => { status: number; body: object } | undefined;
}

export function defineRoute<TData, TVariables, P, Q>(route: RestRoute<TData, TVariables, P, Q>): RestRoute {
  return route as unknown as RestRoute;
}

/** Where the server's JSON parser keeps the text it parsed (see `buildHttpApp`). */
export const RAW_BODY = Symbol('rawBody');
const rawBodyOf = (request: FastifyRequest): string | undefined =>
  (request as FastifyRequest & { [RAW_BODY]?: string })[RAW_BODY];

/** TMI's offset pagination of its lists: `limit` 1–100 (default 20) and `offset`. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});

/** A page `{items, total, limit, offset}` in TMI's list envelope, which names the items after the resource. */
export const listEnvelope =
  (name: string) =>
  (result: unknown): unknown => {
    const { items, ...rest } = result as { items: unknown[] };
    return { [name]: items, ...rest };
  };

export const toFastifyPath = (path: string): string => path.replace(/\{([^}]+)\}/g, ':$1');

export function registerRestRoutes(app: FastifyInstance, deps: AppDeps, routes: RestRoute[]): void {
  for (const route of routes) {
    const operation = prepareOperation(schema, route.document);
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      let params: unknown;
      try {
        if (route.bodyTypes) {
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (!route.bodyTypes.includes(type)) {
            return sendError(request, reply, unsupportedMediaType(route.bodyTypes));
          }
        }
        const principal = await principalFromRequest(deps.tokens, request);
        params = parseInput(route.params, request.params);
        const query = parseInput(route.query, request.query);
        const restVariables = route.variables({
          params,
          query,
          body: request.body,
          rawBody: rawBodyOf(request),
          headers: request.headers,
        });
        const variables: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(restVariables)) {
          const type = operation.variableTypes[name];
          variables[name] = type ? toGraphQLInput(value, type) : value;
        }
        const context = {
          service: deps.serviceContext({ principal, requestId: request.id, log: request.log as unknown as Logger }),
        };
        const data = (await operation.run(context, variables)) as Record<string, unknown>;
        if (route.headers) reply.headers(route.headers);
        if (route.status === 204) return reply.code(204).send();
        const rest = toRest(data[operation.rootField], operation.resultType);
        const status = typeof route.status === 'function' ? route.status(rest) : route.status;
        return reply.code(status).send(route.present ? route.present(rest) : rest);
      } catch (error) {
        const own =
          error instanceof AppError && params !== undefined
            ? route.presentError?.(error, { params, baseUrl: deps.baseUrl() })
            : undefined;
        if (own) return reply.code(own.status).send(own.body);
        return sendError(request, reply, errorToRest(error));
      }
    };
    app.route({ method: route.method, url: toFastifyPath(route.path), handler });
  }
}

function unsupportedMediaType(accepted: string[]): AppError {
  return new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be one of: ${accepted.join(', ')}`);
}
