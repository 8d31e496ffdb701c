import { z } from 'zod';
import type { PrismaTransactionLike } from 'pg-boss';
import type { ServiceContext } from '../../infra/context.js';
import { defineJob } from '../../infra/jobs.js';

// How a change becomes deliveries: the statement that records a change's events also inserts one
// delivery per (event, matching active subscription), and the caller enqueues one job per delivery in
// the same transaction. A rolled-back change leaves neither events nor deliveries nor jobs.

/** One attempt to POST one delivery; the job's id is the delivery's id. Its queue policy comes from config. */
export const deliverWebhook = defineJob({
  name: 'webhook.deliver',
  schema: z.object({ deliveryId: z.uuid() }),
  retryLimit: 4,
  retryDelaySeconds: 10,
  retryBackoff: true,
  expireInSeconds: 30,
  notify: true,
});

/** The delivery body TMI posts, built from an event row (`e`) in SQL so every attempt posts the same value. */
export const deliveryPayloadSql = (e: string) => `jsonb_build_object(
    'event_type', ${e}.event_type, 'threat_model_id', ${e}.threat_model_id, 'object_type', ${e}.object_type,
    'object_id', ${e}.object_id,
    'timestamp', to_char(${e}.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', ${e}.data)`;

/**
 * The insert of the deliveries for the events a CTE named `events` returned (columns of domain_events),
 * one per active subscription listening for the event's type (and scoped to its threat model, if at all).
 */
export function fanOutStatement(events: string): string {
  return `
INSERT INTO webhook_deliveries (id, subscription_id, event_type, threat_model_id, object_type, object_id, payload, created_at)
SELECT gen_random_uuid(), s.id, e.event_type, e.threat_model_id, e.object_type, e.object_id, ${deliveryPayloadSql('e')},
       e.occurred_at
FROM ${events} e
JOIN webhook_subscriptions s
  ON s.status = 'active' AND e.event_type = ANY (s.events)
 AND (s.threat_model_id IS NULL OR s.threat_model_id = e.threat_model_id)
ORDER BY e.sequence::bigint, s.id
RETURNING id`;
}

/** Enqueues the deliveries' jobs in the caller's transaction (or on their own, given the client). */
export async function enqueueDeliveries(
  ctx: ServiceContext,
  tx: PrismaTransactionLike,
  deliveryIds: string[],
): Promise<void> {
  await ctx.jobs.enqueueMany(
    tx,
    deliverWebhook,
    deliveryIds.map((id) => ({ id, payload: { deliveryId: id } })),
  );
}

export interface DirectDelivery {
  subscriptionId: string;
  eventType: string;
  threatModelId: string | null;
  objectType: string | null;
  objectId: string | null;
  data: unknown;
  /** For add-on invocations: the add-on and the user who invoked it. */
  addonId?: string;
  invokedById?: string;
}

/**
 * A delivery of one event to one named subscription (an add-on invocation, a test event), stored and
 * its job enqueued in the caller's transaction.
 */
export async function insertDirectDelivery(
  ctx: ServiceContext,
  tx: PrismaTransactionLike & { $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T> },
  delivery: DirectDelivery,
): Promise<{ id: string; status: 'pending'; createdAt: Date }> {
  const at = ctx.now();
  const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
    `INSERT INTO webhook_deliveries
       (id, subscription_id, event_type, threat_model_id, object_type, object_id, payload, created_at, addon_id, invoked_by_id)
     SELECT gen_random_uuid(), $1::uuid, e.event_type, e.threat_model_id, e.object_type, e.object_id,
            ${deliveryPayloadSql('e')}, e.occurred_at, $7::uuid, $8::uuid
     FROM (SELECT $2::text AS event_type, $3::uuid AS threat_model_id, $4::text AS object_type, $5::uuid AS object_id,
                  $6::jsonb AS data, $9::timestamptz AS occurred_at) e
     RETURNING id::text`,
    delivery.subscriptionId,
    delivery.eventType,
    delivery.threatModelId,
    delivery.objectType,
    delivery.objectId,
    JSON.stringify(delivery.data ?? {}),
    delivery.addonId ?? null,
    delivery.invokedById ?? null,
    at,
  );
  const id = rows[0]!.id;
  await enqueueDeliveries(ctx, tx, [id]);
  return { id, status: 'pending', createdAt: at };
}
