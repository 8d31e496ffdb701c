import { z } from 'zod';
import { longDescription } from '../shared/fields.js';
import { ADDON_OBJECT_TYPES } from '../webhooks/event-types.js';

// TMI's rules for registering and invoking add-ons (CreateAddonRequest, AddonParameter,
// InvokeAddonRequest), shared by both faces.

const uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID')
  .transform((value) => value.toLowerCase());

/** Material Symbols (`material-symbols:security`) or FontAwesome (`fa-solid fa-shield`), as TMI's pattern says. */
const ICON = /^(material-symbols:[a-z]([a-z0-9_]*[a-z0-9])?|fa-[a-z]([a-z]*[a-z])?(-[a-z]+)? fa-([a-z]+)(-[a-z]+)*)$/;

export const ADDON_PARAMETER_TYPES = ['enum', 'boolean', 'string', 'number', 'metadata_key'] as const;
export type AddonParameterType = (typeof ADDON_PARAMETER_TYPES)[number];

/** At most this many parameters per add-on, and this much invocation data (JSON-serialized bytes). */
export const ADDON_PARAMETER_LIMIT = 20;
export const ADDON_DATA_MAX_BYTES = 1024;

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export const addonParameterSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, 'must start with a letter and contain letters, digits, _ and - only'),
    type: z.enum(ADDON_PARAMETER_TYPES),
    description: z
      .string()
      .max(512)
      .regex(/^[^<>\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain <, > or control characters')
      .nullish(),
    required: z.boolean().nullish(),
    enumValues: z.array(z.string().max(256)).max(50).nullish(),
    defaultValue: z.string().max(256).nullish(),
    metadataKey: z
      .string()
      .max(256)
      .regex(/^[a-zA-Z0-9_./:-]+$/, 'may contain letters, digits and _ . / : - only')
      .nullish(),
    numberMin: z.number().nullish(),
    numberMax: z.number().nullish(),
    stringMaxLength: z.number().int().min(1).max(10_000).nullish(),
    stringValidationRegex: z.string().max(256).refine(compiles, 'must be a valid regular expression').nullish(),
  })
  .superRefine((parameter, issues) => {
    const problem = (path: string, message: string) => issues.addIssue({ code: 'custom', path: [path], message });
    if (parameter.type === 'enum' && !parameter.enumValues?.length) {
      problem('enumValues', 'an enum parameter needs at least one value');
    }
    if (parameter.numberMin != null && parameter.numberMax != null && parameter.numberMin > parameter.numberMax) {
      problem('numberMin', 'must not be greater than numberMax');
    }
    if (parameter.defaultValue != null) {
      const error = defaultValueError(parameter as AddonParameter, parameter.defaultValue);
      if (error) problem('defaultValue', error);
    }
  });

export type AddonParameter = {
  name: string;
  type: AddonParameterType;
  description?: string | null;
  required?: boolean | null;
  enumValues?: string[] | null;
  defaultValue?: string | null;
  metadataKey?: string | null;
  numberMin?: number | null;
  numberMax?: number | null;
  stringMaxLength?: number | null;
  stringValidationRegex?: string | null;
};

export const addonInputSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(255)
    .regex(/^[^<>\x00-\x1F]*$/, 'must not contain <, > or control characters'),
  webhookId: uuid,
  description: longDescription,
  icon: z
    .string()
    .max(60)
    .regex(ICON, 'must be material-symbols:name or a FontAwesome class such as fa-solid fa-name')
    .nullish(),
  objects: z
    .array(z.enum(ADDON_OBJECT_TYPES))
    .max(100)
    .nullish()
    .transform((objects) => [...new Set(objects ?? [])]),
  threatModelId: uuid.nullish(),
  parameters: z
    .array(addonParameterSchema)
    .max(ADDON_PARAMETER_LIMIT)
    .nullish()
    .transform((parameters) => parameters ?? [])
    .superRefine((parameters, issues) => {
      const seen = new Set<string>();
      parameters.forEach((parameter, index) => {
        if (seen.has(parameter.name)) {
          issues.addIssue({
            code: 'custom',
            path: [index, 'name'],
            message: `duplicate parameter name ${parameter.name}`,
          });
        }
        seen.add(parameter.name);
      });
    }),
});
export type AddonInput = z.output<typeof addonInputSchema>;

