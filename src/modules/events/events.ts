import type { Prisma } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import type { DomainEventMessage } from '../../infra/pubsub.js';
import { concernsSessions } from '../collaboration/events.js';
import { enqueueDeliveries, fanOutStatement } from '../webhooks/fanout.js';

/** The resources whose changes TMI announces, and its `{resource}.{action}` event names. */
export type EventResource =
  'threat_model' | 'diagram' | 'document' | 'note' | 'repository' | 'asset' | 'threat' | 'metadata';
export type EventAction = 'created' | 'updated' | 'deleted';
export type DomainEventType = `${EventResource}.${EventAction}`;

export interface DomainEventInput {
  resource: EventResource;
  action: EventAction;
  threatModelId: string;
  objectId: string;
  /** A JSON snapshot of the object as the domain sees it after the change (before it, for deletes). */
  data: Prisma.InputJsonValue;
}

export interface EventLog {
  /** Records a change in the transaction: the event exists exactly when the change commits. */
  record(event: DomainEventInput): Promise<void>;
}

/**
 * Runs `work` in one transaction with an event log; once the transaction commits, the events it
 * recorded are published (in order) on the threat model's event channel. A rolled-back change
 * records and publishes nothing.
 */
export async function withEvents<T>(ctx: ServiceContext, work: (tx: Tx, events: EventLog) => Promise<T>): Promise<T> {
  let recorded: DomainEventMessage[] = [];
  const result = await ctx.db.prisma.$transaction(async (tx) => {
    // Events are kept in order and written in one statement when the work is done, still inside the
    // transaction: a bulk change costs one insert for all its events.
    const pending: DomainEventInput[] = [];
    const log: EventLog = {
      async record(event) {
        pending.push(event);
      },
    };
    const value = await work(tx, log);
    const stored = await storeEvents(ctx, (text, values) => tx.$queryRawUnsafe(text, ...values), pending);
    if (stored.deliveryIds.length > 0) await enqueueDeliveries(ctx, tx, stored.deliveryIds);
    recorded = stored.messages;
    return value;
  });
  await publishEvents(ctx, recorded);
  return result;
}

/** After commit: announces stored events, in order, on their threat models' channels. */
export async function publishEvents(ctx: ServiceContext, messages: DomainEventMessage[]): Promise<void> {
  for (const message of messages) {
    try {
      await ctx.pubsub.publish('threat_model.events', message.threatModelId, message);
      if (concernsSessions(message)) await ctx.pubsub.publish('diagram.changes', message.threatModelId, message);
    } catch (error) {
      // The change is committed and its event stored; a lost notification must not fail the caller.
      ctx.log.warn({ err: error, eventId: message.id }, 'could not publish domain event');
    }
  }
}

// One statement with one JSON parameter, however many events: a bulk change records dozens, and
// Prisma would compile a fresh plan for each row count.
/**
 * The insert of a change's events from one JSON parameter (`$json`) at one time (`$at`); `onlyIf` names
 * a CTE of the caller's statement that must have rows, for writes made in a single statement.
 */
export function insertEventsStatement(json: number, at: number, onlyIf?: string): string {
  return `
INSERT INTO domain_events (id, event_type, threat_model_id, object_type, object_id, actor_id, request_id, data, occurred_at)
SELECT gen_random_uuid(), e.item->>'event_type', (e.item->>'threat_model_id')::uuid, e.item->>'object_type',
       (e.item->>'object_id')::uuid, (e.item->>'actor_id')::uuid, e.item->>'request_id', e.item->'data', $${at}::timestamptz
FROM jsonb_array_elements($${json}::jsonb) WITH ORDINALITY AS e(item, ord)
${onlyIf ? `WHERE EXISTS (SELECT 1 FROM ${onlyIf})` : ''}
ORDER BY e.ord
RETURNING id, sequence::text AS sequence, event_type, threat_model_id, object_type, object_id, actor_id, occurred_at, data`;
}

// The events and, in the same statement, the webhook deliveries they cause.
const insertEventsSql = `
WITH events AS (${insertEventsStatement(1, 2)}), deliveries AS (${fanOutStatement('events')})
SELECT events.*, (SELECT COALESCE(array_agg(id::text), '{}') FROM deliveries) AS delivery_ids FROM events`;

interface StoredEventRow {
  id: string;
  sequence: string;
  event_type: string;
  threat_model_id: string;
  object_type: string;
  object_id: string;
  actor_id: string | null;
  occurred_at: Date;
  data: Prisma.JsonValue;
}

/** Runs one statement in the caller's transaction and returns its rows. */
type SqlRunner = (text: string, values: unknown[]) => Promise<unknown[]>;

/** The JSON parameter `insertEventsStatement` reads: the events as the caller's principal records them. */
export function eventsParameter(ctx: ServiceContext, events: DomainEventInput[]): string {
  return JSON.stringify(
    events.map((event) => ({
      event_type: `${event.resource}.${event.action}` satisfies DomainEventType,
      threat_model_id: event.threatModelId,
      object_type: event.resource,
      object_id: event.objectId,
      actor_id: ctx.principal?.userId ?? null,
      request_id: ctx.requestId ?? null,
      data: event.data,
    })),
  );
}

/** Stored event rows as they are published, in the order the insert numbered them. */
export function eventMessages(rows: unknown[]): DomainEventMessage[] {
  return (rows as StoredEventRow[])
    .sort((a, b) => (BigInt(a.sequence) < BigInt(b.sequence) ? -1 : 1))
    .map((row) => ({
      id: row.id,
      sequence: row.sequence,
      eventType: row.event_type,
      threatModelId: row.threat_model_id,
      objectType: row.object_type,
      objectId: row.object_id,
      actorId: row.actor_id,
      occurredAt: new Date(row.occurred_at).toISOString(),
      data: row.data,
    }));
}

/** The ids of the webhook deliveries a statement's `delivery_ids` column lists (every row lists them all). */
export function deliveryIdsOf(rows: unknown[]): string[] {
  return (rows[0] as { delivery_ids?: string[] } | undefined)?.delivery_ids ?? [];
}

/**
 * Stores events in the caller's transaction, in one statement with the webhook deliveries they cause,
 * and returns them as they will be published.
 */
async function storeEvents(
  ctx: ServiceContext,
  run: SqlRunner,
  events: DomainEventInput[],
): Promise<{ messages: DomainEventMessage[]; deliveryIds: string[] }> {
  if (events.length === 0) return { messages: [], deliveryIds: [] };
  const rows = await run(insertEventsSql, [eventsParameter(ctx, events), ctx.now()]);
  return { messages: eventMessages(rows), deliveryIds: deliveryIdsOf(rows) };
}
