import { AppError, type ErrorCode, isAppError } from './registry.js';

/** TMI's error body: `{ error, error_description, details }`. */
export interface TmiErrorBody {
  error: string;
  error_description: string;
  details?: { code: string; context?: Record<string, unknown>; suggestion?: string };
}

export interface PublicError {
  code: ErrorCode;
  status: number;
  body: TmiErrorBody;
  /** Extra GraphQL `extensions` the error carries (never `code` or `status`). */
  extensions?: Record<string, unknown>;
  /** Seconds after which a retry may succeed (HTTP `Retry-After`). */
  retryAfterSeconds?: number;
}

interface PrismaKnownError {
  code: string;
  meta?: Record<string, unknown>;
}

function isPrismaKnownError(error: unknown): error is PrismaKnownError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: string }).name === 'PrismaClientKnownRequestError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/** Translates the database's expected failures into registry errors; everything else stays unknown. */
export function translateError(error: unknown): AppError | undefined {
  if (isAppError(error)) return error;
  if (isPrismaKnownError(error)) {
    if (error.code === 'P2002') return new AppError('CONFLICT', 'A resource with the same unique key already exists');
    if (error.code === 'P2025') return new AppError('RESOURCE_NOT_FOUND');
  }
  return undefined;
}

/** The one mapping from any thrown value to what a client may see. Unknown errors are masked. */
export function toPublicError(error: unknown, requestId?: string): PublicError {
  const appError = translateError(error) ?? new AppError('INTERNAL');
  const details: TmiErrorBody['details'] = { code: appError.code };
  const context = {
    ...appError.details.context,
    ...(appError.code === 'INTERNAL' && requestId ? { request_id: requestId } : {}),
  };
  if (Object.keys(context).length > 0) details.context = context;
  if (appError.details.suggestion) details.suggestion = appError.details.suggestion;
  return {
    code: appError.code,
    status: appError.status,
    body: { error: appError.spec.tmiError, error_description: appError.message, details },
    ...(appError.details.extensions ? { extensions: appError.details.extensions } : {}),
    ...(appError.details.retryAfterSeconds !== undefined
      ? { retryAfterSeconds: Math.max(1, Math.ceil(appError.details.retryAfterSeconds)) }
      : {}),
  };
}
