import type { ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { effectiveAddonQuota } from '../quotas/service.js';

// A user's add-on invocations are the webhook deliveries they caused (`invoked_by_id`, with an add-on):
// at most `maxActiveInvocations` pending or in progress at once, and at most `maxInvocationsPerHour`
// created in the last hour (a sliding window).

const HOUR_MS = 3_600_000;
/** When the active limit is reached there is no telling when an invocation ends: ask to retry in a minute. */
export const ACTIVE_LIMIT_RETRY_SECONDS = 60;

interface Usage {
  active: number;
  lastHour: number;
}

/**
 * Checks the user's quota for one more invocation, inside the transaction that will insert it. A
 * transaction-scoped advisory lock on the user serializes their concurrent invocations (across
 * instances), so two requests cannot both see room for one. Throws RATE_LIMITED (429) with the seconds
 * after which a retry may pass.
 */
export async function reserveInvocation(ctx: ServiceContext, tx: Tx, userId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`addon-invocations:${userId}`}::text, 0))`;
  const quota = await effectiveAddonQuota(tx, userId);
  const now = ctx.now();
  const windowStart = new Date(now.getTime() - HOUR_MS);
  const [usage] = await tx.$queryRaw<Usage[]>`
    SELECT count(*) FILTER (WHERE status IN ('pending', 'in_progress'))::int AS active,
           count(*) FILTER (WHERE created_at > ${windowStart}::timestamptz)::int AS "lastHour"
    FROM webhook_deliveries
    WHERE invoked_by_id = ${userId}::uuid AND addon_id IS NOT NULL
      AND (status IN ('pending', 'in_progress') OR created_at > ${windowStart}::timestamptz)`;
  const { active, lastHour } = usage ?? { active: 0, lastHour: 0 };

  if (lastHour >= quota.maxInvocationsPerHour) {
    // The window has room again when enough of its invocations have aged out of it: the
    // (lastHour - limit + 1)-th oldest leaves it an hour after it was made.
    const [leaving] = await tx.$queryRaw<{ createdAt: Date }[]>`
      SELECT created_at AS "createdAt" FROM webhook_deliveries
      WHERE invoked_by_id = ${userId}::uuid AND addon_id IS NOT NULL AND created_at > ${windowStart}::timestamptz
      ORDER BY created_at ASC OFFSET ${lastHour - quota.maxInvocationsPerHour}::int LIMIT 1`;
    const retryAfter = leaving ? (leaving.createdAt.getTime() + HOUR_MS - now.getTime()) / 1000 : 60;
    throw quotaExceeded(
      `Hourly add-on invocation limit reached: ${lastHour}/${quota.maxInvocationsPerHour}`,
      { limit: quota.maxInvocationsPerHour, window: 'hour', current: lastHour },
      retryAfter,
    );
  }
  if (active >= quota.maxActiveInvocations) {
    throw quotaExceeded(
      `Active add-on invocation limit reached: ${active}/${quota.maxActiveInvocations} pending or in progress`,
      { limit: quota.maxActiveInvocations, window: 'active', current: active },
      ACTIVE_LIMIT_RETRY_SECONDS,
    );
  }
}

function quotaExceeded(message: string, context: Record<string, unknown>, retryAfter: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfter));
  return new AppError('RATE_LIMITED', message, {
    context: { ...context, retry_after: seconds },
    suggestion: `Retry after ${seconds} seconds, or ask an administrator for a higher quota`,
    retryAfterSeconds: seconds,
  });
}
