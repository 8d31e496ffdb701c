import { z } from 'zod';
import type { User, WebhookDelivery } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { parseId } from '../threat-models/input.js';
import { enqueueDeliveries } from './fanout.js';
import { type DeliveryProgress, type DeliveryStatus, publishProgress } from './progress.js';
import { verifyBody } from './signature.js';
import { parsePage } from './subscriptions.js';

/** A delivery as reads return it, with the user who invoked it (add-on invocations). */
export type DeliveryView = WebhookDelivery & { invokedBy: User | null };

/** A status callback's body, as the receiver signs it (TMI's wire names). */
export const statusUpdateSchema = z.strictObject({
  status: z.enum(['in_progress', 'completed', 'failed']),
  status_percent: z.number().int().min(0).max(100).optional(),
  status_message: z
    .string()
    .max(1024)
    .regex(/^[^\x00-\x1F]*$/, 'must not contain control characters')
    .optional(),
});

export function deliveryNotFound(id: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Webhook delivery not found', {
    context: { resource_type: 'webhook_delivery', resource_id: id },
  });
}

const invalidSignature = () =>
  new AppError('UNAUTHENTICATED', 'Invalid webhook signature', {
    suggestion: "Sign the exact request body with HMAC-SHA256 and the subscription's secret: sha256=<hex>",
  });

const TERMINAL: ReadonlySet<string> = new Set(['delivered', 'failed']);

