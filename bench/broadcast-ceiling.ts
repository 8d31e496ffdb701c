// The ceiling of the collaboration bench (bench/collab.ts): a bare `ws` broadcast server. No auth, no
// validation, no database, no update vectors: each client message is parsed (as any server must, to know
// what it is), turned into one `diagram_operation_event` carrying the same operation id and operation,
// serialized once, and sent to every other client of the room (the URL path names the room).
//
//   without REDIS_URL  relays in process: what the bare `ws` stack costs on this machine
//   with REDIS_URL     relays through Redis, as the real server fans out between instances: every message
//                      is published to the room's channel (also when all clients are local) and each
//                      instance sends what it receives from Redis to its local clients of the room, except
//                      the sender. Run two of these on one Redis with the clients split between them.
//
// GET / answers 200 (readiness). The bench harness is the same for the ceilings and the server.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const redisUrl = process.env.REDIS_URL;
const prefix = process.env.CEILING_CHANNEL_PREFIX ?? `bench-ceiling-${randomUUID()}`;
const instance = randomUUID().slice(0, 8);

interface Client {
  id: string;
  socket: WebSocket;
}
const rooms = new Map<string, Set<Client>>();
let next = 0;

function relay(room: string, from: string, data: string): void {
  const clients = rooms.get(room);
  if (!clients) return;
  for (const client of clients) {
    if (client.id !== from && client.socket.readyState === client.socket.OPEN) client.socket.send(data);
  }
}

/** The event the others receive: built and serialized once per message. */
function eventOf(raw: RawData): string | undefined {
  let message: { message_type?: unknown; operation_id?: unknown; operation?: unknown };
  try {
    message = JSON.parse(raw.toString()) as typeof message;
  } catch {
    return undefined;
  }
  if (message.message_type !== 'diagram_operation_request' || typeof message.operation_id !== 'string') return;
  return JSON.stringify({
    message_type: 'diagram_operation_event',
    operation_id: message.operation_id,
    operation: message.operation,
  });
}

let publisher: Redis | undefined;
let subscriber: Redis | undefined;
if (redisUrl) {
  publisher = new Redis(redisUrl);
  subscriber = new Redis(redisUrl);
  // Envelope: "<sender id>\n<event>"; the room is the channel's suffix.
  subscriber.on('pmessage', (_pattern: string, channel: string, payload: string) => {
    const cut = payload.indexOf('\n');
    relay(channel.slice(prefix.length + 1), payload.slice(0, cut), payload.slice(cut + 1));
  });
  await subscriber.psubscribe(`${prefix}:*`);
}

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

const server = createServer((req, res) => {
  res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(req.url === '/' ? '{"status":"ok"}' : '{"error":"not_found"}');
});

server.on('upgrade', (request, socket, head) => {
  const room = (request.url ?? '/').split('?')[0]!;
  wss.handleUpgrade(request, socket, head, (ws) => {
    const client: Client = { id: `${instance}-${++next}`, socket: ws };
    let clients = rooms.get(room);
    if (!clients) rooms.set(room, (clients = new Set()));
    clients.add(client);
    ws.on('message', (raw) => {
      const event = eventOf(raw);
      if (event === undefined) return;
      if (publisher) void publisher.publish(`${prefix}:${room}`, `${client.id}\n${event}`);
      else relay(room, client.id, event);
    });
    ws.on('close', () => {
      clients.delete(client);
      if (clients.size === 0) rooms.delete(room);
    });
  });
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `broadcast ceiling listening on ${typeof address === 'object' && address ? address.port : port}\n`,
  );
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  server.close();
  publisher?.disconnect();
  subscriber?.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