export const addonListSchema = z.strictObject({
  limit: z.number().int().min(1).max(100),
  offset: z.number().int().min(0).max(1_000_000_000),
  threatModelId: uuid.nullish(),
});

export const invokeAddonInputSchema = z.strictObject({
  threatModelId: uuid,
  objectType: z.enum(ADDON_OBJECT_TYPES).nullish(),
  objectId: uuid.nullish(),
  data: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((data) => data ?? {})
    .refine(
      (data) => Buffer.byteLength(JSON.stringify(data)) <= ADDON_DATA_MAX_BYTES,
      `must be at most ${ADDON_DATA_MAX_BYTES} bytes as JSON`,
    ),
});
export type InvokeAddonInput = z.output<typeof invokeAddonInputSchema>;

/** Why `value` (a string, as TMI declares defaults) cannot be the parameter's value, if it cannot. */
function defaultValueError(parameter: AddonParameter, value: string): string | undefined {
  switch (parameter.type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'must be "true" or "false" for a boolean parameter';
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value))
        ? valueError(parameter, Number(value))
        : 'must be a number for a number parameter';
    default:
      return valueError(parameter, value);
  }
}

/** Why `value` does not satisfy the parameter's declaration, if it does not. */
export function valueError(parameter: AddonParameter, value: unknown): string | undefined {
  switch (parameter.type) {
    case 'enum':
      if (typeof value !== 'string' || !(parameter.enumValues ?? []).includes(value)) {
        return `must be one of: ${(parameter.enumValues ?? []).join(', ')}`;
      }
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (parameter.numberMin != null && value < parameter.numberMin) return `must be at least ${parameter.numberMin}`;
      if (parameter.numberMax != null && value > parameter.numberMax) return `must be at most ${parameter.numberMax}`;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (parameter.stringMaxLength != null && value.length > parameter.stringMaxLength) {
        return `must be at most ${parameter.stringMaxLength} characters`;
      }
      if (parameter.stringValidationRegex != null && !new RegExp(parameter.stringValidationRegex).test(value)) {
        return `must match ${parameter.stringValidationRegex}`;
      }
      return undefined;
    case 'metadata_key':
      return typeof value === 'string' && value.length <= 256
        ? undefined
        : 'must be a string of at most 256 characters';
  }
}

/**
 * Field errors of invocation data against the add-on's declared parameters: required ones present (not
 * null), every declared one given a valid value. Keys the add-on does not declare pass through.
 */
export function invocationDataErrors(
  parameters: AddonParameter[],
  data: Record<string, unknown>,
): { field: string; error: string }[] {
  const errors: { field: string; error: string }[] = [];
  for (const parameter of parameters) {
    const value = data[parameter.name];
    if (value === undefined || value === null) {
      if (parameter.required) errors.push({ field: `data.${parameter.name}`, error: 'is required' });
      continue;
    }
    const error = valueError(parameter, value);
    if (error) errors.push({ field: `data.${parameter.name}`, error });
  }
  return errors;
}

/** Parameters are stored as TMI's API carries them (snake_case JSON). */
export function storedParameters(parameters: AddonParameter[]): object[] {
  return parameters.map((parameter) =>
    Object.fromEntries(
      Object.entries(parameter)
        .filter(([, value]) => value !== null && value !== undefined)
        .map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value]),
    ),
  );
}

export function parametersFromStored(stored: unknown): AddonParameter[] {
  if (!Array.isArray(stored)) return [];
  return stored.map(
    (parameter) =>
      Object.fromEntries(
        Object.entries(parameter as Record<string, unknown>).map(([key, value]) => [
          key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
          value,
        ]),
      ) as AddonParameter,
  );
}
