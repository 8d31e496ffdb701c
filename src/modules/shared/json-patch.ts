import jsonPatch, { type Operation } from 'fast-json-patch';
import type { z } from 'zod';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';

export interface JsonPatchOperation {
  op: string;
  path: string;
  from?: string | null;
  value?: unknown;
}

/**
 * Applies RFC 6902 operations to a resource's document (read-only fields included, so `test` can
 * check them) and returns its writable fields, validated by `writable`. Changing a read-only field
 * or a failing operation is INVALID_PATCH; an invalid result is VALIDATION_FAILED.
 */
export function applyJsonPatch<S extends z.ZodObject>(
  document: Record<string, unknown>,
  operations: JsonPatchOperation[],
  writable: S,
): z.output<S> {
  const patched = applyOperations(document, operations);
  const writableKeys = new Set(Object.keys(writable.shape));
  const readOnlyChanged = Object.keys({ ...document, ...patched }).filter(
    (key) => !writableKeys.has(key) && JSON.stringify(document[key]) !== JSON.stringify(patched[key]),
  );
  if (readOnlyChanged.length > 0) {
    throw new AppError('INVALID_PATCH', `Read-only field(s) cannot be changed: ${readOnlyChanged.join(', ')}`, {
      context: { read_only_fields: readOnlyChanged },
    });
  }
  return parseInput(writable, Object.fromEntries(Object.entries(patched).filter(([key]) => writableKeys.has(key))));
}

/** Applies RFC 6902 operations to a copy of `document`; a failing operation is INVALID_PATCH. */
export function applyOperations<T extends object>(document: T, operations: JsonPatchOperation[]): T {
  try {
    const error = jsonPatch.validate(operations as Operation[], document);
    if (error) throw error;
    return jsonPatch.applyPatch(document, operations as Operation[], false, false).newDocument;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : 'invalid operation';
    const failedTest = error instanceof Error && error.name === 'TEST_OPERATION_FAILED';
    throw new AppError(
      'INVALID_PATCH',
      failedTest ? 'A JSON Patch test operation failed' : `Invalid JSON Patch: ${message}`,
      {
        context: { reason: (error as { name?: string }).name ?? 'invalid' },
      },
    );
  }
}
