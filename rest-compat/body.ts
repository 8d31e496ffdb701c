import { z } from 'zod';
import { AppError } from '../src/infra/errors/registry.js';
import { keysToCamel, pointerToCamel } from './naming.js';
import type { RestInput } from './route-table.js';

// How TMI's request bodies and headers become GraphQL variables, shared by the route files.

/** The optimistic-lock version: If-Match (bare, quoted or weak ETag; * means unconditional) or body `version`. */
export function expectedVersion(input: RestInput<unknown, unknown>): number | undefined {
  const header = input.headers['if-match'];
  if (typeof header === 'string' && header.trim() !== '') {
    const match = /^\s*(\*|(?:W\/)?"?([0-9]+)"?)\s*$/.exec(header);
    if (!match) throw new AppError('INVALID_REQUEST', 'If-Match must be a version number or *');
    return match[1] === '*' ? undefined : Number(match[2]);
  }
  const body = input.body as { version?: unknown } | undefined;
  return typeof body?.version === 'number' ? body.version : undefined;
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('VALIDATION_FAILED', 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

const jsonPatchDocument = z
  .array(
    z.strictObject({
      op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
      path: z
        .string()
        .max(512)
        .regex(/^(\/[^/]*)*$/, 'must be a JSON Pointer'),
      from: z
        .string()
        .max(512)
        .regex(/^(\/[^/]*)*$/, 'must be a JSON Pointer')
        .optional(),
      value: z.unknown().optional(),
    }),
  )
  .min(1, 'must contain at least one operation')
  .max(1000);

/**
 * An RFC 6902 document from the body, its pointers and value keys translated to the GraphQL names.
 * Below a `verbatim` field (JSON kept with its own names, e.g. a diagram's `cells`) nothing is translated;
 * with `'all'`, nothing at all (a patch on such JSON itself, e.g. one cell).
 */
export function jsonPatchOperations(body: unknown, verbatim: readonly string[] | 'all' = []) {
  const result = jsonPatchDocument.safeParse(body);
  if (!result.success) {
    throw new AppError(
      'INVALID_PATCH',
      `Invalid JSON Patch document: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const isVerbatim = (pointer: string) => verbatim === 'all' || verbatim.includes(pointer.split('/')[1] ?? '');
  const pointer = (path: string) => (isVerbatim(path) ? path : pointerToCamel(path));
  return result.data.map((operation) => ({
    op: operation.op,
    path: pointer(operation.path),
    ...(operation.from !== undefined ? { from: pointer(operation.from) } : {}),
    ...('value' in operation
      ? { value: isVerbatim(operation.path) ? operation.value : keysToCamel(operation.value) }
      : {}),
  }));
}

export function bodyArray(body: unknown): unknown[] {
  if (!Array.isArray(body)) throw new AppError('VALIDATION_FAILED', 'The request body must be a JSON array');
  return body;
}
