import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { restClient } from './helpers/clients.js';
import { Receiver } from './helpers/receiver.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn } from './helpers/users.js';

// A delivery worker killed (SIGKILL) while its POST is in flight: the job it held expires, another
// worker retries it, and the receiver gets the same delivery id and bytes again. The delivery ends
// delivered once; nothing is lost.

const root = fileURLToPath(new URL('..', import.meta.url));
const WEBHOOK_ENV = {
  TMI_WEBHOOK_ALLOW_HTTP_TARGETS: 'true',
  TMI_SSRF_WEBHOOK_ALLOWLIST: '127.0.0.1',
  TMI_WEBHOOK_TIMEOUT_MS: '500',
  TMI_WEBHOOK_MAX_ATTEMPTS: '3',
  TMI_WEBHOOK_RETRY_DELAY_SECONDS: '1',
  TMI_JOBS_SUPERVISE_INTERVAL_SECONDS: '1',
};

let api: TestServer;
let rescuer: TestServer | undefined;
let worker: ChildProcess | undefined;
let receiver: Receiver;

/** A worker-only server in a process of its own, sharing the API's database and Redis namespace. */
async function startWorkerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ...WEBHOOK_ENV,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: api.databaseUrl,
      REDIS_URL: inject('redisUrl'),
      TMI_PUBSUB_PREFIX: api.pubsubPrefix,
      TMI_ROLES: 'worker',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('TMI server listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`worker exited (${code}):\n${output}`)));
  });
  return child;
}

beforeAll(async () => {
  receiver = await new Receiver().start();
  api = await startTestServer({ ...WEBHOOK_ENV, TMI_ROLES: 'api' });
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  await rescuer?.close();
  await api?.close();
  await receiver?.close();
});

it('a worker killed mid-delivery: the delivery is retried elsewhere and completes once', async () => {
  const signedIn = await signIn(api, 'crash-admin');
  const row = await api.deps.db.prisma.user.update({ where: { id: signedIn.id }, data: { isAdmin: true } });
  const admin = restClient(api.baseUrl, (await api.deps.tokens.issue(row)).token);
  // The first attempt never gets an answer; the retry does.
  receiver.answers.set('/crash', () => (receiver.on('/crash').length === 1 ? 'hang' : { status: 200 }));
  const { body: subscription } = await admin.post('/admin/webhooks/subscriptions', {
    name: 'Crash',
    url: `${receiver.url}/crash`,
    events: ['threat_model.created'],
  });

  worker = await startWorkerProcess();
  const { body: tm } = await admin.post('/threat_models', { name: 'Crash test' });
  await receiver.waitFor(() => receiver.on('/crash').length >= 1, 20_000);
  worker.kill('SIGKILL');
  await new Promise((resolve) => worker!.once('exit', resolve));

  // Another instance's worker picks the expired job up.
  rescuer = await startTestServer({ ...WEBHOOK_ENV, TMI_ROLES: 'worker' }, { shareDatabaseWith: api });
  await receiver.waitFor(() => receiver.on('/crash').length >= 2, 40_000);
  const [lost, retried] = receiver.on('/crash');
  expect(retried!.headers['x-webhook-delivery-id']).toBe(lost!.headers['x-webhook-delivery-id']);
  expect(retried!.rawBody.equals(lost!.rawBody)).toBe(true);
  expect(retried!.body).toMatchObject({ event_type: 'threat_model.created', object_id: tm.id });

  const deliveryId = String(lost!.headers['x-webhook-delivery-id']);
  const { prisma } = api.deps.db;
  const deadline = Date.now() + 10_000;
  let delivery = await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
  while (delivery.status !== 'delivered' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    delivery = await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
  }
  expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  expect(await prisma.webhookDelivery.count({ where: { subscriptionId: subscription.id } })).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(receiver.on('/crash')).toHaveLength(2);
}, 90_000);
