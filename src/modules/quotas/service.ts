import type { z } from 'zod';
import { requireAdmin, type ServiceContext } from '../../infra/context.js';
import type { PrismaClient, Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { parseId } from '../threat-models/input.js';
import {
  ADDON_QUOTA_DEFAULTS,
  type AddonQuotaLimits,
  addonQuotaInputSchema,
  quotaPageSchema,
  USER_API_QUOTA_DEFAULTS,
  type UserApiQuotaLimits,
  userApiQuotaInputSchema,
  WEBHOOK_QUOTA_DEFAULTS,
  type WebhookQuotaLimits,
  webhookQuotaInputSchema,
} from './input.js';

export type { AddonQuotaLimits, UserApiQuotaLimits, WebhookQuotaLimits };

/** A user's limits as the admin API shows them; `isDefault` when no administrator set them. */
export type Quota<L> = L & { ownerId: string; createdAt: Date; modifiedAt: Date; isDefault: boolean };
export type AddonQuota = Quota<AddonQuotaLimits>;
export type WebhookQuota = Quota<WebhookQuotaLimits>;
export type UserApiQuota = Quota<UserApiQuotaLimits>;

type Db = PrismaClient | Tx;
type StoredQuota<L> = L & { ownerId: string; createdAt: Date; modifiedAt: Date };

/** The few Prisma calls a quota table answers (both quota delegates have this shape). */
interface QuotaDelegate<L> {
  findUnique(args: { where: { ownerId: string } }): Promise<StoredQuota<L> | null>;
  findMany(args: { orderBy: object[]; skip: number; take: number }): Promise<StoredQuota<L>[]>;
  count(): Promise<number>;
  deleteMany(args: { where: { ownerId: string } }): Promise<{ count: number }>;
}

/** One kind of per-user quota: its table, its limits and their defaults. */
interface QuotaKind<L extends object> {
  /** For messages and error context, e.g. `addon_invocation_quota`. */
  resource: string;
  table: string;
  /** Each limit's column. */
  columns: { [K in keyof L]: string };
  defaults: Readonly<L>;
  input: z.ZodType<L>;
  delegate(db: Db): QuotaDelegate<L>;
  /** After a user's quota is set or cleared (committed). */
  changed?(ctx: ServiceContext, userId: string): Promise<void>;
}

const addonQuotaKind: QuotaKind<AddonQuotaLimits> = {
  resource: 'addon_invocation_quota',
  table: 'addon_invocation_quotas',
  columns: { maxActiveInvocations: 'max_active_invocations', maxInvocationsPerHour: 'max_invocations_per_hour' },
  defaults: ADDON_QUOTA_DEFAULTS,
  input: addonQuotaInputSchema,
  delegate: (db) => db.addonInvocationQuota as unknown as QuotaDelegate<AddonQuotaLimits>,
};

const webhookQuotaKind: QuotaKind<WebhookQuotaLimits> = {
  resource: 'webhook_quota',
  table: 'webhook_quotas',
  columns: {
    maxSubscriptions: 'max_subscriptions',
    maxEventsPerMinute: 'max_events_per_minute',
    maxSubscriptionRequestsPerMinute: 'max_subscription_requests_per_minute',
    maxSubscriptionRequestsPerDay: 'max_subscription_requests_per_day',
  },
  defaults: WEBHOOK_QUOTA_DEFAULTS,
  input: webhookQuotaInputSchema,
  delegate: (db) => db.webhookQuota as unknown as QuotaDelegate<WebhookQuotaLimits>,
};

const userApiQuotaKind: QuotaKind<UserApiQuotaLimits> = {
  resource: 'user_api_quota',
  table: 'user_api_quotas',
  columns: { maxRequestsPerMinute: 'max_requests_per_minute', maxRequestsPerHour: 'max_requests_per_hour' },
  defaults: USER_API_QUOTA_DEFAULTS,
  input: userApiQuotaInputSchema,
  delegate: (db) => db.userApiQuota as unknown as QuotaDelegate<UserApiQuotaLimits>,
  // Every instance's rate limiter caches users' limits: tell them all.
  async changed(ctx, userId) {
    try {
      await ctx.pubsub.publish('quota.user_api_changed', 'all', { userId });
    } catch (error) {
      ctx.log.warn({ err: error, userId }, 'could not announce a changed API quota');
    }
  },
};

function limitsOf<L extends object>(kind: QuotaKind<L>, row: L | null): L {
  if (!row) return { ...kind.defaults };
  return Object.fromEntries(Object.keys(kind.columns).map((key) => [key, row[key as keyof L]])) as L;
}

async function effective<L extends object>(kind: QuotaKind<L>, db: Db, userId: string): Promise<L> {
  return limitsOf(kind, await kind.delegate(db).findUnique({ where: { ownerId: userId } }));
}

/** A user's add-on invocation limits: the administrator's, else TMI's defaults (3 active, 10 an hour). */
export function effectiveAddonQuota(db: Db, userId: string): Promise<AddonQuotaLimits> {
  return effective(addonQuotaKind, db, userId);
}

/**
 * A user's webhook limits: the administrator's, else the defaults (10 subscriptions, 12 events a minute,
 * 10 subscription requests a minute and 20 a day). Takes the client or a transaction.
 */
export function effectiveWebhookQuota(db: Db, userId: string): Promise<WebhookQuotaLimits> {
  return effective(webhookQuotaKind, db, userId);
}

/** A user's API rate limits: the administrator's, else the defaults (100 requests a minute, 6000 an hour). */
export function effectiveUserApiQuota(db: Db, userId: string): Promise<UserApiQuotaLimits> {
  return effective(userApiQuotaKind, db, userId);
}

export interface QuotaPage<L> {
  items: Quota<L>[];
  total: number;
  limit: number;
  offset: number;
  defaults: L;
}

/** The administrators' view of one kind of quota: list, read a user's, set, and clear back to defaults. */
class QuotaAdministration<L extends object> {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly kind: QuotaKind<L>,
  ) {}

  async list(page: { limit: number; offset: number }): Promise<QuotaPage<L>> {
    requireAdmin(this.ctx);
    const { limit, offset } = parseInput(quotaPageSchema, page);
    const delegate = this.kind.delegate(this.ctx.db.prisma);
    const [rows, total] = await Promise.all([
      delegate.findMany({ orderBy: [{ createdAt: 'asc' }, { ownerId: 'asc' }], skip: offset, take: limit }),
      delegate.count(),
    ]);
    return {
      items: rows.map((row) => ({ ...row, isDefault: false })),
      total,
      limit,
      offset,
      defaults: { ...this.kind.defaults },
    };
  }

  /** The user's effective quota; a user without one of their own has the defaults (404 for no such user). */
  async get(rawUserId: string): Promise<Quota<L>> {
    requireAdmin(this.ctx);
    const userId = parseId(rawUserId, 'user_id');
    const [user, row] = await Promise.all([
      this.ctx.db.prisma.user.findUnique({ where: { id: userId }, select: { createdAt: true } }),
      this.kind.delegate(this.ctx.db.prisma).findUnique({ where: { ownerId: userId } }),
    ]);
    if (!user) throw userNotFound(userId);
    if (row) return { ...row, isDefault: false };
    // The defaults have applied since the user exists.
    return {
      ...this.kind.defaults,
      ownerId: userId,
      createdAt: user.createdAt,
      modifiedAt: user.createdAt,
      isDefault: true,
    };
  }

  /** Creates or replaces the user's quota; `created` tells which (REST answers 201 or 200). */
  async set(rawUserId: string, rawInput: unknown): Promise<{ quota: Quota<L>; created: boolean }> {
    requireAdmin(this.ctx);
    const userId = parseId(rawUserId, 'user_id');
    const input = parseInput(this.kind.input, rawInput);
    const user = await this.ctx.db.prisma.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw userNotFound(userId);
    const keys = Object.keys(this.kind.columns) as (keyof L & string)[];
    const columns = keys.map((key) => this.kind.columns[key]);
    // One statement, so two administrators setting the same user's quota cannot both create it.
    const rows = await this.ctx.db.prisma.$queryRawUnsafe<(StoredQuota<L> & { created: boolean })[]>(
      `INSERT INTO ${this.kind.table} (owner_id, ${columns.join(', ')}, created_at, modified_at)
       VALUES ($1::uuid, ${columns.map((_, i) => `$${i + 3}::int`).join(', ')}, $2, $2)
       ON CONFLICT (owner_id) DO UPDATE
         SET ${columns.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}, modified_at = EXCLUDED.modified_at
       RETURNING owner_id::text AS "ownerId", ${keys.map((key, i) => `${columns[i]} AS "${key}"`).join(', ')},
                 created_at AS "createdAt", modified_at AS "modifiedAt", (xmax = 0) AS created`,
      userId,
      this.ctx.now(),
      ...keys.map((key) => input[key]),
    );
    const { created, ...quota } = rows[0]!;
    this.ctx.log.info({ userId, resource: this.kind.resource, created }, 'quota set');
    await this.kind.changed?.(this.ctx, userId);
    return { quota: { ...(quota as unknown as StoredQuota<L>), isDefault: false }, created };
  }

  /** Removes the user's own quota (the defaults apply again); 404 when they had none. Returns the user id. */
  async clear(rawUserId: string): Promise<string> {
    requireAdmin(this.ctx);
    const userId = parseId(rawUserId, 'user_id');
    const { count } = await this.kind.delegate(this.ctx.db.prisma).deleteMany({ where: { ownerId: userId } });
    if (count === 0) {
      throw new AppError('RESOURCE_NOT_FOUND', 'This user has no quota of their own', {
        context: { resource_type: this.kind.resource, user_id: userId },
      });
    }
    this.ctx.log.info({ userId, resource: this.kind.resource }, 'quota cleared');
    await this.kind.changed?.(this.ctx, userId);
    return userId;
  }
}

function userNotFound(userId: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'User not found', {
    context: { resource_type: 'user', resource_id: userId },
  });
}

/** Add-on invocation quotas (admin only). */
export class AddonQuotaService extends QuotaAdministration<AddonQuotaLimits> {
  constructor(ctx: ServiceContext) {
    super(ctx, addonQuotaKind);
  }
}

/** Webhook quotas (admin only). */
export class WebhookQuotaService extends QuotaAdministration<WebhookQuotaLimits> {
  constructor(ctx: ServiceContext) {
    super(ctx, webhookQuotaKind);
  }
}

/** Per-user API rate limits (admin only); the rate limiter enforces them. */
export class UserApiQuotaService extends QuotaAdministration<UserApiQuotaLimits> {
  constructor(ctx: ServiceContext) {
    super(ctx, userApiQuotaKind);
  }
}
