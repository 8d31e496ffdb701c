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
// Windows slide: a window's count is this window's requests plus the previous window's, weighted by how much of
// it still lies within the last `seconds` (the sliding-window counter), so no burst across a window's boundary
// gets twice the limit through. Counters are kept in Redis when configured, so every instance counts against
// the same limit, else in the process. A refused request is not counted.

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
  /** Unix seconds: when the refused request would be allowed; for an allowed one, when its window turns. */
  resetAt: number;
}

/** Counts one request against every window of a key, all or nothing. */
export interface RateCounter {
  hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision>;
  close(): void;
}

const windowIndex = (window: RateWindow, nowMs: number) => Math.floor(nowMs / 1000 / window.seconds);
/** How much of the current window has passed (0 to 1). */
const elapsedOf = (window: RateWindow, nowMs: number) => nowMs / 1000 / window.seconds - windowIndex(window, nowMs);
const turnOf = (window: RateWindow, nowMs: number) => (windowIndex(window, nowMs) + 1) * window.seconds;

/** The requests a sliding window holds: this window's, and the part of the previous one it still covers. */
const weighted = (current: number, previous: number, elapsed: number) => current + previous * (1 - elapsed);

/** Unix seconds when a window holding these counts has room for one more request. */
function roomAt(window: RateWindow, nowMs: number, current: number, previous: number): number {
  const start = windowIndex(window, nowMs) * window.seconds;
  // Within this window, once enough of the previous one has slid out.
  if (current < window.max && previous > 0) {
    const elapsed = 1 - (window.max - current) / previous;
    return start + Math.max(elapsed, elapsedOf(window, nowMs)) * window.seconds;
  }
  // Else in the next one, once enough of this one has slid out.
  return start + window.seconds + Math.max(0, 1 - window.max / Math.max(current, 1)) * window.seconds;
}

function decide(windows: RateWindow[], counts: [number, number][], refused: number | undefined, nowMs: number) {
  if (refused !== undefined) {
    const window = windows[refused]!;
    const [current, previous] = counts[refused]!;
    return { allowed: false, window, remaining: 0, resetAt: Math.ceil(roomAt(window, nowMs, current, previous)) };
  }
  const left = windows.map((w, i) => w.max - weighted(counts[i]![0], counts[i]![1], elapsedOf(w, nowMs)));
  let tightest = 0;
  left.forEach((value, i) => {
    if (value < left[tightest]!) tightest = i;
  });
  const window = windows[tightest]!;
  return {
    allowed: true,
    window,
    remaining: Math.max(0, Math.floor(left[tightest]!)),
    resetAt: turnOf(window, nowMs),
  } satisfies RateDecision;
}

// KEYS: per window, its current counter then its previous one. ARGV: per window, its maximum, how much of it has
// passed (0 to 1) and the current counter's lifetime in ms. Returns {allowed (0/1), index of the refusing window
// (0 if none), then per window the current count (after this request when allowed) and the previous count}.
const HIT_SCRIPT = `
local n = #KEYS / 2
local counts = {}
local refused = 0
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  counts[i] = {current, previous}
  local max = tonumber(ARGV[3 * i - 2])
  local elapsed = tonumber(ARGV[3 * i - 1])
  if refused == 0 and current + previous * (1 - elapsed) >= max then refused = i end
end
local out = {refused == 0 and 1 or 0, refused}
for i = 1, n do
  if refused == 0 then
    counts[i][1] = redis.call('INCR', KEYS[2 * i - 1])
    if counts[i][1] == 1 then redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[3 * i]) end
  end
  out[#out + 1] = counts[i][1]
  out[#out + 1] = counts[i][2]
end
return out`;

/** Counters shared by every instance through Redis (one script call per request). */
export class RedisRateCounter implements RateCounter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision> {
    const counter = (w: RateWindow, index: number) => `${this.prefix}:ratelimit:${key}:${w.name}:${index}`;
    const keys = windows.flatMap((w) => [counter(w, windowIndex(w, nowMs)), counter(w, windowIndex(w, nowMs) - 1)]);
    // A counter serves as the current one, then as the previous one: it lives two windows.
    const args = windows.flatMap((w) => [
      String(w.max),
      String(elapsedOf(w, nowMs)),
      String(Math.ceil((turnOf(w, nowMs) + w.seconds) * 1000 - nowMs + 5000)),
    ]);
    const result = (await this.redis.eval(HIT_SCRIPT, keys.length, ...keys, ...args)) as number[];
    const counts = windows.map((_, i) => [result[2 + 2 * i]!, result[3 + 2 * i]!] as [number, number]);
    return decide(windows, counts, result[0] === 1 ? undefined : result[1]! - 1, nowMs);
  }

  close(): void {}
}

/** Counters of this process alone (no Redis configured: a single instance). */
export class MemoryRateCounter implements RateCounter {
  private readonly counts = new Map<string, { count: number; expiresAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), 60_000).unref();

  async hit(key: string, windows: RateWindow[], nowMs: number): Promise<RateDecision> {
    const read = (k: string) => {
      const entry = this.counts.get(k);
      return entry && entry.expiresAt > nowMs ? entry.count : 0;
    };
    const keys = windows.map((w) => `${key}:${w.name}:${windowIndex(w, nowMs)}`);
    const counts = windows.map(
      (w, i) => [read(keys[i]!), read(`${key}:${w.name}:${windowIndex(w, nowMs) - 1}`)] as [number, number],
    );
    const refused = windows.findIndex((w, i) => weighted(counts[i]![0], counts[i]![1], elapsedOf(w, nowMs)) >= w.max);
    if (refused >= 0) return decide(windows, counts, refused, nowMs);
    windows.forEach((w, i) => {
      counts[i]![0] += 1;
      this.counts.set(keys[i]!, { count: counts[i]![0], expiresAt: (turnOf(w, nowMs) + w.seconds) * 1000 });
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
