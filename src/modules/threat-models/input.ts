import { z } from 'zod';
import { childName } from '../shared/fields.js';
import { AppError } from '../../infra/errors/registry.js';
import { metadataEntrySchema } from '../metadata/input.js';

// The rules TMI's contract sets on a threat model's client-writable fields, shared by both faces.

const noControl = /^[^\x00-\x1F]*$/;
const descriptionChars = /^[^<>\x00-\x08\x0B\x0C\x0E-\x1F]*$/;
const issueUri =
  /^$|^\s*https?:\/\/[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(:[0-9]{1,5})?(\/[^\s]*)?\s*$/;

export const principalSchema = z.strictObject({
  principalType: z.enum(['user', 'group']),
  provider: z
    .string()
    .max(100)
    .regex(/^(\*|[a-zA-Z][a-zA-Z0-9_*-]*)$/, 'must be a provider name or *'),
  providerId: z
    .string()
    .min(1)
    .max(500)
    .regex(/^[^<>"'&]*$/, 'must not contain <>"\'&'),
  displayName: z.string().min(1).max(256).regex(noControl).nullish(),
  email: z.email().max(254).nullish(),
});

export const authorizationEntrySchema = principalSchema.extend({ role: z.enum(['reader', 'writer', 'owner']) });

// TMI's input schema allows any character but a control one, while its ThreatModel representation forbids
// `< > " ' &`: a name the server must be able to return is held to both.
const name = childName.regex(noControl, 'must not contain control characters');
const description = z
  .string()
  .max(2048)
  .regex(descriptionChars, 'must not contain <, > or control characters')
  .nullish();
const framework = z
  .string()
  .max(30)
  .regex(/^[A-Za-z0-9_-]*$/, 'may contain letters, digits, _ and - only')
  .nullish();
const issueUriField = z.string().max(1000).regex(issueUri, 'must be an http(s) URL').nullish();
const status = z.string().max(128).regex(noControl, 'must not contain control characters').nullish();

export const threatModelInputSchema = z.strictObject({
  name,
  description,
  threatModelFramework: framework,
  authorization: z.array(authorizationEntrySchema).max(1000).nullish(),
  metadata: z.array(metadataEntrySchema).max(100).nullish(),
  issueUri: issueUriField,
  isConfidential: z.boolean().nullish(),
});
export type ThreatModelInput = z.input<typeof threatModelInputSchema>;

/** The fields a JSON Patch may change; every other field of the representation is read-only. */
export const patchableSchema = z.strictObject({
  name,
  description,
  threatModelFramework: z
    .string()
    .max(30)
    .regex(/^[A-Za-z0-9_-]*$/, 'may contain letters, digits, _ and - only'),
  authorization: z.array(authorizationEntrySchema).max(1000),
  metadata: z.array(metadataEntrySchema).max(100),
  issueUri: issueUriField,
  status,
  owner: principalSchema,
  securityReviewer: principalSchema.nullable(),
});
export type PatchableFields = z.output<typeof patchableSchema>;

export type AuthorizationEntryInput = z.output<typeof authorizationEntrySchema>;
export type { MetadataEntryInput } from '../metadata/input.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs on both faces; anything else is the caller's mistake, never a database error. */
export function parseId(value: string, field = 'threat_model_id'): string {
  if (!uuidPattern.test(value)) {
    throw new AppError('VALIDATION_FAILED', `Invalid ${field}: must be a UUID`, {
      context: { field_errors: [{ field, error: 'must be a UUID' }] },
    });
  }
  return value.toLowerCase();
}
