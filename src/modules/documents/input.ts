import { z } from 'zod';
import { absoluteUri, childName, longDescription } from '../shared/fields.js';

// TMI's rules for a document's client-writable fields (DocumentBase).

export const documentInputSchema = z.strictObject({
  name: childName,
  uri: absoluteUri,
  description: longDescription,
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
});
export type DocumentInput = z.input<typeof documentInputSchema>;

/** What a JSON Patch may change on a document. */
export const documentPatchableSchema = z.strictObject({
  name: childName,
  uri: absoluteUri,
  description: longDescription,
  includeInReport: z.boolean(),
  timmyEnabled: z.boolean(),
});

/** Bulk operations take at most this many documents per request, as TMI's contract says. */
export const DOCUMENT_BULK_LIMIT = 20;
