import { z } from 'zod';

// TMI's per-user limits on add-on invocations and webhook subscriptions: the defaults every user has
// until an administrator sets their own (AddonQuotaUpdate, WebhookQuotaUpdate).

export interface AddonQuotaLimits {
  maxActiveInvocations: number;
  maxInvocationsPerHour: number;
}

export interface WebhookQuotaLimits {
  maxSubscriptions: number;
  maxEventsPerMinute: number;
  maxSubscriptionRequestsPerMinute: number;
  maxSubscriptionRequestsPerDay: number;
}

/** TMI's defaults: 3 invocations pending or in progress at once, 10 in any hour. */
export const ADDON_QUOTA_DEFAULTS: Readonly<AddonQuotaLimits> = Object.freeze({
  maxActiveInvocations: 3,
  maxInvocationsPerHour: 10,
});

/** A user's API rate limits; no hourly limit when `maxRequestsPerHour` is null. */
export interface UserApiQuotaLimits {
  maxRequestsPerMinute: number;
  maxRequestsPerHour: number | null;
}

/** TMI's default API rate limit (100 requests a minute, its OpenAPI document's x-rate-limit), and 6000 an hour. */
export const USER_API_QUOTA_DEFAULTS: Readonly<UserApiQuotaLimits> = Object.freeze({
  maxRequestsPerMinute: 100,
  maxRequestsPerHour: 6000,
});

export const WEBHOOK_QUOTA_DEFAULTS: Readonly<WebhookQuotaLimits> = Object.freeze({
  maxSubscriptions: 10,
  maxEventsPerMinute: 12,
  maxSubscriptionRequestsPerMinute: 10,
  maxSubscriptionRequestsPerDay: 20,
});

const bounded = (max: number) => z.number().int().min(1).max(max);

export const addonQuotaInputSchema = z.strictObject({
  maxActiveInvocations: bounded(10),
  maxInvocationsPerHour: bounded(1000),
});

export const webhookQuotaInputSchema = z.strictObject({
  maxSubscriptions: bounded(100),
  maxEventsPerMinute: bounded(1000),
  maxSubscriptionRequestsPerMinute: bounded(100),
  maxSubscriptionRequestsPerDay: bounded(10_000),
});

// TMI's UserQuotaUpdate: the hourly limit is optional (none when omitted or null).
export const userApiQuotaInputSchema = z.strictObject({
  maxRequestsPerMinute: bounded(10_000),
  maxRequestsPerHour: bounded(600_000)
    .nullish()
    .transform((value) => value ?? null),
});

/** The admin lists' paging (TMI's LimitQueryParam / OffsetQueryParam). */
export const quotaPageSchema = z.strictObject({
  limit: z.number().int().min(0).max(1000),
  offset: z.number().int().min(0).max(1_000_000),
});
