import { WebSocket } from 'ws';
import { CollaborationService } from '../../src/modules/collaboration/service.js';
import type { TestServer } from './server.js';
import type { TestUser } from './users.js';

export type Message = Record<string, unknown> & { message_type: string };

/**
 * A collaboration client as TMI's web client is one: a WebSocket to the diagram's `/ws` path, every
 * frame parsed and kept, and `next(type)` to wait for the first unread frame of a type.
 */
export class SocketClient {
  readonly received: Message[] = [];
  private readonly waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private read = new Set<Message>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Message;
      this.received.push(message);
      const index = this.waiters.findIndex((waiter) => waiter.match(message));
      if (index >= 0) {
        const [waiter] = this.waiters.splice(index, 1);
        this.read.add(message);
        waiter!.resolve(message);
      }
    });
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new SocketClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode, body })),
        );
      });
      socket.once('error', reject);
    });
  }

  /** The first frame of `type` (matching `where`) not yet returned, waiting up to `ms` for it. */
  next(type: string, where: (m: Message) => boolean = () => true, ms = 5000): Promise<Message> {
    const match = (m: Message) => m.message_type === type && where(m);
    const already = this.received.find((m) => !this.read.has(m) && match(m));
    if (already) {
      this.read.add(already);
      return Promise.resolve(already);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no ${type} within ${ms} ms; got ${JSON.stringify(this.received.map((m) => m.message_type))}`),
          ),
        ms,
      );
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Resolves once the server has sent the diagram's state, i.e. this connection has joined. */
  async joined(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.received.some((m) => m.message_type === 'diagram_state')) {
      if (Date.now() > deadline) throw new Error(`not joined within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Every frame of `type` received so far. */
  all(type: string): Message[] {
    return this.received.filter((m) => m.message_type === type);
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  sendRaw(data: string): void {
    this.socket.send(data);
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }

  closed(): Promise<{ code: number }> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 0 });
    return new Promise((resolve) => this.socket.once('close', (code) => resolve({ code })));
  }
}

/** The collaboration service acting as `user`, for setting up sessions and tickets in tests. */
export async function collaborationAs(server: TestServer, user: TestUser): Promise<CollaborationService> {
  const principal = await server.deps.tokens.verify(user.token);
  return new CollaborationService(server.deps.serviceContext({ principal, requestId: 'test' }));
}

export function socketUrl(server: TestServer, threatModelId: string, diagramId: string, query: Record<string, string>) {
  const base = server.baseUrl.replace(/^http/, 'ws');
  return `${base}/threat_models/${threatModelId}/diagrams/${diagramId}/ws?${new URLSearchParams(query)}`;
}
