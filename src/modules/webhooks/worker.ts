import type { WebhookConfig } from '../../infra/config.js';
import type { ServiceContext } from '../../infra/context.js';
import { type BatchItem, registerBatchJob } from '../../infra/jobs.js';
import { deliverWebhook } from './fanout.js';
import { type DeliveryProgress, type DeliveryStatus, publishProgress } from './progress.js';
import { postWebhook, type SendResult, TargetChecks } from './sender.js';
import { signBody } from './signature.js';
import { targetPolicy } from './url-guard.js';

// The delivery worker: a batch of jobs costs two statements whatever its size — one reads the batch's
// pending deliveries (writing nothing), one records every outcome and attempt — with the POSTs in between
// running concurrently. A job whose attempt failed is failed back to pg-boss, which retries it with
// exponential backoff; the last failed attempt makes the delivery `failed`.
//
// A worker that dies mid-POST leaves its jobs active; pg-boss expires and retries them, and the retry
// posts the same delivery id and the same bytes again, so the receiver can tell it already has it.

interface ClaimedDelivery {
  id: string;
  subscription_id: string;
  owner_id: string;
  event_type: string;
  threat_model_id: string | null;
  addon_id: string | null;
  invoked_by_id: string | null;
  payload: unknown;
  attempts: number;
  url: string;
  secret: string;
  subscription_status: string;
}

// Reading the batch writes nothing: the attempt is counted with its outcome (pg-boss numbers attempts,
// a crashed one included, so the count stays right across workers).
const claimSql = `
SELECT d.id::text, d.subscription_id::text, s.owner_id::text, d.event_type, d.threat_model_id::text,
       d.addon_id::text, d.invoked_by_id::text, d.payload, s.url, s.secret, s.status AS subscription_status
FROM webhook_deliveries d
JOIN webhook_subscriptions s ON s.id = d.subscription_id
WHERE d.id = ANY ($1::uuid[]) AND d.status = 'pending'`;

/**
 * Every outcome of a batch in one statement (`$1`: [{id, status, code, error, next_retry_at}]), applied
 * only to deliveries still pending: a receiver's status callback may already have moved one on. The
 * subscriptions' health follows: a success resets their failure count, a delivery that ends failed adds
 * one, and reaching the threshold (`$3`) stops the subscription (`pending_delete`).
 */
const recordSql = `
WITH outcome AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS o(id uuid, status text, code int, error text, next_retry_at timestamptz, subscription_id uuid, attempts int)
), updated AS (
  UPDATE webhook_deliveries d
  SET status = o.status, attempts = GREATEST(d.attempts, o.attempts), last_status_code = o.code, last_error = COALESCE(o.error, d.last_error),
      next_retry_at = o.next_retry_at, last_activity_at = $2::timestamptz,
      status_updated_at = CASE WHEN o.status <> 'pending' THEN $2::timestamptz ELSE d.status_updated_at END,
      delivered_at = CASE WHEN o.status = 'delivered' THEN $2::timestamptz ELSE d.delivered_at END,
      status_percent = CASE WHEN o.status = 'delivered' THEN 100 WHEN o.status = 'in_progress' THEN 0
                            ELSE d.status_percent END
  FROM outcome o
  WHERE d.id = o.id AND d.status = 'pending'
  RETURNING d.id::text, d.status, d.subscription_id
), health AS (
  SELECT subscription_id,
         bool_or(status IN ('delivered', 'in_progress')) AS succeeded,
         count(*) FILTER (WHERE status = 'failed') AS failures
  FROM updated GROUP BY subscription_id
), subscriptions AS (
  UPDATE webhook_subscriptions s
  SET last_successful_use = CASE WHEN h.succeeded THEN $2::timestamptz ELSE s.last_successful_use END,
      publication_failures = CASE WHEN h.succeeded THEN 0 ELSE s.publication_failures + h.failures END,
      status = CASE WHEN NOT h.succeeded AND s.status = 'active' AND s.publication_failures + h.failures >= $3
                    THEN 'pending_delete' ELSE s.status END,
      modified_at = CASE WHEN NOT h.succeeded AND s.status = 'active' AND s.publication_failures + h.failures >= $3
                         THEN $2::timestamptz ELSE s.modified_at END
  FROM health h
  WHERE s.id = h.subscription_id AND (h.succeeded OR h.failures > 0)
)
SELECT id, status FROM updated`;

/** What pg-boss waits before the retry after attempt `attempt` (its backoff, without the jitter). */
function retryDelaySeconds(config: WebhookConfig, attempt: number): number {
  return Math.min(config.retryDelayMaxSeconds, config.retryDelaySeconds * 2 ** (attempt - 1));
}

interface Outcome {
  id: string;
  subscription_id: string;
  status: DeliveryStatus;
  code: number | null;
  error: string | null;
  next_retry_at: string | null;
  attempts: number;
}

