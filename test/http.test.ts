import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { assertMatchesSchema } from './helpers/openapi.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const ORIGIN = 'http://localhost:4200';

beforeAll(async () => {
  server = await startTestServer({
    TMI_CORS_ALLOWED_ORIGINS: `${ORIGIN},https://tmi.example.com`,
    TMI_OPERATOR_NAME: 'Acme',
    TMI_OPERATOR_CONTACT: 'sec@acme.example',
  });
});
afterAll(async () => server?.close());

describe('the HTTP host', () => {
  it('GET / answers ApiInfo, and HTML to browsers', async () => {
    const info = await restClient(server.baseUrl).get('/');
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ status: { code: 'ok' }, service: { name: 'TMI' }, operator: { name: 'Acme' } });
    expect(info.body.health).toBeUndefined();

    const html = await fetch(`${server.baseUrl}/`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toContain('<h1>TMI</h1>');
  });

  it('serves GraphiQL on GET /graphql for browsers', async () => {
    const page = await fetch(`${server.baseUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('CORS: listed origins are echoed with credentials; others get nothing', async () => {
    const preflight = await fetch(`${server.baseUrl}/threat_models`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,cache-control,pragma',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/content-type.*cache-control.*pragma/);

    const simple = await fetch(`${server.baseUrl}/`, { headers: { origin: ORIGIN } });
    expect(simple.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(simple.headers.get('access-control-expose-headers')).toContain('Retry-After');

    const stranger = await fetch(`${server.baseUrl}/`, { headers: { origin: 'https://evil.example' } });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends security headers and a request id', async () => {
    const response = await fetch(`${server.baseUrl}/`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBeTruthy();
    expect(response.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
  });

  it('a known path with an unsupported method gets 405 with Allow', async () => {
    const response = await restClient(server.baseUrl).request('DELETE', '/threat_models', { validate: false });
    expect(response.status).toBe(405);
    assertMatchesSchema('Error', response.body);
    expect(response.headers.get('allow')).toBe('GET, POST');
    expect(response.body).toMatchObject({ error: 'method_not_allowed' });
  });

  it('unknown endpoints get a TMI 404 body', async () => {
    const response = await restClient(server.baseUrl).request('GET', '/no/such/thing', { validate: false });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: 'not_found', error_description: expect.any(String) });
  });

  it('reports degraded health when Redis and then the database stop answering', async () => {
    const degraded = await startTestServer();
    try {
      degraded.deps.redis!.disconnect();
      const withoutRedis = await restClient(degraded.baseUrl).get('/');
      expect(withoutRedis.body.status.code).toBe('degraded');
      expect(withoutRedis.body.health).toMatchObject({
        database: { status: 'healthy' },
        redis: { status: 'unhealthy' },
      });

      await degraded.deps.db.pool.end();
      const withoutDatabase = await restClient(degraded.baseUrl).get('/');
      expect(withoutDatabase.body.health.database.status).toBe('unhealthy');
    } finally {
      await degraded.close();
    }
  });

  it('a worker-only process answers health checks and nothing else', async () => {
    const worker = await startTestServer({ TMI_ROLES: 'worker' });
    try {
      expect((await restClient(worker.baseUrl).get('/')).body.status.code).toBe('ok');
      const api = await restClient(worker.baseUrl).request('GET', '/threat_models', { validate: false });
      expect(api.status).toBe(404);
    } finally {
      await worker.close();
    }
  });
});
