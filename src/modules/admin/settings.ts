import type { SystemSetting } from '../../generated/prisma/client.js';
import { requireAdmin, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { type SettingInput, settingInputSchema, settingKeySchema } from './input.js';

export type { SystemSetting };

function parseKey(raw: string): string {
  const result = settingKeySchema.safeParse(raw);
  if (result.success) return result.data;
  throw new AppError('VALIDATION_FAILED', `Invalid key: ${result.error.issues[0]?.message ?? 'malformed'}`, {
    context: { field_errors: [{ field: 'key', error: 'must match ^[a-z][a-z0-9_.]*$ (at most 256 characters)' }] },
  });
}

function settingNotFound(key: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', `No setting ${key}`, {
    context: { resource_type: 'system_setting', key },
  });
}

/** Administrators: system settings, typed key-value pairs kept in the database. */
export class SystemSettingService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(): Promise<SystemSetting[]> {
    requireAdmin(this.ctx);
    return this.ctx.db.prisma.systemSetting.findMany({ orderBy: { key: 'asc' }, take: 1000 });
  }

  async get(rawKey: string): Promise<SystemSetting> {
    requireAdmin(this.ctx);
    const key = parseKey(rawKey);
    const setting = await this.ctx.db.prisma.systemSetting.findUnique({ where: { key } });
    if (!setting) throw settingNotFound(key);
    return setting;
  }

  /** Creates or replaces a setting; its value must read as its type (int, float, bool, json or string). */
  async set(rawKey: string, rawInput: SettingInput): Promise<SystemSetting> {
    const principal = requireAdmin(this.ctx);
    const key = parseKey(rawKey);
    const input = parseInput(settingInputSchema, rawInput);
    const data = {
      value: input.value,
      type: input.type,
      description: input.description ?? null,
      modifiedAt: this.ctx.now(),
      modifiedById: principal.userId,
    };
    const setting = await this.ctx.db.prisma.systemSetting.upsert({
      where: { key },
      create: { key, ...data },
      update: data,
    });
    this.ctx.log.info({ key, type: input.type }, 'system setting set');
    return setting;
  }

  async delete(rawKey: string): Promise<string> {
    requireAdmin(this.ctx);
    const key = parseKey(rawKey);
    const { count } = await this.ctx.db.prisma.systemSetting.deleteMany({ where: { key } });
    if (count === 0) throw settingNotFound(key);
    this.ctx.log.info({ key }, 'system setting deleted');
    return key;
  }
}
