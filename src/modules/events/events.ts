import type { Prisma } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import type { DomainEventMessage } from '../../infra/pubsub.js';

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
    recorded = await storeEvents(ctx, tx, pending);
    return value;
  });
  for (const message of recorded) {
    try {
      await ctx.pubsub.publish('threat_model.events', message.threatModelId, message);
    } catch (error) {
      // The change is committed and its event stored; a lost notification must not fail the caller.
      ctx.log.warn({ err: error, eventId: message.id }, 'could not publish domain event');
    }
  }
  return result;
}

async function storeEvents(ctx: ServiceContext, tx: Tx, events: DomainEventInput[]): Promise<DomainEventMessage[]> {
  if (events.length === 0) return [];
  const occurredAt = ctx.now();
  const rows = await tx.domainEvent.createManyAndReturn({
    data: events.map((event) => ({
      eventType: `${event.resource}.${event.action}` satisfies DomainEventType,
      threatModelId: event.threatModelId,
      objectType: event.resource,
      objectId: event.objectId,
      actorId: ctx.principal?.userId ?? null,
      requestId: ctx.requestId,
      data: event.data,
      occurredAt,
    })),
  });
  // One multi-row insert numbers its rows in order; sorting by sequence keeps that order explicit.
  return rows
    .sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0))
    .map((row) => ({
      id: row.id,
      sequence: row.sequence.toString(),
      eventType: row.eventType,
      threatModelId: row.threatModelId!,
      objectType: row.objectType,
      objectId: row.objectId,
      actorId: row.actorId,
      occurredAt: row.occurredAt.toISOString(),
      data: row.data,
    }));
}
