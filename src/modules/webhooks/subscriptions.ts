import { z } from 'zod';
import type { WebhookSubscription } from '../../generated/prisma/client.js';
import { requireAdmin, requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { effectiveWebhookQuota } from '../quotas/service.js';
import { parseId } from '../threat-models/input.js';
import { isWebhookEventType, WEBHOOK_EVENT_TYPES } from './event-types.js';
import { insertDirectDelivery } from './fanout.js';
import { generateSecret } from './signature.js';
import { checkWebhookTarget, targetPolicy } from './url-guard.js';

const noControlCharacters = /^[^\x00-\x1F]*$/;

export const subscriptionInputSchema = z.strictObject({
  name: z.string().min(1).max(255).regex(noControlCharacters, 'must not contain control characters'),
  url: z.string().trim().min(8).max(1024),
  events: z
    .array(
      z
        .string()
        .max(1000)
        .refine(isWebhookEventType, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}` }),
    )
    .min(1, 'at least one event type is required')
    .max(50)
    .transform((events) => [...new Set(events)]),
  secret: z
    .string()
    .min(16)
    .max(128)
    .regex(noControlCharacters, 'must not contain control characters')
    .nullish()
    .transform((value) => value ?? undefined),
  // TMI's contract allows an empty string for "no scope".
  threatModelId: z
    .string()
    .nullish()
    .transform((value) => (value ? value : null)),
});
export type SubscriptionInput = z.input<typeof subscriptionInputSchema>;

export const testEventSchema = z.enum(WEBHOOK_EVENT_TYPES).default('threat_model.created');

/** A subscription as reads return it; `secret` only in the answer to its creation. */
export type SubscriptionView = Omit<WebhookSubscription, 'secret'> & { secret?: string };

const withoutSecret = ({ secret: _secret, ...rest }: WebhookSubscription): SubscriptionView => rest;

export function subscriptionNotFound(id: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Webhook subscription not found', {
    context: { resource_type: 'webhook_subscription', resource_id: id },
  });
}

/**
 * Webhook subscriptions: administrators say where TMI posts which events. Reads are open to any user
 * for the subscriptions they own (TMI's contract documents no 403 on them); only administrators create.
 */
export class SubscriptionService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(raw: SubscriptionInput): Promise<SubscriptionView> {
    requireAdmin(this.ctx);
    const owner = requirePrincipal(this.ctx);
    const input = parseInput(subscriptionInputSchema, raw);
    const threatModelId = input.threatModelId ? parseId(input.threatModelId) : null;
    await checkWebhookTarget(input.url, targetPolicy(this.ctx.webhooks));
    const { prisma } = this.ctx.db;
    if (
      threatModelId &&
      !(await prisma.threatModel.findUnique({ where: { id: threatModelId }, select: { id: true } }))
    ) {
      // TMI documents no 404 here: an unknown scope is a bad field.
      throw new AppError('VALIDATION_FAILED', 'Invalid input: threat_model_id: no such threat model', {
        context: { field_errors: [{ field: 'threatModelId', error: 'no such threat model' }] },
      });
    }
    const now = this.ctx.now();
    const created = await prisma.$transaction(async (tx) => {
      await enforceSubscriptionQuota(tx, owner.userId, now);
      await tx.webhookSubscriptionRequest.create({ data: { ownerId: owner.userId, requestedAt: now } });
      return tx.webhookSubscription.create({
        data: {
          ownerId: owner.userId,
          threatModelId,
          name: input.name,
          url: input.url,
          events: input.events,
          secret: input.secret ?? generateSecret(),
          status: 'active',
          createdAt: now,
          modifiedAt: now,
        },
      });
    });
    return created;
  }

  async list(filter: { threatModelId?: string | null; limit: number; offset: number }) {
    const principal = requirePrincipal(this.ctx);
    const page = parsePage(filter);
    const where = {
      ...(principal.isAdmin ? {} : { ownerId: principal.userId }),
      ...(filter.threatModelId ? { threatModelId: parseId(filter.threatModelId) } : {}),
    };
    const { prisma } = this.ctx.db;
    const [rows, total] = await Promise.all([
      prisma.webhookSubscription.findMany({
        where,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: page.limit,
        skip: page.offset,
      }),
      prisma.webhookSubscription.count({ where }),
    ]);
    return { items: rows.map(withoutSecret), total, ...page };
  }

  async get(rawId: string): Promise<SubscriptionView> {
    const principal = requirePrincipal(this.ctx);
    const id = parseId(rawId, 'webhook_id');
    const subscription = await this.load(id);
    if (!principal.isAdmin && subscription.ownerId !== principal.userId) throw subscriptionNotFound(id);
    return withoutSecret(subscription);
  }

  /** Deletes the subscription with its deliveries and add-ons. */
  async delete(rawId: string): Promise<void> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'webhook_id');
    const { count } = await this.ctx.db.prisma.webhookSubscription.deleteMany({ where: { id } });
    if (count === 0) throw subscriptionNotFound(id);
  }

  /** Sends a test event to the subscription now (whatever events it listens for). */
  async test(rawId: string, rawEventType?: string | null) {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'webhook_id');
    const eventType = parseInput(testEventSchema, rawEventType ?? undefined);
    const subscription = await this.load(id);
    if (subscription.status !== 'active') {
      throw new AppError('CONFLICT', `The subscription is ${subscription.status} and receives no deliveries`);
    }
    const resource = eventType.split('.')[0]!;
    const delivery = await this.ctx.db.prisma.$transaction((tx) =>
      insertDirectDelivery(this.ctx, tx, {
        subscriptionId: id,
        eventType,
        threatModelId: subscription.threatModelId,
        objectType: resource,
        objectId: null,
        data: { test: true, message: 'Test delivery from TMI' },
      }),
    );
    return { deliveryId: delivery.id, status: delivery.status, message: `Test ${eventType} delivery queued` };
  }

  private async load(id: string): Promise<WebhookSubscription> {
    const subscription = await this.ctx.db.prisma.webhookSubscription.findUnique({ where: { id } });
    if (!subscription) throw subscriptionNotFound(id);
    return subscription;
  }
}

const pageSchema = z.object({
  limit: z.number().int().min(1).max(100),
  offset: z.number().int().min(0),
});

export function parsePage(page: { limit: number; offset: number }): { limit: number; offset: number } {
  return parseInput(pageSchema, { limit: page.limit, offset: page.offset });
}

type QuotaTx = Parameters<Parameters<ServiceContext['db']['prisma']['$transaction']>[0]>[0];

/**
 * Subscriptions per owner, and subscription requests per minute and per day (sliding windows), counted
 * under a per-owner lock so concurrent requests cannot both take the last place.
 */
async function enforceSubscriptionQuota(tx: QuotaTx, ownerId: string, now: Date): Promise<void> {
  await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext('webhook-quota:' || $1::text))`, ownerId);
  const quota = await effectiveWebhookQuota(tx, ownerId);
  const owned = await tx.webhookSubscription.count({ where: { ownerId } });
  if (owned >= quota.maxSubscriptions) {
    throw new AppError('RATE_LIMITED', `Webhook subscription quota reached: at most ${quota.maxSubscriptions}`, {
      context: { max_subscriptions: quota.maxSubscriptions },
      suggestion: 'Delete a subscription, or ask an administrator to raise your webhook quota',
    });
  }
  for (const [limit, windowSeconds, name] of [
    [quota.maxSubscriptionRequestsPerMinute, 60, 'max_subscription_requests_per_minute'],
    [quota.maxSubscriptionRequestsPerDay, 86_400, 'max_subscription_requests_per_day'],
  ] as const) {
    const windowStart = new Date(now.getTime() - windowSeconds * 1000);
    const recent = await tx.webhookSubscriptionRequest.findMany({
      where: { ownerId, requestedAt: { gt: windowStart } },
      orderBy: { requestedAt: 'desc' },
      take: limit,
      select: { requestedAt: true },
    });
    if (recent.length >= limit) {
      // Room again once the oldest of the last `limit` requests leaves the window.
      const oldest = recent[recent.length - 1]!.requestedAt.getTime();
      throw new AppError('RATE_LIMITED', `Too many subscription requests: at most ${limit} per ${windowSeconds} s`, {
        context: { [name]: limit },
        retryAfterSeconds: (oldest + windowSeconds * 1000 - now.getTime()) / 1000,
      });
    }
  }
}