function outcomeOf(config: WebhookConfig, delivery: ClaimedDelivery, result: SendResult, now: Date): Outcome {
  const base = {
    id: delivery.id,
    subscription_id: delivery.subscription_id,
    code: result.statusCode ?? null,
    attempts: delivery.attempts,
  };
  if (!result.error) {
    return { ...base, status: result.async ? 'in_progress' : 'delivered', error: null, next_retry_at: null };
  }
  const lastAttempt = delivery.attempts >= config.maxAttempts;
  const retryAt = new Date(now.getTime() + retryDelaySeconds(config, delivery.attempts) * 1000);
  return {
    ...base,
    status: lastAttempt ? 'failed' : 'pending',
    error: result.error.slice(0, 1000),
    next_retry_at: lastAttempt ? null : retryAt.toISOString(),
  };
}

/** Posts one batch of deliveries and records their outcomes; returns how pg-boss settles each job. */
export async function deliverBatch(
  ctx: ServiceContext,
  items: BatchItem<{ deliveryId: string }>[],
): Promise<Map<string, 'completed' | 'failed'>> {
  const config = ctx.webhooks;
  const settled = new Map<string, 'completed' | 'failed'>(items.map((item) => [item.jobId, 'completed']));
  const jobOf = new Map(items.map((item) => [item.payload.deliveryId, item.jobId]));
  const { rows: claimed } = await ctx.db.pool.query<ClaimedDelivery>({
    name: 'webhook_claim',
    text: claimSql,
    values: [[...jobOf.keys()]],
  });
  if (claimed.length === 0) return settled;
  const attemptOf = new Map(items.map((item) => [item.payload.deliveryId, item.attempt]));
  for (const delivery of claimed) delivery.attempts = attemptOf.get(delivery.id) ?? 1;

  const targets = new TargetChecks(targetPolicy(config));
  const results = await Promise.all(
    claimed.map(async (delivery): Promise<SendResult> => {
      if (delivery.subscription_status !== 'active') {
        return { async: false, error: `subscription is ${delivery.subscription_status}` };
      }
      const body = JSON.stringify(delivery.payload);
      return postWebhook(
        delivery.url,
        body,
        {
          'X-Webhook-Event': delivery.event_type,
          'X-Webhook-Delivery-Id': delivery.id,
          'X-Webhook-Subscription-Id': delivery.subscription_id,
          'X-Webhook-Signature': signBody(delivery.secret, body),
          'User-Agent': 'TMI-Webhook/1.0',
        },
        { targets, timeoutMs: config.timeoutMs },
      );
    }),
  );

  const now = ctx.now();
  const outcomes = claimed.map((delivery, index) => {
    const outcome = outcomeOf(config, delivery, results[index]!, now);
    // A stopped subscription gets no retries.
    if (delivery.subscription_status !== 'active')
      return { ...outcome, status: 'failed' as const, next_retry_at: null };
    return outcome;
  });
  const { rows: recorded } = await ctx.db.pool.query<{ id: string; status: DeliveryStatus }>({
    name: 'webhook_record',
    text: recordSql,
    values: [JSON.stringify(outcomes), now, config.failureThreshold],
  });

  for (const outcome of outcomes) {
    if (outcome.status === 'pending') settled.set(jobOf.get(outcome.id)!, 'failed');
  }
  const byId = new Map(claimed.map((delivery) => [delivery.id, delivery]));
  const outcomeById = new Map(outcomes.map((outcome) => [outcome.id, outcome]));
  const at = now.toISOString();
  await publishProgress(
    ctx.pubsub,
    ctx.log,
    recorded.map(({ id, status }): DeliveryProgress => {
      const delivery = byId.get(id)!;
      const outcome = outcomeById.get(id)!;
      return {
        id,
        subscriptionId: delivery.subscription_id,
        subscriptionOwnerId: delivery.owner_id,
        eventType: delivery.event_type,
        threatModelId: delivery.threat_model_id,
        addonId: delivery.addon_id,
        invokedById: delivery.invoked_by_id,
        status,
        attempts: delivery.attempts,
        statusPercent: status === 'delivered' ? 100 : status === 'in_progress' ? 0 : null,
        statusMessage: null,
        lastError: outcome.error,
        lastStatusCode: outcome.code,
        at,
      };
    }),
  );
  return settled;
}

/** The delivery queue's policy comes from configuration: attempts, backoff, and a deadline per batch. */
export function deliverWebhookHandler(config: WebhookConfig, systemContext: () => ServiceContext) {
  const definition = {
    ...deliverWebhook,
    retryLimit: config.maxAttempts - 1,
    retryDelaySeconds: config.retryDelaySeconds,
    retryBackoff: true,
    retryDelayMaxSeconds: config.retryDelayMaxSeconds,
    // A batch's POSTs run concurrently: a job is expired (and retried) once no attempt can still be running.
    expireInSeconds: Math.ceil(config.timeoutMs / 1000) * 2 + 5,
  };
  return registerBatchJob(
    definition,
    { size: config.worker.batchSize, concurrency: config.worker.concurrency },
    (items) => deliverBatch(systemContext(), items),
  );
}
