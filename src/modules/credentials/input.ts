import { z } from 'zod';

// TMI's client credential requests: a name (1-100), an optional description (up to 500) and an optional
// expiry in the future. Names and descriptions are shown in user interfaces, so control characters and
// invisible formatting characters (zero-width, bidirectional overrides) are refused.

const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u200B-\u200F\u202A-\u202E\u2060\uFEFF]/;

const displayText = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !INVISIBLE.test(value), 'must not contain control or invisible characters');

export const credentialInputSchema = z.strictObject({
  name: displayText(100).refine((value) => value.trim().length > 0, 'must not be empty'),
  description: displayText(500).nullish(),
  expiresAt: z.date().nullish(),
});

export type CredentialInput = z.input<typeof credentialInputSchema>;

/** GET /me/client_credentials paging (TMI's PaginationLimit and PaginationOffset). */
export const ownPageSchema = z.strictObject({
  limit: z.number().int().min(1).max(100),
  offset: z.number().int().min(0).max(1_000_000_000),
});

/** The admin lists' paging (TMI's LimitQueryParam and OffsetQueryParam). */
export const adminPageSchema = z.strictObject({
  limit: z.number().int().min(0).max(1000),
  offset: z.number().int().min(0).max(1_000_000),
});

/** POST /admin/users/automation (TMI's CreateAutomationAccountRequest). */
export const automationAccountInputSchema = z.strictObject({
  name: z
    .string()
    .min(2, 'must be at least 2 characters')
    .max(64, 'must be at most 64 characters')
    .regex(
      /^[a-zA-Z][a-zA-Z0-9 _.@-]*[a-zA-Z0-9]$/,
      'must start with a letter, end with a letter or digit, and contain only letters, digits, spaces, _ . @ -',
    ),
  email: z
    .string()
    .max(254)
    .regex(/^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/, 'must be an email address')
    .nullish(),
});

export type AutomationAccountInput = z.input<typeof automationAccountInputSchema>;

/** An automation account's name as the local part of its provider id and email: lower-case letters, digits, hyphens. */
export function normalizeAutomationName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
