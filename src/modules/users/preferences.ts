import type { Prisma } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';

// A user's preferences (TMI's UserPreferences): one JSON object keyed by client application (1-64 letters,
// digits, _ or -), each value that client's own JSON object; at most 20 clients and 1 KB as JSON.

export type Preferences = Record<string, Record<string, unknown>>;

export const MAX_PREFERENCES_BYTES = 1024;
export const MAX_PREFERENCE_CLIENTS = 20;
const CLIENT_KEY = /^[a-zA-Z0-9_-]{1,64}$/;

function invalid(message: string, field = 'preferences'): AppError {
  return new AppError('VALIDATION_FAILED', `Invalid preferences: ${message}`, {
    context: { field_errors: [{ field, error: message }] },
    suggestion: `Send an object of at most ${MAX_PREFERENCE_CLIENTS} client objects, ${MAX_PREFERENCES_BYTES} bytes as JSON`,
  });
}

export function checkedPreferences(value: unknown): Preferences {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('must be a JSON object');
  const entries = Object.entries(value);
  if (entries.length > MAX_PREFERENCE_CLIENTS) throw invalid(`at most ${MAX_PREFERENCE_CLIENTS} clients`);
  for (const [key, inner] of entries) {
    if (!CLIENT_KEY.test(key)) throw invalid('client keys are 1-64 letters, digits, _ or -', key);
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
      throw invalid("each client's preferences must be a JSON object", key);
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > MAX_PREFERENCES_BYTES) throw invalid(`exceed ${MAX_PREFERENCES_BYTES} bytes (${bytes})`);
  return value as Preferences;
}

const asJson = (preferences: Preferences) => preferences as Prisma.InputJsonObject;

export class PreferencesService {
  constructor(private readonly ctx: ServiceContext) {}

  /** GET /me/preferences: {} until some are set. */
  async get(): Promise<Preferences> {
    const principal = requirePrincipal(this.ctx);
    const row = await this.ctx.db.prisma.userPreferences.findUnique({ where: { userId: principal.userId } });
    return (row?.preferences as Preferences | undefined) ?? {};
  }

  /** POST /me/preferences: 409 when the user already has preferences (PUT replaces them). */
  async create(value: unknown): Promise<Preferences> {
    const principal = requirePrincipal(this.ctx);
    const preferences = checkedPreferences(value);
    const now = this.ctx.now();
    try {
      await this.ctx.db.prisma.userPreferences.create({
        data: { userId: principal.userId, preferences: asJson(preferences), createdAt: now, modifiedAt: now },
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'P2002') {
        throw new AppError('CONFLICT', 'Preferences already exist', {
          suggestion: 'Use PUT /me/preferences to replace them',
        });
      }
      throw error;
    }
    return preferences;
  }

  /** PUT /me/preferences: creates or replaces them entirely. */
  async replace(value: unknown): Promise<Preferences> {
    const principal = requirePrincipal(this.ctx);
    const preferences = checkedPreferences(value);
    const now = this.ctx.now();
    await this.ctx.db.prisma.userPreferences.upsert({
      where: { userId: principal.userId },
      create: { userId: principal.userId, preferences: asJson(preferences), createdAt: now, modifiedAt: now },
      update: { preferences: asJson(preferences), modifiedAt: now },
    });
    return preferences;
  }
}
