import type { Prisma } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';

/** The resources whose changes TMI announces, and its `{resource}.{action}` event names. */
export type EventResource =
  'threat_model' | 'diagram' | 'document' | 'note' | 'repository' | 'asset' | 'threat' | 'metadata';
export type EventAction = 'created' | 'updated' | 'deleted';
export type DomainEventType = `${EventResource}.${EventAction}`;

export interface DomainEventInput {
  resource: EventResource;
  action: EventAction;
  threatModelId: string | null;
  objectId: string;
  /** A JSON snapshot of the object as the domain sees it after the change (before it, for deletes). */
  data: Prisma.InputJsonValue;
}

/** Records a change in the caller's transaction: the event exists exactly when the change commits. */
export async function recordEvent(tx: Tx, ctx: ServiceContext, event: DomainEventInput): Promise<void> {
  await tx.domainEvent.create({
    data: {
      eventType: `${event.resource}.${event.action}` satisfies DomainEventType,
      threatModelId: event.threatModelId,
      objectType: event.resource,
      objectId: event.objectId,
      actorId: ctx.principal?.userId ?? null,
      requestId: ctx.requestId,
      data: event.data,
      occurredAt: ctx.now(),
    },
  });
}
