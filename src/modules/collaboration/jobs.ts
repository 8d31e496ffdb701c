import { z } from 'zod';
import type { ServiceContext } from '../../infra/context.js';
import { defineJob, registerJob } from '../../infra/jobs.js';
import { CollaborationService } from './service.js';

/**
 * Every minute: forget connections whose instance stopped refreshing them, end sessions idle for 15
 * minutes with nobody connected, and drop expired WebSocket tickets.
 */
export const sweepCollaboration = defineJob({
  name: 'collaboration.sweep',
  schema: z.object({}).passthrough(),
  retryLimit: 1,
  retryDelaySeconds: 10,
  retryBackoff: false,
  expireInSeconds: 50,
  schedule: '* * * * *',
});

export function sweepCollaborationHandler(systemContext: () => ServiceContext) {
  return registerJob(sweepCollaboration, async (_payload, { log }) => {
    const swept = await new CollaborationService(systemContext()).sweep();
    if (swept.connections + swept.sessions + swept.tickets > 0) log.info(swept, 'swept collaboration state');
  });
}
