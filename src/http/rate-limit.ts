import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../app-deps.js';
import { AppError } from '../infra/errors/registry.js';
import { toPublicError } from '../infra/errors/public.js';
import type { Redis } from '../infra/redis.js';
import { effectiveUserApiQuota, type UserApiQuotaLimits } from '../modules/quotas/service.js';
import { principalFromRequest } from './auth.js';
import { sendError } from './errors.js';

// Rate limits: each signed-in user's API quota (requests a minute and an hour, from /admin/quotas/users or
// the defaults) on every request carrying their token, and a per-address limit on the sign-in endpoints
// (and on the rest of /oauth2/* when called without a token).
// Counters are fixed windows (aligned to the minute and the hour) kept in Redis when configured, so every
// instance counts against the same limit, else in the process. A refused request is not counted.

export interface RateWindow {
  name: 'minute' | 'hour';
  seconds: number;
  max: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The window that refused the request, or the one with the fewest requests left. */
  window: RateWindow;
  remaining: number;
  /** Unix seconds when that window starts again. */
  resetAt: number;
}

/** Counts one request against every window of a key, all or nothing. */
export interface RateCounter {
  hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision>;
  close(): void;
}

const windowIndex = (window: RateWindow, nowMs: number) => Math.floor(nowMs / 1000 / window.seconds);
const resetOf = (window: RateWindow, nowMs: number) => (windowIndex(window, nowMs) + 1) * window.seconds;

function decide(windows: RateWindow[], counts: number[], refused: number | undefined, nowMs: number): RateDecision {
  if (refused !== undefined) {
    const window = windows[refused]!;
    return { allowed: false, window, remaining: 0, resetAt: resetOf(window, nowMs) };
  }
  let tightest = 0;
  windows.forEach((window, i) => {
    if (window.max - counts[i]! < windows[tightest]!.max - counts[tightest]!) tightest = i;
  });
  const window = windows[tightest]!;
  return {
    allowed: true,
    window,
    remaining: Math.max(0, window.max - counts[tightest]!),
    resetAt: resetOf(window, nowMs),
  };
}

// KEYS: one counter per window; ARGV: the windows' maxima, then their lifetimes in ms.
// Returns {0, index of the refusing window} or {1, count after this request for each window}.
const HIT_SCRIPT = `
local n = #KEYS
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[i]) then return {0, i} end
end
local out = {1}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[n + i]) end
  out[#out + 1] = count
end
return out`;

/** Counters shared by every instance through Redis (one script call per request). */
export class RedisRateCounter implements RateCounter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision> {
    const keys = windows.map((w) => `${this.prefix}:ratelimit:${key}:${w.name}:${windowIndex(w, nowMs)}`);
    const lifetimes = windows.map((w) => String(resetOf(w, nowMs) * 1000 - nowMs + 5000));
    const result = (await this.redis.eval(
      HIT_SCRIPT,
      keys.length,
      ...keys,
      ...windows.map((w) => String(w.max)),
      ...lifetimes,
    )) as number[];
    if (result[0] === 0) return decide(windows, [], result[1]! - 1, nowMs);
    return decide(windows, result.slice(1), undefined, nowMs);
  }

  close(): void {}
}