/** Deliveries: what administrators inspect, and what async receivers report progress on. */
export class DeliveryService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Administrators see every delivery; others those of subscriptions they own or that they invoked. */
  async list(filter: { subscriptionId?: string | null; limit: number; offset: number }) {
    const principal = requirePrincipal(this.ctx);
    const page = parsePage(filter);
    const where = {
      ...(principal.isAdmin
        ? {}
        : { OR: [{ invokedById: principal.userId }, { subscription: { ownerId: principal.userId } }] }),
      ...(filter.subscriptionId ? { subscriptionId: parseId(filter.subscriptionId, 'subscription_id') } : {}),
    };
    const { prisma } = this.ctx.db;
    const [items, total] = await Promise.all([
      prisma.webhookDelivery.findMany({
        where,
        include: { invokedBy: true },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: page.limit,
        skip: page.offset,
      }),
      prisma.webhookDelivery.count({ where }),
    ]);
    return { items, total, ...page };
  }

  /**
   * For administrators, the subscription's owner and the user who invoked it (add-ons); or, without a
   * token, for whoever signs the delivery id with the subscription's secret (the receiver).
   */
  async get(rawId: string, signature?: string | null): Promise<DeliveryView> {
    const id = parseId(rawId, 'delivery_id');
    if (!this.ctx.principal && signature) return this.getSigned(id, signature);
    const principal = requirePrincipal(this.ctx);
    const delivery = await this.load(id);
    const allowed =
      principal.isAdmin ||
      delivery.invokedById === principal.userId ||
      delivery.subscription.ownerId === principal.userId;
    if (!allowed) throw deliveryNotFound(id);
    return delivery;
  }

  private async getSigned(id: string, signature: string): Promise<DeliveryView> {
    const delivery = await this.load(id);
    if (!verifyBody(delivery.subscription.secret, id, signature)) throw invalidSignature();
    return delivery;
  }

  /**
   * A receiver's status callback, authenticated by the HMAC of its exact body. `completed` becomes
   * `delivered`; a delivery that ended (delivered or failed) takes no more changes (409), and a
   * callback already accepted is not accepted again (409).
   */
  async updateStatus(rawId: string, rawBody: string, signature: string | null | undefined) {
    const id = parseId(rawId, 'delivery_id');
    const delivery = await this.load(id);
    if (!signature || !verifyBody(delivery.subscription.secret, rawBody, signature)) throw invalidSignature();
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch (error) {
      throw new AppError('MALFORMED_JSON', `Malformed JSON: ${(error as Error).message}`);
    }
    const update = parseInput(statusUpdateSchema, body);
    const status: DeliveryStatus =
      update.status === 'completed' ? 'delivered' : update.status === 'failed' ? 'failed' : 'in_progress';
    const percent =
      update.status === 'completed' ? 100 : (update.status_percent ?? (update.status === 'failed' ? 0 : null));
    const now = this.ctx.now();
    const signatureKey = signature.trim().toLowerCase();
    // The transition and the replay check in one conditional update: concurrent callbacks cannot both win.
    const rows = await this.ctx.db.prisma.$queryRawUnsafe<{ id: string }[]>(
      `UPDATE webhook_deliveries
       SET status = $2, status_percent = COALESCE($3::int, status_percent), status_message = COALESCE($4, status_message),
           status_updated_at = $5, last_activity_at = $5,
           delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END,
           next_retry_at = NULL, accepted_signatures = array_append(accepted_signatures, $6)
       WHERE id = $1::uuid AND status IN ('pending', 'in_progress') AND NOT ($6 = ANY (accepted_signatures))
       RETURNING id::text`,
      id,
      status,
      percent,
      update.status_message ?? null,
      now,
      signatureKey,
    );
    if (rows.length === 0) {
      const current = await this.load(id);
      if (TERMINAL.has(current.status)) {
        throw new AppError('CONFLICT', `The delivery is ${current.status}; its status can no longer change`, {
          context: { status: current.status },
        });
      }
      throw new AppError('CONFLICT', 'This status update was already received', {
        suggestion: 'Each status update is accepted once; send a new one (for example with a new percent)',
      });
    }
    if (TERMINAL.has(status)) await this.recordSubscriptionHealth(delivery.subscriptionId, status, now);
    const updated = await this.load(id);
    await publishProgress(this.ctx.pubsub, this.ctx.log, [progressOf(updated, now)]);
    return {
      id,
      status: updated.status as DeliveryStatus,
      statusPercent: updated.statusPercent ?? 0,
      statusUpdatedAt: updated.statusUpdatedAt ?? now,
    };
  }

  /**
   * Every minute: deliveries left `in_progress` past the timeout are `failed`; pending deliveries that
   * never got a job (a crash between a collaborative edit and its enqueue) get one.
   */
  async sweep(): Promise<{ timedOut: number; requeued: number }> {
    const now = this.ctx.now();
    const { prisma } = this.ctx.db;
    const deadline = new Date(now.getTime() - this.ctx.webhooks.inProgressTimeoutSeconds * 1000);
    const timedOut = await prisma.$queryRawUnsafe<{ id: string }[]>(
      `UPDATE webhook_deliveries
       SET status = 'failed', last_error = 'No final status callback within the timeout', status_updated_at = $2,
           last_activity_at = $2
       WHERE status = 'in_progress' AND COALESCE(last_activity_at, created_at) < $1
       RETURNING id::text`,
      deadline,
      now,
    );
    for (const { id } of timedOut) {
      const delivery = await this.load(id);
      await this.recordSubscriptionHealth(delivery.subscriptionId, 'failed', now);
      await publishProgress(this.ctx.pubsub, this.ctx.log, [progressOf(delivery, now)]);
    }
    const stale = new Date(now.getTime() - 2 * 60_000);
    const orphans = await prisma.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id::text FROM webhook_deliveries
       WHERE status = 'pending' AND attempts = 0 AND created_at < $1 ORDER BY created_at LIMIT 500`,
      stale,
    );
    const missing: string[] = [];
    for (const { id } of orphans) if (!(await this.ctx.jobs.exists('webhook.deliver', id))) missing.push(id);
    if (missing.length > 0) await enqueueDeliveries(this.ctx, prisma, missing);
    return { timedOut: timedOut.length, requeued: missing.length };
  }

  private async recordSubscriptionHealth(subscriptionId: string, status: DeliveryStatus, now: Date) {
    const threshold = this.ctx.webhooks.failureThreshold;
    if (status === 'delivered') {
      await this.ctx.db.prisma.webhookSubscription.updateMany({
        where: { id: subscriptionId },
        data: { lastSuccessfulUse: now, publicationFailures: 0 },
      });
      return;
    }
    await this.ctx.db.prisma.$executeRawUnsafe(
      `UPDATE webhook_subscriptions
       SET publication_failures = publication_failures + 1,
           status = CASE WHEN status = 'active' AND publication_failures + 1 >= $2 THEN 'pending_delete' ELSE status END,
           modified_at = CASE WHEN status = 'active' AND publication_failures + 1 >= $2 THEN $3 ELSE modified_at END
       WHERE id = $1::uuid`,
      subscriptionId,
      threshold,
      now,
    );
  }

  private async load(id: string) {
    const delivery = await this.ctx.db.prisma.webhookDelivery.findUnique({
      where: { id },
      include: { invokedBy: true, subscription: { select: { ownerId: true, secret: true } } },
    });
    if (!delivery) throw deliveryNotFound(id);
    return delivery;
  }
}

export function progressOf(
  delivery: WebhookDelivery & { subscription: { ownerId: string } },
  at: Date,
): DeliveryProgress {
  return {
    id: delivery.id,
    subscriptionId: delivery.subscriptionId,
    subscriptionOwnerId: delivery.subscription.ownerId,
    eventType: delivery.eventType,
    threatModelId: delivery.threatModelId,
    addonId: delivery.addonId,
    invokedById: delivery.invokedById,
    status: delivery.status as DeliveryStatus,
    attempts: delivery.attempts,
    statusPercent: delivery.statusPercent,
    statusMessage: delivery.statusMessage,
    lastError: delivery.lastError,
    lastStatusCode: delivery.lastStatusCode,
    at: at.toISOString(),
  };
}
