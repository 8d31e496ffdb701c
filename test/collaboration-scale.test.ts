import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollaborationService, PARTICIPANT_STALE_MS } from '../src/modules/collaboration/service.js';
import { restClient } from './helpers/clients.js';
import { collaborationAs, type Message, SocketClient, socketUrl } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Collaboration under concurrency and across instances (issue 4, parts 6–7): many writers editing one
// diagram at once through real WebSockets, on one instance and on two sharing Postgres and Redis; the
// host leaving, participants removed, the older message names; and an instance dying mid-session.
//
// How a client learns its own operation's fate: the server never echoes an operation to its sender,
// but it handles a connection's messages and the events it delivers to it one at a time, in order. So
// (1) an operation is accepted when no `operation_rejected` for it arrives before the answer to a
// `sync_status_request` sent after it, and (2) the vectors the client does not receive as events are
// exactly its own accepted operations, in the order it sent them: a gap in the event stream is filled
// by the oldest own operation still unplaced (any earlier own operation that was rejected has had its
// rejection delivered before the event that reveals the gap). The replica below keeps its cells that way.

const WRITERS = 20;
const SEED = Number(process.env.COLLAB_SEED ?? Math.floor(Math.random() * 2 ** 31));

let server: TestServer;
let second: TestServer;
let owner: TestUser;
let reader: TestUser;
const writers: TestUser[] = [];
const sockets: SocketClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  second = await startTestServer({}, { shareDatabaseWith: server });
  owner = await signIn(server, 'scale-owner');
  reader = await signIn(server, 'scale-reader');
  for (let i = 0; i < WRITERS; i++) writers.push(await signIn(server, `scale-writer-${i}`));
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await second?.close();
  await server?.close();
});

type Ids = { tm: string; diagram: string; session: string };
type Cell = Record<string, unknown> & { id: string };
type CellOp = { id: string; operation: 'add' | 'update' | 'remove'; data?: Cell };
type SentOp = { id: string; cells: CellOp[]; invalid: boolean };

