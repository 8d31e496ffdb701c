import type { Logger } from '../../infra/logger.js';
import type { PubSubBus } from '../../infra/pubsub.js';

/** A delivery's state after a change, as dashboards see it live (channel `webhook.deliveries`, key `all`). */
export interface DeliveryProgress {
  id: string;
  subscriptionId: string;
  subscriptionOwnerId: string;
  eventType: string;
  threatModelId: string | null;
  addonId: string | null;
  invokedById: string | null;
  status: DeliveryStatus;
  attempts: number;
  statusPercent: number | null;
  statusMessage: string | null;
  lastError: string | null;
  lastStatusCode: number | null;
  /** When this change happened (ISO 8601). */
  at: string;
}

export type DeliveryStatus = 'pending' | 'in_progress' | 'delivered' | 'failed';

export const PROGRESS_KEY = 'all';

declare module '../../infra/pubsub.js' {
  interface ChannelMap {
    'webhook.deliveries': DeliveryProgress;
  }
}

/** Announces delivery changes after they commit; a lost announcement never fails the change. */
export async function publishProgress(pubsub: PubSubBus, log: Logger, changes: DeliveryProgress[]): Promise<void> {
  await Promise.all(
    changes.map((change) =>
      pubsub.publish('webhook.deliveries', PROGRESS_KEY, change).catch((error: unknown) => {
        log.warn({ err: error, deliveryId: change.id }, 'could not publish delivery progress');
      }),
    ),
  );
}
