import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as the receiver got it: the exact body bytes, for signature checks. */
export interface ReceivedDelivery {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  body: Record<string, any>;
  at: number;
}

/** How the receiver answers a path: a status, optional headers, or never (to outlast the server's timeout). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/**
 * A webhook receiver on loopback: records every POST and answers per path (`answers`, default 200).
 * `waitFor` resolves once the deliveries matching a predicate have arrived.
 */
export class Receiver {
  readonly received: ReceivedDelivery[] = [];
  readonly answers = new Map<string, Answer | ((delivery: ReceivedDelivery) => Answer)>();
  private readonly waiters: (() => void)[] = [];
  private readonly hanging = new Set<() => void>();
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const rawBody = Buffer.concat(chunks);
        const delivery: ReceivedDelivery = {
          path: request.url ?? '/',
          headers: request.headers,
          rawBody,
          body: rawBody.length > 0 ? JSON.parse(rawBody.toString('utf8')) : {},
          at: Date.now(),
        };
        this.received.push(delivery);
        for (const wake of this.waiters.splice(0)) wake();
        const configured = this.answers.get(delivery.path) ?? { status: 200 };
        const answer = typeof configured === 'function' ? configured(delivery) : configured;
        if (answer === 'hang') {
          const release = () => response.destroy();
          this.hanging.add(release);
          response.on('close', () => this.hanging.delete(release));
          return;
        }
        response.writeHead(answer.status, answer.headers ?? {});
        response.end();
      });
    });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): ReceivedDelivery[] {
    return this.received.filter((delivery) => delivery.path === path);
  }

  async waitFor(predicate: (received: ReceivedDelivery[]) => boolean, timeoutMs = 15_000): Promise<ReceivedDelivery[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: timed out; got ${this.received.length} deliveries`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  async close(): Promise<void> {
    for (const release of this.hanging) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
