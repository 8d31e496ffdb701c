import { z } from 'zod';

// TMI's rules for a document's client-writable fields (DocumentBase).

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(256)
  .regex(/^[^<>"'&]*$/, 'must not contain < > " \' or &');
const description = z
  .string()
  .max(2048)
  .regex(/^[^<>\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain <, > or control characters')
  .nullish();
const uri = z
  .string()
  .min(1)
  .max(1000)
  .regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s]*$/, 'must be an absolute URI such as https://…');

export const documentInputSchema = z.strictObject({
  name,
  uri,
  description,
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
});
export type DocumentInput = z.input<typeof documentInputSchema>;

/** What a JSON Patch may change on a document. */
export const documentPatchableSchema = z.strictObject({
  name,
  uri,
  description,
  includeInReport: z.boolean(),
  timmyEnabled: z.boolean(),
});

/** Bulk operations take at most this many documents per request, as TMI's contract says. */
export const DOCUMENT_BULK_LIMIT = 20;
