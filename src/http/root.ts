import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.js';
import { pingRedis } from '../infra/redis.js';

export const API_VERSION = '1.0.0';
export const BUILD = '0.1.0';
/** The REST contract this server implements: TMI's published OpenAPI document. */
const TMI_SPECIFICATION = 'https://github.com/ericfitz/tmi/blob/main/api-schema/tmi-openapi.json';

interface ComponentHealth {
  status: 'healthy' | 'unhealthy';
  latency_ms: number;
  message?: string;
}

async function check(probe: () => Promise<number>): Promise<ComponentHealth> {
  const started = performance.now();
  try {
    const latency = await probe();
    return { status: 'healthy', latency_ms: Math.round(latency) };
  } catch (error) {
    return {
      status: 'unhealthy',
      latency_ms: Math.round(performance.now() - started),
      message: error instanceof Error ? error.message.slice(0, 200) : 'unavailable',
    };
  }
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `GET /`: TMI's ApiInfo, with component health when something is down; HTML for browsers. */
export function registerRoot(app: FastifyInstance, deps: AppDeps): void {
  app.get('/', async (request, reply) => {
    const withTimeout = (probe: () => Promise<number>) => () =>
      Promise.race([
        probe(),
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error('timed out')), 1500).unref()),
      ]);
    const [database, redis] = await Promise.all([
      check(withTimeout(() => deps.db.ping())),
      deps.redis ? check(() => pingRedis(deps.redis!)) : Promise.resolve<ComponentHealth | undefined>(undefined),
    ]);
    const degraded = database.status !== 'healthy' || redis?.status === 'unhealthy';
    const info = {
      status: { code: degraded ? 'degraded' : 'ok', time: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
      service: { name: 'TMI', build: BUILD },
      api: { version: API_VERSION, specification: TMI_SPECIFICATION },
      ...(deps.config.operator ? { operator: deps.config.operator } : {}),
      ...(degraded ? { health: { database, ...(redis ? { redis } : {}) } } : {}),
    };
    if ((request.headers.accept ?? '').includes('text/html')) {
      const rows = Object.entries({ Status: info.status.code, Build: BUILD, 'API version': API_VERSION })
        .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
        .join('');
      return reply
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><html><head><meta charset="utf-8"><title>TMI</title></head><body><h1>TMI</h1><table>${rows}</table>` +
            `<p><a href="/graphql">GraphQL (GraphiQL)</a></p></body></html>`,
        );
    }
    return reply.send(info);
  });
}
