import type { z } from 'zod';
import { AppError } from './registry.js';

/** Parses with a domain schema and turns problems into TMI's VALIDATION_FAILED with field errors. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fieldErrors = result.error.issues.map((issue) => ({
    field: issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(',') : ''),
    error: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  const summary = fieldErrors.map((e) => (e.field ? `${e.field}: ${e.error}` : e.error)).join('; ');
  throw new AppError('VALIDATION_FAILED', `Invalid input: ${summary}`, {
    context: { field_errors: fieldErrors },
    suggestion: 'Correct the validation errors and retry the request',
  });
}
