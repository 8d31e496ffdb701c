import { z } from 'zod';

// TMI's rules for a metadata entry, the same on every entity that carries metadata.

export const metadataKeySchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9_./:-]+$/, 'may contain letters, digits and _ . / : - only');

export const metadataEntrySchema = z.strictObject({
  key: metadataKeySchema,
  value: z.string().min(1, 'must not be empty').max(1024),
});

export type MetadataEntryInput = z.output<typeof metadataEntrySchema>;

/** Bulk operations take at most this many entries per request, as TMI's contract says. */
export const METADATA_BULK_LIMIT = 20;
