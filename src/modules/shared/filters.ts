/**
 * A case-insensitive literal substring filter. Prisma's `contains` becomes an ILIKE pattern, so the
 * pattern characters `%`, `_` and backslash in what the client typed must be escaped.
 */
export const containsText = (value: string) => ({
  contains: value.replace(/[\\%_]/g, '\\$&'),
  mode: 'insensitive' as const,
});
