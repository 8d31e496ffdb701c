// The ceiling of the webhook bench (bench/webhooks.ts): a bare loop, in a process of its own, that posts
// COUNT signed bodies to the bench's receiver with the delivery worker's concurrency and nothing else — no
// database, no queue. Each body is the template delivery body (a real one from the same run, so the same
// size) with a fresh object id, serialized, signed (HMAC-SHA256 over the exact bytes) and posted with the
// worker's headers through a keep-alive `node:http` agent with as many sockets as the worker's
// (src/modules/webhooks/sender.ts). IN_FLIGHT POSTs are outstanding at any time (the worker's batch size ×
// its batches in flight); the agent queues what exceeds its sockets, as the worker's does.
//
// WARMUP posts go first to WARMUP_URL (same work, not timed), then the timed COUNT to URL. Prints one JSON
// line: {started, finished, errors, cpuMicros} (epoch ms, fractional; the receiver times the receipts).
//
// Environment: URL, WARMUP_URL, COUNT, WARMUP, IN_FLIGHT, MAX_SOCKETS, SECRET, SUBSCRIPTION_ID, TEMPLATE.
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`webhook-ceiling: ${name} is required`);
  return value;
};

const url = new URL(env('URL'));
const warmupUrl = new URL(env('WARMUP_URL'));
const count = Number(env('COUNT'));
const warmup = Number(process.env.WARMUP ?? 0);
const inFlight = Number(env('IN_FLIGHT'));
const secret = env('SECRET');
const subscriptionId = env('SUBSCRIPTION_ID');
const template = JSON.parse(env('TEMPLATE')) as Record<string, unknown>;
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(env('MAX_SOCKETS')) });

let errors = 0;

function post(target: URL): Promise<void> {
  const body = JSON.stringify({ ...template, object_id: randomUUID() });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return new Promise((resolve) => {
    const request = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          'X-Webhook-Event': String(template.event_type),
          'X-Webhook-Delivery-Id': randomUUID(),
          'X-Webhook-Subscription-Id': subscriptionId,
          'X-Webhook-Signature': signature,
          'User-Agent': 'TMI-Webhook/1.0',
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode !== 200) errors++;
          resolve();
        });
        response.on('error', () => {
          errors++;
          resolve();
        });
      },
    );
    request.on('error', () => {
      errors++;
      resolve();
    });
    request.end(body);
  });
}

/** `total` POSTs to `target`, `inFlight` outstanding at any time. */
async function run(target: URL, total: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      next++;
      await post(target);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
}

await run(warmupUrl, warmup);
const warmupErrors = errors;
const cpuBefore = process.cpuUsage();
const started = performance.timeOrigin + performance.now();
await run(url, count);
const finished = performance.timeOrigin + performance.now();
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ started, finished, errors, warmupErrors, cpuMicros: cpu.user + cpu.system })}\n`,
);
