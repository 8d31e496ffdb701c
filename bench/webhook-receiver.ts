// The loopback receiver of the webhook bench (bench/webhooks.ts), in a process of its own: a bare
// `node:http` server that does what a careful receiver must and nothing more. Every POST's exact body bytes
// are checked against `X-Webhook-Signature` (HMAC-SHA256 with the secret of the subscription named by
// `X-Webhook-Subscription-Id`, constant-time compare, as TMI's extension guide shows), the body is parsed
// for its `timestamp`, the receipt is recorded, and 200 is answered. A bad signature is recorded (the bench
// fails on it) and answered 200 too, so that it cannot turn into retries that hide it.
//
// Control endpoints for the bench (same port, loopback only):
//   GET  /                      200 (readiness)
//   PUT  /_bench/secrets        {"<subscription id>": "<secret>", …}: adds secrets
//   GET  /_bench/wait?count=N&timeout_ms=T  answers {count} once N receipts are held, or at the timeout
//   POST /_bench/take           answers every receipt held (as arrays, see Receipt) and forgets them
//
// Environment: PORT.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * [delivery id, subscription id, received at (ms since the epoch, fractional), the body's `timestamp` (ms),
 * signature valid (1/0), path, body bytes, the body's object_id]
 */
type Receipt = [string, string, number, number, 0 | 1, string, number, string];

const port = Number(process.env.PORT ?? 0);
const secrets = new Map<string, Buffer>();
let receipts: Receipt[] = [];
let waiters: { count: number; wake: () => void }[] = [];

const now = () => performance.timeOrigin + performance.now();

function validSignature(secret: Buffer | undefined, body: Buffer, header: string | string[] | undefined): boolean {
  if (!secret || typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function receive(request: IncomingMessage, body: Buffer, at: number): void {
  const deliveryId = String(request.headers['x-webhook-delivery-id'] ?? '');
  const subscriptionId = String(request.headers['x-webhook-subscription-id'] ?? '');
  const ok = validSignature(secrets.get(subscriptionId), body, request.headers['x-webhook-signature']);
  let timestamp = Number.NaN;
  let objectId = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { timestamp?: unknown; object_id?: unknown };
    timestamp = typeof parsed.timestamp === 'string' ? Date.parse(parsed.timestamp) : Number.NaN;
    objectId = typeof parsed.object_id === 'string' ? parsed.object_id : '';
  } catch {
    // recorded with a NaN timestamp: the bench fails on it
  }
  receipts.push([deliveryId, subscriptionId, at, timestamp, ok ? 1 : 0, request.url ?? '', body.length, objectId]);
  if (waiters.length > 0) {
    const ready = waiters.filter((waiter) => receipts.length >= waiter.count);
    waiters = waiters.filter((waiter) => receipts.length < waiter.count);
    for (const waiter of ready) waiter.wake();
  }
}

const server = createServer((request, response) => {
  void (async () => {
    const url = new URL(request.url ?? '/', 'http://receiver');
    const body = await readBody(request);
    const at = now();
    if (request.method === 'POST' && !url.pathname.startsWith('/_bench/')) {
      receive(request, body, at);
      response.writeHead(200, { 'content-length': 0 });
      response.end();
      return;
    }
    if (request.method === 'GET' && url.pathname === '/') return json(response, 200, { receiver: true });
    if (request.method === 'PUT' && url.pathname === '/_bench/secrets') {
      for (const [id, secret] of Object.entries(JSON.parse(body.toString('utf8')) as Record<string, string>)) {
        secrets.set(id, Buffer.from(secret));
      }
      return json(response, 200, { secrets: secrets.size });
    }
    if (request.method === 'GET' && url.pathname === '/_bench/wait') {
      const count = Number(url.searchParams.get('count') ?? 0);
      const timeoutMs = Number(url.searchParams.get('timeout_ms') ?? 10_000);
      if (receipts.length < count) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiters.push({
            count,
            wake: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return json(response, 200, { count: receipts.length });
    }
    if (request.method === 'POST' && url.pathname === '/_bench/take') {
      const taken = receipts;
      receipts = [];
      return json(response, 200, taken);
    }
    json(response, 404, { error: 'not_found' });
  })().catch((error: unknown) => {
    process.stderr.write(`receiver: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`receiver listening on ${port}\n`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