async function newSession(name: string): Promise<Ids> {
  const rest = restClient(server.baseUrl, owner.token);
  const { body: tm } = await rest.post('/threat_models', {
    name,
    authorization: [...writers.map((w) => userEntry(w, 'writer')), userEntry(reader, 'reader')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name, type: 'DFD-1.0.0' });
  const session = await (await collaborationAs(server, owner)).start(tm.id, diagram.id);
  return { tm: tm.id as string, diagram: diagram.id as string, session: session.id };
}

async function connect(on: TestServer, user: TestUser, ids: Ids): Promise<SocketClient> {
  // Tickets are kept in the shared database: one issued through any instance opens a socket on any.
  const ticket = await (await collaborationAs(on, user)).issueTicket(ids.session);
  const client = await SocketClient.open(socketUrl(on, ids.tm, ids.diagram, { session_id: ids.session, ticket }));
  sockets.push(client);
  await client.joined();
  return client;
}

async function stored(ids: Ids) {
  const { status, body } = await restClient(server.baseUrl, owner.token).get(
    `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
  );
  expect(status).toBe(200);
  return body as { cells: Cell[]; update_vector: number };
}

const operationLog = (ids: Ids) =>
  server.deps.db.prisma.diagramOperation.findMany({
    where: { diagramId: ids.diagram },
    orderBy: { updateVector: 'asc' },
    select: { updateVector: true, operationId: true, affectedCells: true },
  });

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small seeded generator (mulberry32), so that a failing run can be replayed with COLLAB_SEED. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

function applyTo(cells: Map<string, Cell>, ops: CellOp[], problems?: string[]): boolean {
  for (const op of ops) {
    const present = cells.has(op.id);
    if (op.operation === 'add' ? present : !present) {
      problems?.push(`${op.operation} of ${present ? 'an existing' : 'a missing'} cell ${op.id}`);
      return false;
    }
    if (op.operation === 'remove') cells.delete(op.id);
    else cells.set(op.id, op.data!);
  }
  return true;
}

/**
 * A participant as a real client keeps the diagram: from `diagram_state`, every received
 * `diagram_operation_event` in order, and its own accepted operations in the gaps the events leave.
 */
class Replica {
  cells = new Map<string, Cell>();
  /** The last update vector it knows the diagram at (events received and own operations placed). */
  vector = -1;
  /** Own operations sent and not rejected, whose vector is not known yet (in sending order). */
  pending: SentOp[] = [];
  readonly rejected = new Map<string, string>();
  /** The base vector each own operation was sent with, and what its conflict rejections named. */
  readonly bases = new Map<string, number>();
  readonly conflicts: { id: string; at: number; cells: string[] }[] = [];
  /** Own accepted operations by the vector they got. */
  readonly own = new Map<number, string>();
  /** The vectors of received events, in order, and their operation ids. */
  readonly events: { vector: number; operationId: string }[] = [];
  readonly problems: string[] = [];
  private read = 0;

  constructor(
    readonly name: string,
    readonly client: SocketClient,
  ) {
    client.socket.on('message', () => this.drain());
    this.drain();
  }

  drain(): void {
    while (this.read < this.client.received.length) this.handle(this.client.received[this.read++]!);
  }

  private handle(message: Message): void {
    switch (message.message_type) {
      case 'diagram_state':
        if (this.vector >= 0) this.problems.push(`a second diagram_state (${String(message.update_vector)})`);
        this.cells = new Map((message.cells as Cell[]).map((cell) => [cell.id, cell]));
        this.vector = message.update_vector as number;
        return;
      case 'diagram_operation_event': {
        const vector = message.update_vector as number;
        if (vector <= this.vector) {
          this.problems.push(`event ${vector} after ${this.vector}`);
          return;
        }
        while (this.vector + 1 < vector) {
          const mine = this.pending.shift();
          if (!mine) {
            this.problems.push(`vectors ${this.vector + 1}..${vector - 1} never arrived`);
            this.vector = vector - 1;
            break;
          }
          this.place(mine, this.vector + 1);
        }
        applyTo(this.cells, (message.operation as { cells: CellOp[] }).cells, this.problems);
        this.vector = vector;
        this.events.push({ vector, operationId: message.operation_id as string });
        return;
      }
      case 'operation_rejected': {
        const id = message.operation_id as string;
        const index = this.pending.findIndex((op) => op.id === id);
        if (index < 0) this.problems.push(`rejection of ${id}, which is not pending`);
        else this.pending.splice(index, 1);
        this.rejected.set(id, message.reason as string);
        if (message.reason === 'conflict_detected') {
          this.conflicts.push({
            id,
            at: message.update_vector as number,
            cells: (message.affected_cells ?? []) as string[],
          });
        }
        return;
      }
      case 'error':
      case 'authorization_denied':
        this.problems.push(`${message.message_type}: ${JSON.stringify(message)}`);
        return;
    }
  }

  private place(op: SentOp, vector: number): void {
    applyTo(this.cells, op.cells, this.problems);
    this.vector = vector;
    this.own.set(vector, op.id);
  }

  /** The diagram as this client shows it: what it knows plus its own operations in flight. */
  optimistic(): Map<string, Cell> {
    let cells = new Map(this.cells);
    for (const op of this.pending) {
      if (op.invalid) continue;
      const attempt = new Map(cells);
      if (applyTo(attempt, op.cells)) cells = attempt;
    }
    return cells;
  }

  send(op: SentOp, legacy = false): void {
    this.bases.set(op.id, this.vector);
    this.pending.push(op);
    this.client.send(
      legacy
        ? { message_type: 'diagram_operation', operation_id: op.id, operation: { type: 'patch', cells: op.cells } }
        : {
            message_type: 'diagram_operation_request',
            operation_id: op.id,
            base_vector: this.vector,
            operation: { type: 'patch', cells: op.cells },
          },
    );
  }

  /** Round-trips a sync_status_request: every operation sent before it has been accepted or rejected. */
  async settled(): Promise<number> {
    this.client.send({ message_type: 'sync_status_request' });
    const response = await this.client.next('sync_status_response', () => true, 15_000);
    this.drain();
    return response.update_vector as number;
  }

  /** Once the diagram is quiet at `final`: the remaining own operations fill the last gaps. */
  async finish(final: number): Promise<void> {
    await until(`${this.name} to reach vector ${final}`, () => {
      this.drain();
      return this.vector + this.pending.length >= final;
    });
    while (this.pending.length > 0 && this.vector < final) this.place(this.pending.shift()!, this.vector + 1);
    if (this.pending.length > 0) this.problems.push(`${this.pending.length} accepted operation(s) beyond ${final}`);
  }

  ordered(): Cell[] {
    return [...this.cells.values()];
  }
}

const node = (id: string, x: number, y: number): Cell => ({ id, shape: 'process', x, y, width: 120, height: 60 });
const edge = (id: string, source: string, target: string): Cell => ({
  id,
  shape: 'flow',
  source: { cell: source },
  target: { cell: target },
});

/** A random edit on the client's current view: add, move or remove a node (with its edges), or connect two. */
function randomOp(rng: ReturnType<typeof random>, view: Map<string, Cell>): SentOp {
  const cells = [...view.values()];
  const nodes = cells.filter((cell) => cell.shape !== 'flow');
  const roll = rng.next();
  const id = randomUUID();
  if (roll < 0.03) {
    // Invalid on purpose: the server refuses it (validation_failed) and nothing changes.
    return { id, cells: [{ id, operation: 'add', data: { id, shape: 'cloud' } }], invalid: true };
  }
  if (roll < 0.35 || nodes.length < 2) {
    return {
      id: randomUUID(),
      cells: [{ id, operation: 'add', data: node(id, rng.int(2000), rng.int(2000)) }],
      invalid: false,
    };
  }
  // Most moves and removals go to the oldest few nodes, which everybody is busy with: conflicts.
  const busy = () => rng.pick(rng.next() < 0.6 ? nodes.slice(0, 3) : nodes);
  if (roll < 0.7) {
    const moved = busy();
    return {
      id,
      cells: [{ id: moved.id, operation: 'update', data: { ...moved, x: rng.int(2000), y: rng.int(2000) } }],
      invalid: false,
    };
  }
  if (roll < 0.85) {
    const removed = busy();
    const attached = cells.filter(
      (cell) =>
        cell.shape === 'flow' &&
        ((cell.source as { cell: string }).cell === removed.id ||
          (cell.target as { cell: string }).cell === removed.id),
    );
    return {
      id,
      cells: [...attached, removed].map((cell) => ({ id: cell.id, operation: 'remove' as const })),
      invalid: false,
    };
  }
  const source = rng.pick(nodes);
  const target = rng.pick(nodes.filter((n) => n.id !== source.id));
  return { id, cells: [{ id, operation: 'add', data: edge(id, source.id, target.id) }], invalid: false };
}

/**
 * Every participant sends `opsEach` random operations, up to `pauseMs` apart (slow enough for the
 * events of the others to reach it in between, so that they edit each other's cells), then waits
 * until the diagram is quiet; all replicas must then agree with each other, with the stored
 * diagram and with the operation log.
 */
async function editConcurrently(ids: Ids, replicas: Replica[], opsEach: number, pauseMs: number, seed: number) {
  const invalid = new Set<string>();
  const sent = new Map<string, string>();
  await Promise.all(
    replicas.map(async (replica, index) => {
      const rng = random(seed + index);
      for (let i = 0; i < opsEach; i++) {
        // Now and then two at once, as a quick hand would: both are built on one view of the others' work.
        if (rng.next() < 0.8) await sleep(rng.int(pauseMs));
        replica.drain();
        const op = randomOp(rng, replica.optimistic());
        if (op.invalid) invalid.add(op.id);
        sent.set(op.id, replica.name);
        replica.send(op);
      }
      await replica.settled();
    }),
  );
  const final = await stored(ids);

  const N = final.update_vector;
  await Promise.all(replicas.map((replica) => replica.finish(N)));
  const context = `seed ${seed}`;

  // The log holds exactly one operation per vector 1..N (the primary key keeps vectors from forking).
  const log = await operationLog(ids);
  expect(
    log.map((op) => Number(op.updateVector)),
    context,
  ).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  const logged = new Map(log.map((op) => [Number(op.updateVector), op.operationId]));

  for (const replica of replicas) {
    const label = `${replica.name} (${context})`;
    expect(replica.problems, label).toEqual([]);
    // Strictly increasing events; every vector is either an event or one of its own, and they agree with the log.
    const vectors = replica.events.map((e) => e.vector);
    expect(vectors, label).toEqual([...vectors].sort((a, b) => a - b));
    expect(
      [...vectors, ...replica.own.keys()].sort((a, b) => a - b),
      label,
    ).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    for (const event of replica.events) expect(event.operationId, label).toBe(logged.get(event.vector));
    for (const [vector, operationId] of replica.own) {
      expect(operationId, label).toBe(logged.get(vector));
      expect(sent.get(operationId), label).toBe(replica.name);
    }
    // A conflict is someone else's change to the same cells since the base: never the client's own
    // earlier operations, which it built this one on (it cannot know their vectors: they are not echoed).
    for (const conflict of replica.conflicts) {
      const base = replica.bases.get(conflict.id)!;
      const touching = log.filter(
        (op) =>
          Number(op.updateVector) > base &&
          Number(op.updateVector) <= conflict.at &&
          op.affectedCells.some((cell) => conflict.cells.includes(cell)),
      );
      if (touching.length > 0) {
        expect(
          touching.some((op) => sent.get(op.operationId) !== replica.name),
          `${label}: ${conflict.id} refused for its own changes`,
        ).toBe(true);
      }
    }
    for (const [id, reason] of replica.rejected) {
      expect(['conflict_detected', 'validation_failed'], label).toContain(reason);
      if (invalid.has(id)) expect(reason, label).toBe('validation_failed');
    }
    for (const id of invalid) if (sent.get(id) === replica.name) expect(replica.rejected.has(id), label).toBe(true);
    // Each one saw others' work and got some of its own in (adds of new cells never conflict).
    expect(replica.own.size, label).toBeGreaterThan(0);
    expect(replica.events.length, label).toBeGreaterThan(0);
    expect(replica.vector, label).toBe(N);
    expect(replica.ordered(), label).toEqual(final.cells);
  }
  // Every accepted operation is some participant's: the vectors they claimed cover the log once.
  expect(
    replicas.reduce((sum, replica) => sum + replica.own.size, 0),
    context,
  ).toBe(N);
  // And every operation sent was either accepted or refused: none was lost.
  expect(N + replicas.reduce((sum, replica) => sum + replica.rejected.size, 0), context).toBe(sent.size);
}

async function replicasOn(ids: Ids, placement: TestServer[], count: number): Promise<Replica[]> {
  const replicas = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const on = placement[i % placement.length]!;
      return new Replica(`writer-${i}@${on === server ? 'A' : 'B'}`, await connect(on, writers[i]!, ids));
    }),
  );
  await Promise.all(replicas.map((replica) => replica.client.next('diagram_state')));
  return replicas;
}

describe('collaboration under concurrency', () => {
  it('two writers editing at once end with the same cells as the stored diagram', async () => {
    const ids = await newSession('Two writers');
    const replicas = await replicasOn(ids, [server], 2);
    await editConcurrently(ids, replicas, 30, 100, SEED);
  });

  it('twenty writers editing at once end with the same cells as the stored diagram', async () => {
    const ids = await newSession('Twenty writers');
    const replicas = await replicasOn(ids, [server], WRITERS);
    await editConcurrently(ids, replicas, 8, 600, SEED + 1000);
  });

  it('twenty writers split over two instances sharing Postgres and Redis agree, and the vector never forks', async () => {
    const ids = await newSession('Two instances');
    const replicas = await replicasOn(ids, [server, second], WRITERS);
    await editConcurrently(ids, replicas, 8, 600, SEED + 2000);
  });
});

const who = (m: Message) => (m.host as { provider_id: string } | undefined)?.provider_id;
const listed = (m: Message) => (m.participants as { user: { provider_id: string } }[]).map((p) => p.user.provider_id);

describe('session membership', () => {
  it('hands the session to a present writer when the host leaves; the session goes on', async () => {
    const ids = await newSession('Host leaves');
    const host = await connect(server, owner, ids);
    await host.next('participants_update');
    const heir = await connect(second, writers[0]!, ids);
    await heir.next('participants_update');
    const viewer = await connect(server, reader, ids);
    await viewer.next('participants_update');
    const other = await connect(second, writers[1]!, ids);
    await other.next('diagram_state');
    await heir.next('participants_update', (m) => listed(m).length === 4);

    await host.close();
    for (const client of [heir, viewer, other]) {
      const update = await client.next('participants_update', (m) => who(m) !== owner.providerId);
      expect(who(update)).toBe(writers[0]!.providerId);
      expect(listed(update)).toEqual([writers[0]!.providerId, reader.providerId, writers[1]!.providerId]);
    }
    const cell = randomUUID();
    other.send({
      message_type: 'diagram_operation_request',
      operation_id: randomUUID(),
      base_vector: 0,
      operation: { type: 'patch', cells: [{ id: cell, operation: 'add', data: node(cell, 10, 10) }] },
    });
    expect(await heir.next('diagram_operation_event')).toMatchObject({ update_vector: 1 });
    expect(await viewer.next('diagram_operation_event')).toMatchObject({ update_vector: 1 });
    const { body } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}/collaborate`,
    );
    expect(body.host.provider_id).toBe(writers[0]!.providerId);
  });

  it('remove_participant_request: the host’s closes the removed user’s socket with an error; anyone else’s is an error', async () => {
    const ids = await newSession('Removal');
    const host = await connect(server, owner, ids);
    await host.next('participants_update');
    const removed = await connect(second, writers[2]!, ids);
    await removed.next('participants_update');
    const bystander = await connect(server, writers[3]!, ids);
    await host.next('participants_update', (m) => listed(m).length === 3);

    bystander.send({
      message_type: 'remove_participant_request',
      removed_user: { provider: 'tmi', provider_id: writers[2]!.providerId },
    });
    expect(await bystander.next('error')).toMatchObject({ error: 'insufficient_permissions' });

    const closed = removed.closed();
    host.send({
      message_type: 'remove_participant_request',
      removed_user: { principal_type: 'user', provider: 'tmi', provider_id: writers[2]!.providerId },
    });
    expect(await removed.next('error')).toMatchObject({ error: 'removed' });
    expect((await closed).code).toBe(4003);
    const update = await host.next('participants_update', (m) => !listed(m).includes(writers[2]!.providerId));
    expect(listed(update)).toEqual([owner.providerId, writers[3]!.providerId]);
    expect(host.all('error')).toEqual([]);

    // Removed for the rest of the session: no new ticket, and no way back in with a token either.
    await expect(connect(server, writers[2]!, ids)).rejects.toMatchObject({ code: 'INSUFFICIENT_PERMISSIONS' });
    const back = await SocketClient.open(
      socketUrl(second, ids.tm, ids.diagram, { session_id: ids.session, token: writers[2]!.token }),
    );
    sockets.push(back);
    expect(await back.next('error')).toMatchObject({ error: 'join_failed' });
    expect((await back.closed()).code).toBe(4003);
  });

  it('accepts the older message names: diagram_operation (user_id, no base_vector, data without id) and diagram_state_sync', async () => {
    const ids = await newSession('Older names');
    const legacy = await connect(server, writers[4]!, ids);
    const watcher = await connect(second, writers[5]!, ids);
    await legacy.next('diagram_state');
    await watcher.next('diagram_state');
    const cell = randomUUID();
    const { id: _id, ...withoutId } = node(cell, 40, 50);
    legacy.send({
      message_type: 'diagram_operation',
      user_id: writers[4]!.email,
      operation_id: randomUUID(),
      operation: { type: 'patch', cells: [{ id: cell, operation: 'add', data: withoutId }] },
    });
    expect(await watcher.next('diagram_operation_event')).toMatchObject({
      update_vector: 1,
      operation: { type: 'patch', cells: [{ id: cell, operation: 'add', data: node(cell, 40, 50) }] },
    });
    legacy.send({ message_type: 'diagram_state_sync' });
    expect(await legacy.next('diagram_state', (m) => m.update_vector === 1)).toEqual({
      message_type: 'diagram_state',
      diagram_id: ids.diagram,
      update_vector: 1,
      cells: [node(cell, 40, 50)],
    });
    expect(legacy.all('operation_rejected')).toEqual([]);
  });
});