/** Counters of this process alone (no Redis configured: a single instance). */
export class MemoryRateCounter implements RateCounter {
  private readonly counts = new Map<string, { count: number; expiresAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), 60_000).unref();

  async hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision> {
    const keys = windows.map((w) => `${key}:${w.name}:${windowIndex(w, nowMs)}`);
    const current = keys.map((k) => {
      const entry = this.counts.get(k);
      return entry && entry.expiresAt > nowMs ? entry.count : 0;
    });
    const refused = windows.findIndex((w, i) => current[i]! >= w.max);
    if (refused >= 0) return decide(windows, [], refused, nowMs);
    const counts = keys.map((k, i) => {
      const count = current[i]! + 1;
      this.counts.set(k, { count, expiresAt: resetOf(windows[i]!, nowMs) * 1000 });
      return count;
    });
    return decide(windows, counts, undefined, nowMs);
  }

  private sweep(nowMs: number): void {
    for (const [key, entry] of this.counts) if (entry.expiresAt <= nowMs) this.counts.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/** TMI's auth-flow endpoints, limited per client address (its OpenAPI document's `auth-flows` tier). */
const AUTH_FLOW_PATHS = new Set([
  '/oauth2/authorize',
  '/oauth2/token',
  '/oauth2/refresh',
  '/oauth2/callback',
  '/oauth2/introspect',
  '/saml/acs',
  '/saml/slo',
]);

/** Users' limits, cached per instance; an administrator's change reaches every instance through pubsub. */
class QuotaCache {
  private readonly entries = new Map<string, { limits: UserApiQuotaLimits; expiresAt: number }>();

  constructor(
    private readonly deps: AppDeps,
    private readonly ttlMs = 60_000,
  ) {}

  async limitsOf(userId: string, nowMs: number): Promise<UserApiQuotaLimits> {
    const cached = this.entries.get(userId);
    if (cached && cached.expiresAt > nowMs) return cached.limits;
    const limits = await effectiveUserApiQuota(this.deps.db.prisma, userId);
    if (this.entries.size > 50_000) this.entries.clear();
    this.entries.set(userId, { limits, expiresAt: nowMs + this.ttlMs });
    return limits;
  }

  forget(userId: string): void {
    this.entries.delete(userId);
  }
}

function setRateHeaders(reply: FastifyReply, decision: RateDecision): void {
  reply.header('X-RateLimit-Limit', String(decision.window.max));
  reply.header('X-RateLimit-Remaining', String(decision.remaining));
  reply.header('X-RateLimit-Reset', String(decision.resetAt));
}

function refuse(request: FastifyRequest, reply: FastifyReply, decision: RateDecision, nowMs: number, what: string) {
  const retryAfter = Math.max(1, Math.ceil(decision.resetAt - nowMs / 1000));
  const error = new AppError(
    'RATE_LIMITED',
    `Rate limit exceeded: ${decision.window.max} ${what} per ${decision.window.name}. Retry after ${retryAfter} seconds.`,
    {
      context: { limit: decision.window.max, window: decision.window.name, retry_after: retryAfter },
      retryAfterSeconds: retryAfter,
      extensions: { retryAfter },
    },
  );
  setRateHeaders(reply, decision);
  if (request.url.split('?')[0] === '/graphql') {
    // A GraphQL client reads a GraphQL answer: the same error as a resolver's, with the HTTP status.
    const mapped = toPublicError(error, request.id);
    reply.header('Retry-After', String(retryAfter));
    return reply
      .code(429)
      .type('application/json')
      .send({
        errors: [
          {
            message: mapped.body.error_description,
            extensions: { code: mapped.code, status: 429, http: { status: 429 }, tmi: mapped.body, retryAfter },
          },
        ],
      });
  }
  return sendError(request, reply, error);
}

/** Enforces the rate limits on every request, before its body is read. */
export async function registerRateLimits(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const settings = deps.config.rateLimits;
  if (!settings.enabled) return;
  const counter: RateCounter = deps.redis
    ? new RedisRateCounter(deps.redis, deps.config.redis.prefix)
    : new MemoryRateCounter();
  const quotas = new QuotaCache(deps);
  const stopListening = await deps.pubsub.listen('quota.user_api_changed', 'all', ({ userId }) =>
    quotas.forget(userId),
  );
  app.addHook('onClose', async () => {
    stopListening();
    counter.close();
  });

  const userOf = async (request: FastifyRequest): Promise<string | undefined> => {
    try {
      return (await principalFromRequest(deps.tokens, request))?.userId;
    } catch {
      return undefined; // An invalid token is refused by the route itself.
    }
  };

  // Redis away: the request is served rather than refused (the limit is a protection, not a dependency).
  const hit = async (key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision | undefined> => {
    try {
      return await counter.hit(key, windows, nowMs);
    } catch (error) {
      deps.log.warn({ err: error }, 'rate limit not checked');
      return undefined;
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const nowMs = Date.now();
    if (!AUTH_FLOW_PATHS.has(path)) {
      const userId = await userOf(request);
      if (userId) {
        const limits = await quotas.limitsOf(userId, nowMs);
        const windows: RateWindow[] = [{ name: 'minute', seconds: 60, max: limits.maxRequestsPerMinute }];
        if (limits.maxRequestsPerHour !== null) {
          windows.push({ name: 'hour', seconds: 3600, max: limits.maxRequestsPerHour });
        }
        const decision = await hit(`user:${userId}`, windows, nowMs);
        if (!decision) return;
        setRateHeaders(reply, decision);
        if (!decision.allowed) return refuse(request, reply, decision, nowMs, 'requests');
        return;
      }
      // Without a user, only the rest of /oauth2/* counts, per address like the sign-in flow.
      if (!path.startsWith('/oauth2/')) return;
    }
    const decision = await hit(
      `ip:${request.ip}`,
      [{ name: 'minute', seconds: 60, max: settings.authRequestsPerMinute }],
      nowMs,
    );
    if (!decision) return;
    setRateHeaders(reply, decision);
    if (!decision.allowed) return refuse(request, reply, decision, nowMs, 'sign-in requests from one address');
  });
}
