import {
  getNamedType,
  type GraphQLInputType,
  type GraphQLOutputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { AppError } from '../src/infra/errors/registry.js';

// REST speaks TMI's snake_case and lower-case enum values; GraphQL speaks camelCase and SCREAMING enums.
// These functions translate mechanically, guided by the schema's types.

export const snakeToCamel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snakeNames = new Map<string, string>();
/** camelCase → snake_case; field names are few, so each is converted once (large reads convert thousands of keys). */
export const camelToSnake = (key: string): string => {
  let snake = snakeNames.get(key);
  if (snake === undefined) {
    snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snakeNames.size < 10_000) snakeNames.set(key, snake);
  }
  return snake;
};

/** Deep key conversion for schemaless JSON (JSON Patch values and paths). */
export function keysToCamel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keysToCamel);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [snakeToCamel(key), keysToCamel(inner)]));
  }
  return value;
}

export function pointerToCamel(pointer: string): string {
  return pointer
    .split('/')
    .map((segment) => snakeToCamel(segment))
    .join('/');
}

/**
 * REST body → GraphQL variable value of `type`. Unknown fields are refused here, as TMI's schemas
 * (additionalProperties: false) refuse them.
 */
export function toGraphQLInput(value: unknown, type: GraphQLInputType, path = ''): unknown {
  if (value === null || value === undefined) return value;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    // GraphQL would coerce a single value into a one-item list; TMI's schema asks for an array.
    if (!Array.isArray(value)) {
      const field = path || 'body';
      throw new AppError('VALIDATION_FAILED', `Invalid input: ${field}: must be an array`, {
        context: { field_errors: [{ field, error: 'must be an array' }] },
      });
    }
    return value.map((item, index) => toGraphQLInput(item, inner.ofType, `${path}[${index}]`));
  }
  if (isEnumType(inner)) {
    const match = inner.getValues().find((candidate) => candidate.value === value);
    return match ? match.name : value;
  }
  if (isInputObjectType(inner) && typeof value === 'object' && !Array.isArray(value)) {
    const fields = inner.getFields();
    const out: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [key, fieldValue] of Object.entries(value)) {
      const field = fields[snakeToCamel(key)];
      if (!field) {
        unknown.push(path ? `${path}.${key}` : key);
        continue;
      }
      out[field.name] = toGraphQLInput(fieldValue, field.type, path ? `${path}.${key}` : key);
    }
    if (unknown.length > 0) {
      throw new AppError('VALIDATION_FAILED', `Unknown or read-only field(s): ${unknown.join(', ')}`, {
        context: { field_errors: unknown.map((field) => ({ field, error: 'unknown or read-only field' })) },
      });
    }
    return out;
  }
  return value;
}

/** GraphQL result → TMI JSON: snake_case keys, lower-case enum values, nulls omitted. */
export function toRest(value: unknown, type: GraphQLOutputType): unknown {
  if (value === null || value === undefined) return undefined;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return (value as unknown[]).map((item) => toRest(item, inner.ofType));
  if (isEnumType(inner)) return inner.getValue(String(value))?.value ?? value;
  const named = getNamedType(inner);
  if (isObjectType(named) && typeof value === 'object') {
    const fields = named.getFields();
    const out: Record<string, unknown> = {};
    for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[key];
      const converted = field ? toRest(fieldValue, field.type) : fieldValue;
      if (converted !== undefined) out[camelToSnake(key)] = converted;
    }
    return out;
  }
  return value;
}

const fieldPathToSnake = (field: string): string => field.split('.').map(camelToSnake).join('.');

/** Validation errors name fields as the domain does (camelCase); REST callers sent snake_case. */
export function errorToRest(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  const fieldErrors = error.details.context?.field_errors;
  if (!Array.isArray(fieldErrors)) return error;
  let message = error.message;
  const converted = (fieldErrors as { field: string; error: string }[]).map((fieldError) => {
    const field = fieldPathToSnake(fieldError.field);
    if (field !== fieldError.field) message = message.split(`${fieldError.field}:`).join(`${field}:`);
    return { ...fieldError, field };
  });
  return new AppError(error.code, message, {
    ...error.details,
    context: { ...error.details.context, field_errors: converted },
  });
}
