import { Redis } from 'ioredis';

export type { Redis };

export function createRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    // Keep reconnecting while Redis is away; health reports it as degraded meanwhile.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
  });
}

export async function pingRedis(redis: Redis, timeoutMs = 1000): Promise<number> {
  const started = performance.now();
  await Promise.race([
    redis.ping(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs).unref()),
  ]);
  return performance.now() - started;
}