/** Two writers on a fresh instance `doomed` and one on `server`, the host (owner) among the doomed. */
async function sessionAcrossADoomedInstance(name: string) {
  const ids = await newSession(name);
  const doomed = await startTestServer({}, { shareDatabaseWith: server });
  const onDoomed = new Replica('host@doomed', await connect(doomed, owner, ids));
  await onDoomed.client.next('participants_update');
  const alsoDoomed = await connect(doomed, writers[7]!, ids);
  await alsoDoomed.next('participants_update');
  const survivor = new Replica('writer@A', await connect(server, writers[6]!, ids));
  await survivor.client.next('participants_update', (m) => listed(m).length === 3);

  const cells = [randomUUID(), randomUUID(), randomUUID()];
  for (const [i, id] of cells.entries()) {
    onDoomed.send({ id: randomUUID(), cells: [{ id, operation: 'add', data: node(id, i, i) }], invalid: false });
  }
  // Acknowledged: the round trip came back without a rejection.
  expect(await onDoomed.settled()).toBe(3);
  expect(onDoomed.rejected.size).toBe(0);
  await until('the survivor to see the three adds', () => survivor.vector === 3);
  return { ids, doomed, onDoomed, alsoDoomed, survivor, cells };
}

/** After the doomed instance is gone: the acknowledged cells are stored and the survivor still edits. */
async function survivorGoesOn(ids: Ids, survivor: Replica, cells: string[]) {
  expect((await stored(ids)).cells.map((c) => c.id)).toEqual(cells);
  const later = randomUUID();
  survivor.send({
    id: randomUUID(),
    cells: [{ id: later, operation: 'add', data: node(later, 9, 9) }],
    invalid: false,
  });
  expect(await survivor.settled()).toBe(4);
  await survivor.finish(4);
  expect(survivor.problems).toEqual([]);
  expect(survivor.ordered()).toEqual((await stored(ids)).cells);
  expect(survivor.rejected.size).toBe(0);
}

