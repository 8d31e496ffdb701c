// One table of every expected failure: its HTTP status, TMI's `error` string and the default message.
// Domain code throws AppError(code, …); each face maps it once (Yoga, REST, later the WebSocket and jobs).

export interface ErrorSpec {
  status: number;
  /** TMI's snake_case `error` field. */
  tmiError: string;
  message: string;
  /** Whether the failure is the caller's (info log) or ours (error log, retryable for jobs). */
  kind: 'client' | 'server';
}

export const errorRegistry = {
  VALIDATION_FAILED: {
    status: 400,
    tmiError: 'invalid_input',
    message: 'The provided data does not meet validation requirements',
    kind: 'client',
  },
  MALFORMED_JSON: {
    status: 400,
    tmiError: 'invalid_input',
    message: 'The request body is not valid JSON',
    kind: 'client',
  },
  INVALID_PATCH: {
    status: 400,
    tmiError: 'invalid_input',
    message: 'The JSON Patch document cannot be applied',
    kind: 'client',
  },
  INVALID_REQUEST: {
    status: 400,
    tmiError: 'invalid_request',
    message: 'The request is missing a required parameter or is otherwise malformed',
    kind: 'client',
  },
  INVALID_GRANT: {
    status: 400,
    tmiError: 'invalid_grant',
    message: 'The authorization grant or refresh token is invalid, expired or revoked',
    kind: 'client',
  },
  UNSUPPORTED_GRANT_TYPE: {
    status: 400,
    tmiError: 'unsupported_grant_type',
    message: 'The grant type is not supported',
    kind: 'client',
  },
  // The client_credentials grant: an unknown, wrong, inactive or expired client (RFC 6749 §5.2).
  INVALID_CLIENT: {
    status: 401,
    tmiError: 'invalid_client',
    message: 'Client authentication failed',
    kind: 'client',
  },
  INVALID_CHALLENGE: {
    status: 400,
    tmiError: 'invalid_challenge',
    message: 'The challenge is invalid or has expired',
    kind: 'client',
  },
  QUOTA_EXCEEDED: {
    status: 403,
    tmiError: 'quota_exceeded',
    message: 'A quota would be exceeded',
    kind: 'client',
  },
  INVALID_PROVIDER: {
    status: 400,
    tmiError: 'invalid_provider',
    message: 'The identity provider is not configured',
    kind: 'client',
  },
  UNAUTHENTICATED: { status: 401, tmiError: 'unauthorized', message: 'Authentication is required', kind: 'client' },
  // POST /oauth2/refresh documents 401 for a bad refresh token, where the token endpoint says 400 invalid_grant.
  INVALID_REFRESH_TOKEN: {
    status: 401,
    tmiError: 'invalid_grant',
    message: 'The refresh token is invalid, expired or revoked',
    kind: 'client',
  },
  INVALID_TOKEN: {
    status: 401,
    tmiError: 'unauthorized',
    message: 'The access token is invalid or expired',
    kind: 'client',
  },
  INSUFFICIENT_PERMISSIONS: {
    status: 403,
    tmiError: 'access_denied',
    message: 'You do not have sufficient permissions for this operation',
    kind: 'client',
  },
  ADMIN_REQUIRED: {
    status: 403,
    tmiError: 'access_denied',
    message: 'Administrator privileges are required',
    kind: 'client',
  },
  RESOURCE_NOT_FOUND: {
    status: 404,
    tmiError: 'not_found',
    message: 'The requested resource does not exist',
    kind: 'client',
  },
  ROUTE_NOT_FOUND: { status: 404, tmiError: 'not_found', message: 'No such endpoint', kind: 'client' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    tmiError: 'method_not_allowed',
    message: 'The HTTP method is not supported for this endpoint',
    kind: 'client',
  },
  NOT_ACCEPTABLE: {
    status: 406,
    tmiError: 'not_acceptable',
    message: 'The requested media type is not supported. Supported types: application/json',
    kind: 'client',
  },
  VERSION_CONFLICT: {
    status: 409,
    tmiError: 'conflict',
    message: 'The resource was modified by someone else; reload it and retry',
    kind: 'client',
  },
  CONFLICT: {
    status: 409,
    tmiError: 'conflict',
    message: 'The request conflicts with the current state of the resource',
    kind: 'client',
  },
  // A live diagram operation TMI's socket answers with `operation_rejected`; the error's `reason` (GraphQL
  // `extensions.reason`, REST `details.context.reason`) is TMI's.
  OPERATION_CONFLICT: {
    status: 409,
    tmiError: 'conflict',
    message: "The operation cannot apply to the diagram's current state",
    kind: 'client',
  },
  OPERATION_INVALID: {
    status: 400,
    tmiError: 'invalid_input',
    message: 'The operation is not valid',
    kind: 'client',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    tmiError: 'payload_too_large',
    message: 'The request body is too large',
    kind: 'client',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    tmiError: 'unsupported_media_type',
    message: 'The request content type is not supported',
    kind: 'client',
  },
  RATE_LIMITED: { status: 429, tmiError: 'rate_limit_exceeded', message: 'Rate limit exceeded', kind: 'client' },
  INTERNAL: { status: 500, tmiError: 'server_error', message: 'An internal server error occurred', kind: 'server' },
  SERVICE_UNAVAILABLE: {
    status: 503,
    tmiError: 'service_unavailable',
    message: 'A required service is temporarily unavailable - please retry',
    kind: 'server',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorRegistry;

export interface ErrorDetails {
  context?: Record<string, unknown>;
  suggestion?: string;
  /** Machine-readable fields GraphQL clients get beside `code` in the error's `extensions`. */
  extensions?: Record<string, unknown>;
  /** When the caller may retry (a quota or rate limit): REST sends `Retry-After`, GraphQL `extensions.retryAfter`. */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly spec: ErrorSpec;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message ?? errorRegistry[code].message);
    this.name = 'AppError';
    this.spec = errorRegistry[code];
  }

  get status(): number {
    return this.spec.status;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
