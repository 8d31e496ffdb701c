import { z } from 'zod';
import { metadataEntrySchema } from '../metadata/input.js';
import { childName, label, longDescription, NO_CONTROL_CHARS } from '../shared/fields.js';

// TMI's rules for a threat's client-writable fields (ThreatBase), shared by both faces.

const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const httpUri =
  /^\s*https?:\/\/[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(:[0-9]{1,5})?(\/[^\s]*)?\s*$/;

/** A score in tenths from 0 to 10, as TMI's `multipleOf: 0.1` asks. */
const tenths = z
  .number()
  .min(0)
  .max(10)
  .refine((value) => Math.abs(value * 10 - Math.round(value * 10)) < 1e-9, 'must be a multiple of 0.1');

/** An optional reference: TMI accepts "" for "none". */
const optionalUuid = z
  .string()
  .regex(/^$|^[0-9a-fA-F-]{36}$/, 'must be a UUID')
  .refine((value) => value === '' || uuid.test(value), 'must be a UUID')
  .nullish()
  .transform((value) => (value ? value.toLowerCase() : null));

/** Sets kept as arrays: duplicates collapse, first occurrence wins the order. */
const distinct = <T extends z.ZodType<string>>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .transform((values) => [...new Set(values)]);

export const cvssScoreSchema = z.strictObject({
  vector: z
    .string()
    .min(26)
    .max(250)
    .regex(/^[A-Za-z0-9.:/_-]+$/, 'must be a CVSS vector such as CVSS:3.1/AV:N/…'),
  score: tenths,
});

export const ssvcScoreSchema = z.strictObject({
  vector: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[A-Za-z0-9/:._-]+$/, 'must be an SSVC vector such as SSVCv2/E:A/…'),
  decision: z.enum(['Defer', 'Scheduled', 'Out-of-Cycle', 'Immediate']),
  methodology: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9 _-]+$/, 'may contain letters, digits, spaces, _ and - only'),
});

const fields = {
  name: childName,
  description: longDescription,
  mitigation: z
    .string()
    .max(1024)
    .regex(/^[^\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain control characters')
    .nullish(),
  diagramId: optionalUuid,
  cellId: optionalUuid,
  assetId: optionalUuid,
  severity: label(50).nullish(),
  score: tenths.nullish(),
  priority: label(256).nullish(),
  mitigated: z.boolean().nullish(),
  status: label(256).nullish(),
  threatType: distinct(label(256).min(1), 20),
  issueUri: z
    .string()
    .max(1000)
    .regex(new RegExp(`^$|${httpUri.source}`), 'must be an http(s) URL')
    .nullish()
    .transform((value) => value?.trim() || null),
  cweId: distinct(
    z
      .string()
      .min(5)
      .max(16)
      .regex(/^CWE-[0-9]+$/, 'must look like CWE-79'),
    50,
  ).nullish(),
  cvss: z.array(cvssScoreSchema).max(10).nullish(),
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
  ssvc: ssvcScoreSchema.nullish(),
  metadata: z.array(metadataEntrySchema).max(100).nullish(),
};

export const threatInputSchema = z.strictObject(fields);
export type ThreatInput = z.output<typeof threatInputSchema>;

/**
 * What a JSON Patch may change on a threat: the same fields and rules. The patched document always
 * carries its metadata, so a document without it (removed, or set to null) means none, not "leave as is".
 */
export const threatPatchableSchema = z.strictObject({
  ...fields,
  metadata: fields.metadata.transform((entries) => entries ?? []),
});

/** TMI's per-request limit for every bulk operation on threats. */
export const THREAT_BULK_LIMIT = 20;

/** TMI's severity words in rising order; sorting by severity follows it, unknown words last. */
export const SEVERITY_ORDER = ['unknown', 'informational', 'low', 'medium', 'high', 'critical'] as const;

export function severityRank(severity: string | null | undefined): number | null {
  if (!severity) return null;
  const rank = (SEVERITY_ORDER as readonly string[]).indexOf(severity.trim().toLowerCase());
  return rank < 0 ? null : rank;
}

const SORTABLE = {
  name: 'name',
  severity: 'severityRank',
  score: 'score',
  priority: 'priority',
  status: 'status',
  mitigated: 'mitigated',
  alias: 'alias',
  created_at: 'createdAt',
  modified_at: 'modifiedAt',
} as const;

const dateTime = z.coerce.date();
const stringList = z.array(z.string().max(256).regex(NO_CONTROL_CHARS)).max(50);

/** The list's filters (TMI's query parameters, camelCased) and sort. */
export const threatFilterSchema = z.strictObject({
  name: z.string().max(256).regex(NO_CONTROL_CHARS).nullish(),
  description: z.string().max(256).regex(NO_CONTROL_CHARS).nullish(),
  threatType: stringList.nullish(),
  severity: z
    .array(
      z
        .string()
        .transform((value) => value.trim().toLowerCase())
        .pipe(z.enum(SEVERITY_ORDER)),
    )
    .max(50)
    .nullish(),
  priority: stringList.nullish(),
  status: stringList.nullish(),
  mitigated: z.boolean().nullish(),
  diagramId: z.string().regex(uuid, 'must be a UUID').nullish(),
  cellId: z.string().regex(uuid, 'must be a UUID').nullish(),
  scoreGt: z.number().min(0).max(10).nullish(),
  scoreLt: z.number().min(0).max(10).nullish(),
  scoreEq: z.number().min(0).max(10).nullish(),
  scoreGe: z.number().min(0).max(10).nullish(),
  scoreLe: z.number().min(0).max(10).nullish(),
  createdAfter: dateTime.nullish(),
  createdBefore: dateTime.nullish(),
  modifiedAfter: dateTime.nullish(),
  modifiedBefore: dateTime.nullish(),
  sort: z
    .string()
    .max(1000)
    .regex(
      new RegExp(
        `^((${Object.keys(SORTABLE).join('|')})(:(asc|desc))?)(,(${Object.keys(SORTABLE).join('|')})(:(asc|desc))?)*$`,
      ),
      `must be field:direction pairs separated by commas; fields: ${Object.keys(SORTABLE).join(', ')}`,
    )
    .nullish(),
});
export type ThreatFilter = z.output<typeof threatFilterSchema>;

/** `name:asc,severity:desc` → Prisma's orderBy; absent or empty sorts newest first, as TMI does. */
export function threatOrderBy(sort: string | null | undefined): object[] {
  if (!sort) return [{ createdAt: 'desc' }, { alias: 'desc' }];
  return sort.split(',').map((part) => {
    const [field, direction = 'asc'] = part.split(':') as [keyof typeof SORTABLE, 'asc' | 'desc'];
    const column = SORTABLE[field];
    // Threats without a value (or with a severity word outside TMI's scale) come last either way.
    return ['createdAt', 'modifiedAt', 'name', 'mitigated', 'alias'].includes(column)
      ? { [column]: direction }
      : { [column]: { sort: direction, nulls: 'last' } };
  });
}