async function listedByRest(ids: Ids) {
  const { body } = await restClient(second.baseUrl, owner.token).get(
    `/threat_models/${ids.tm}/diagrams/${ids.diagram}/collaborate`,
  );
  return {
    host: body.host.provider_id as string,
    participants: (body.participants as { user: { provider_id: string } }[]).map((p) => p.user.provider_id),
  };
}

describe('an instance dying mid-session', () => {
  it('stopping (server.close) closes its sockets with 1001 and leaves at once: the others see it go, the host role moves', async () => {
    const { ids, doomed, onDoomed, alsoDoomed, survivor, cells } = await sessionAcrossADoomedInstance('Instance stops');
    const gone = [onDoomed.client.closed(), alsoDoomed.closed()];
    await doomed.close();
    expect((await Promise.all(gone)).map((c) => c.code)).toEqual([1001, 1001]);
    expect(await server.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(1);
    // (Announcements made while the two leaves overlap may show one half done; the session settles on this.)
    const update = await survivor.client.next(
      'participants_update',
      (m) => listed(m).length === 1 && who(m) === writers[6]!.providerId,
    );
    expect(listed(update)).toEqual([writers[6]!.providerId]);
    expect(await listedByRest(ids)).toEqual({ host: writers[6]!.providerId, participants: [writers[6]!.providerId] });
    await survivorGoesOn(ids, survivor, cells);
  });

  it('crashing (no chance to leave): its rows stop being refreshed, and the sweep forgets them and hands the host role on', async () => {
    const { ids, doomed, alsoDoomed, survivor, cells } = await sessionAcrossADoomedInstance('Instance crashes');
    // A crash as far as the database can tell: the instance loses it before its sockets close.
    await doomed.deps.db.close();
    const gone = alsoDoomed.closed();
    await doomed.close();
    await gone;
    expect(await server.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(3);
    await survivorGoesOn(ids, survivor, cells);
    // Still listed while fresh: a live instance refreshes its own rows only, so these age out.
    expect((await listedByRest(ids)).participants).toHaveLength(3);
    await server.deps.db.prisma.collaborationParticipant.updateMany({
      where: { sessionId: ids.session, userId: { in: [owner.id, writers[7]!.id] } },
      data: { seenAt: new Date(Date.now() - PARTICIPANT_STALE_MS - 1000) },
    });
    // Stale rows are no longer listed, even before the sweep deletes them…
    expect((await listedByRest(ids)).participants).toEqual([writers[6]!.providerId]);
    // …which the scheduled sweep (of any live instance) does, telling the session and choosing a new host.
    await new CollaborationService(server.deps.serviceContext({ principal: undefined, requestId: 'sweep' })).sweep();
    const update = await survivor.client.next('participants_update', (m) => who(m) === writers[6]!.providerId);
    expect(listed(update)).toEqual([writers[6]!.providerId]);
    expect(await listedByRest(ids)).toEqual({ host: writers[6]!.providerId, participants: [writers[6]!.providerId] });
    expect(await server.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(1);
  });
});
