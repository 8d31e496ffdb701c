import { z } from 'zod';
import type { ServiceContext } from '../../infra/context.js';
import { defineJob, registerJob } from '../../infra/jobs.js';
import { DeliveryService } from './deliveries.js';

/** Every minute: async deliveries past their deadline fail; pending deliveries without a job get one. */
export const sweepWebhookDeliveries = defineJob({
  name: 'webhook.sweep',
  schema: z.object({}).passthrough(),
  retryLimit: 1,
  retryDelaySeconds: 10,
  retryBackoff: false,
  expireInSeconds: 50,
  schedule: '* * * * *',
});

export function sweepWebhookDeliveriesHandler(systemContext: () => ServiceContext) {
  return registerJob(sweepWebhookDeliveries, async (_payload, { log }) => {
    const swept = await new DeliveryService(systemContext()).sweep();
    if (swept.timedOut + swept.requeued > 0) log.info(swept, 'swept webhook deliveries');
  });
}
