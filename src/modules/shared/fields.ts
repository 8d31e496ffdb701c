import { z } from 'zod';

// TMI's rules for the text fields most of its resources share (…Base schemas), one definition each.

/** No control characters at all (single-line labels: severity, status, tags …). */
export const NO_CONTROL_CHARS = /^[^\x00-\x1F]*$/;

/** A child's name: 1–256 characters, trimmed, without `< > " ' &`. */
export const childName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(256)
  .regex(/^[^<>"'&]*$/, 'must not contain < > " \' or &');

/** A description: up to 2048 characters, no `<`, `>` or control characters (tab and newlines allowed). */
export const longDescription = z
  .string()
  .max(2048)
  .regex(/^[^<>\x00-\x08\x0B\x0C\x0E-\x1F]*$/, 'must not contain <, > or control characters')
  .nullish();

/** A single-line label of at most `max` characters. */
export const label = (max: number) =>
  z.string().max(max).regex(NO_CONTROL_CHARS, 'must not contain control characters');

/** An absolute URI (any scheme), as documents and repositories reference their sources. */
export const absoluteUri = z
  .string()
  .min(1)
  .max(1000)
  .regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s]*$/, 'must be an absolute URI such as https://…');
