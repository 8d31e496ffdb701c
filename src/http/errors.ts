import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../infra/errors/registry.js';
import { toPublicError } from '../infra/errors/public.js';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

function normalise(error: unknown): unknown {
  const fastifyError = error as Partial<FastifyError> & { name?: string };
  const code = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
  if (code)
    return new AppError(code, code === 'MALFORMED_JSON' ? `Malformed JSON: ${fastifyError.message}` : undefined);
  if (error instanceof SyntaxError && fastifyError.statusCode === 400)
    return new AppError('MALFORMED_JSON', `Malformed JSON: ${error.message}`);
  return error;
}

/** Sends any error as TMI's error body with its registry status; unknown errors are logged and masked. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const mapped = toPublicError(normalise(error), request.id);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: mapped.code }, 'request rejected');
  if (mapped.status === 401) reply.header('WWW-Authenticate', 'Bearer');
  if (mapped.retryAfterSeconds !== undefined) reply.header('Retry-After', String(mapped.retryAfterSeconds));
  return reply.code(mapped.status).type('application/json').send(mapped.body);
}
