import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KNOWN_MAX_AGE_MS, KNOWN_OPERATIONS } from '../src/modules/collaboration/edits.js';
import { ConnectionPresence } from '../src/modules/collaboration/presence.js';
import { OperationRejected } from '../src/modules/collaboration/service.js';
import { type LiveEvent, SessionStream } from '../src/modules/collaboration/stream.js';
import { restClient } from './helpers/clients.js';
import { collaborationAs } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Collaborative edits through one instance go one at a time, each planned on what the instance knows of the
// diagram (what it wrote, and the operations its feed heard since) instead of a snapshot read, while that is
// recent; the write checks the diagram is still as planned and, when not, the diagram is read to plan again.

let server: TestServer;
let second: TestServer;
let owner: TestUser;
let writer: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  second = await startTestServer({}, { shareDatabaseWith: server });
  owner = await signIn(server, 'edits-owner');
  writer = await signIn(server, 'edits-writer');
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await second?.close();
  await server?.close();
});

async function newSession() {
  const rest = restClient(server.baseUrl, owner.token);
  const { body: tm } = await rest.post('/threat_models', {
    name: 'Edited',
    authorization: [userEntry(writer, 'writer')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'Flows', type: 'DFD-1.0.0' });
  const session = await (await collaborationAs(server, owner)).start(tm.id, diagram.id);
  return { tm: tm.id as string, diagram: diagram.id as string, session: session.id };
}

const add = (id: string) => ({
  type: 'patch',
  cells: [{ id, operation: 'add', data: { id, shape: 'process', x: 10, y: 10, width: 80, height: 40 } }],
});

/** Counts the statements of a name (`collab_snapshot`, `collab_edit`) an instance sends from now on. */
function statements(name: string, instance = server) {
  const query = vi.spyOn(instance.deps.db.pool, 'query');
  return () => query.mock.calls.filter(([config]) => (config as { name?: string }).name === name).length;
}
const snapshotReads = (instance = server) => statements('collab_snapshot', instance);

/** A GraphQL session stream on an instance: its feed hears the session there. */
async function listen(instance: TestServer, user: TestUser, sessionId: string) {
  const principal = await instance.deps.tokens.verify(user.token);
  const presence = new ConnectionPresence(() => instance.deps.serviceContext({ principal: undefined, requestId: 't' }));
  const stream = await SessionStream.open(
    instance.deps.serviceContext({ principal, requestId: 'edits-test' }),
    sessionId,
    presence,
  );
  const events: LiveEvent[] = [];
  void (async () => {
    for await (const event of stream) events.push(event);
  })();
  return { stream, events };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('collaborative edits through one instance', () => {
  it('plan each on what the previous one wrote, concurrent ones included, and end with the stored cells', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const reads = snapshotReads();
    const cells = Array.from({ length: 8 }, () => randomUUID());
    const applied = await Promise.all(
      cells.map((id, i) =>
        service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: i, operation: add(id) }),
      ),
    );
    expect(applied.map((op) => op.updateVector)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(reads()).toBe(1);
    const { body: stored } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(stored.update_vector).toBe(8);
    expect((stored.cells as { id: string }[]).map((cell) => cell.id).sort()).toEqual([...cells].sort());
  });

  it('plan again on the diagram as it is after a write outside the session; duplicates are still refused', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const first = randomUUID();
    await service.applyOperation(ids.session, { operationId: first, baseVector: 0, operation: add(randomUUID()) });
    const rest = restClient(server.baseUrl, owner.token);
    await rest.patch(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`, [
      { op: 'replace', path: '/name', value: 'Renamed' },
    ]);
    const reads = snapshotReads();
    const cell = randomUUID();
    expect(
      await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 2, operation: add(cell) }),
    ).toMatchObject({ updateVector: 3 });
    // The write planned on the stale diagram did not apply; the diagram was read once to plan again on.
    expect(reads()).toBe(1);
    const { body: stored } = await rest.get(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`);
    expect(stored).toMatchObject({ name: 'Renamed', update_vector: 3 });
    expect(stored.cells).toHaveLength(2);
    await expect(
      service.applyOperation(ids.session, { operationId: first, baseVector: 3, operation: add(randomUUID()) }),
    ).rejects.toMatchObject({ reason: 'no_state_change' });
  });

  it('conflict with a change since the client’s base that the known diagram holds', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const cell = randomUUID();
    await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 0, operation: add(cell) });
    const move = {
      type: 'patch',
      cells: [
        { id: cell, operation: 'update', data: { id: cell, shape: 'process', x: 99, y: 10, width: 80, height: 40 } },
      ],
    };
    await (
      await collaborationAs(server, owner)
    ).applyOperation(ids.session, {
      operationId: randomUUID(),
      baseVector: 1,
      operation: move,
    });
    const stale = service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 1, operation: move });
    await expect(stale).rejects.toBeInstanceOf(OperationRejected);
    await expect(stale).rejects.toMatchObject({ reason: 'conflict_detected' });
  });

  it('do not outlive the session, nor a writer’s role for longer than what is known may be used', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    await service.applyOperation(ids.session, {
      operationId: randomUUID(),
      baseVector: 0,
      operation: add(randomUUID()),
    });
    // The writer becomes a reader.
    const rest = restClient(server.baseUrl, owner.token);
    await rest.patch(`/threat_models/${ids.tm}`, [
      { op: 'replace', path: '/authorization', value: [userEntry(writer, 'reader')] },
    ]);
    await new Promise((resolve) => setTimeout(resolve, KNOWN_MAX_AGE_MS + 50));
    await expect(
      service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 1, operation: add(randomUUID()) }),
    ).rejects.toMatchObject({ reason: 'permission_denied' });

    const hosted = await collaborationAs(server, owner);
    await hosted.applyOperation(ids.session, {
      operationId: randomUUID(),
      baseVector: 1,
      operation: add(randomUUID()),
    });
    await hosted.end(ids.tm, ids.diagram);
    await expect(
      hosted.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 2, operation: add(randomUUID()) }),
    ).rejects.toMatchObject({ code: 'RESOURCE_NOT_FOUND' });
    const { body: stored } = await rest.get(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`);
    expect(stored.update_vector).toBe(2);
  });

  it('keep knowing who may write while a session is edited (read beside the edits), never longer than allowed', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    let vector = 0;
    const edit = async () => {
      const op = await service.applyOperation(ids.session, {
        operationId: randomUUID(),
        baseVector: vector,
        operation: add(randomUUID()),
      });
      vector = op.updateVector;
    };
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    await edit();
    const reads = snapshotReads();
    const accessReads = statements('collab_access');
    for (const end = Date.now() + KNOWN_MAX_AGE_MS * 3; Date.now() < end; await pause()) await edit();
    expect(reads()).toBe(0);
    expect(accessReads()).toBeGreaterThanOrEqual(2);

    // The writer becomes a reader while edits go on: allowed for at most KNOWN_MAX_AGE_MS more.
    await restClient(server.baseUrl, owner.token).patch(`/threat_models/${ids.tm}`, [
      { op: 'replace', path: '/authorization', value: [userEntry(writer, 'reader')] },
    ]);
    for (const end = Date.now() + KNOWN_MAX_AGE_MS + 20; Date.now() < end; await pause()) {
      await edit().catch((error: unknown) => expect(error).toMatchObject({ reason: 'permission_denied' }));
    }
    await expect(edit()).rejects.toMatchObject({ reason: 'permission_denied' });
  });

  it('list a bounded number of operations: an edit on a base older than those is planned on a read', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const edit = (baseVector: number) =>
      service.applyOperation(ids.session, { operationId: randomUUID(), baseVector, operation: add(randomUUID()) });
    let vector = 0;
    while (vector < KNOWN_OPERATIONS + 10) vector = (await edit(vector)).updateVector;
    const reads = snapshotReads();
    expect((await edit(vector)).updateVector).toBe(vector + 1);
    expect(reads()).toBe(0);
    // Its base is behind what is listed: read, checked against the log, and applied (no conflict).
    expect((await edit(5)).updateVector).toBe(vector + 2);
    expect(reads()).toBe(1);
  });

  it('never write over cells the instance knows wrong: only the changed cells are written, checked to exist', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const first = randomUUID();
    await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 0, operation: add(first) });
    // The stored cells change under the instance, the vector staying the same (as no path of the server does).
    const other = randomUUID();
    await server.deps.db.pool.query(
      `WITH gone AS (DELETE FROM diagram_cells WHERE diagram_id = $1::uuid)
       INSERT INTO diagram_cells (diagram_id, id, position, cell) VALUES ($1::uuid, $2, 7, $3::jsonb)`,
      [ids.diagram, other, JSON.stringify({ id: other, shape: 'actor', x: 1, y: 1, width: 80, height: 40 })],
    );
    const edits = statements('collab_edit');
    const stored = async () => {
      const { body } = await restClient(server.baseUrl, owner.token).get(
        `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
      );
      return body as { cells: { id: string; x: number }[]; update_vector: number };
    };
    // An addition leaves the stored cells as they are and comes after them.
    const cell = randomUUID();
    expect(
      await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 1, operation: add(cell) }),
    ).toMatchObject({ updateVector: 2 });
    const after = await stored();
    expect(after.cells.map((c) => c.id)).toEqual([other, cell]);
    expect(after.cells[0]).toMatchObject({ x: 1, y: 1 });
    expect(after.update_vector).toBe(2);
    expect(edits()).toBe(1);
    // An update of a cell the instance (still) thinks exists: not written; planned again on the diagram as the
    // statement found it, where the cell does not exist.
    const move = {
      type: 'patch',
      cells: [
        { id: first, operation: 'update', data: { id: first, shape: 'process', x: 50, y: 10, width: 80, height: 40 } },
      ],
    };
    await expect(
      service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: 2, operation: move }),
    ).rejects.toMatchObject({ reason: 'conflict_detected' });
    expect(edits()).toBe(2);
    expect((await stored()).cells.map((c) => c.id)).toEqual([other, cell]);
  });

  it('write a batch of removals, updates and additions as one change, in the order the cells had', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const cells = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    let vector = 0;
    for (const id of cells) {
      vector = (
        await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: vector, operation: add(id) })
      ).updateVector;
    }
    const node = (id: string, x: number) => ({ id, shape: 'process', x, y: 10, width: 80, height: 40 });
    const added = randomUUID();
    const batch = {
      type: 'patch',
      cells: [
        { id: cells[2]!, operation: 'update', data: node(cells[2]!, 300) },
        { id: cells[0]!, operation: 'remove' },
        { id: added, operation: 'add', data: node(added, 500) },
        { id: cells[3]!, operation: 'update', data: node(cells[3]!, 400) },
        { id: cells[1]!, operation: 'remove' },
      ],
    };
    await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: vector, operation: batch });
    const { body } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect((body.cells as { id: string; x: number }[]).map((c) => [c.id, c.x])).toEqual([
      [cells[2], 300],
      [cells[3], 400],
      [added, 500],
    ]);
    // Undone: the removed cells come back (after the others), the updated ones as they were.
    await service.undo(ids.session, randomUUID());
    const { body: undone } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect((undone.cells as { id: string; x: number }[]).map((c) => [c.id, c.x])).toEqual([
      [cells[2], 10],
      [cells[3], 10],
      [cells[1], 10],
      [cells[0], 10],
    ]);
  });

  it('write only the cells an edit changes, whatever the size of the diagram', async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const cells = Array.from({ length: 6 }, () => randomUUID());
    let vector = 0;
    for (const id of cells) {
      vector = (
        await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: vector, operation: add(id) })
      ).updateVector;
    }
    // Each row's version (xmin): a row the edit leaves alone keeps it.
    const versions = async () => {
      const { rows } = await server.deps.db.pool.query(
        `SELECT id, xmin::text AS version FROM diagram_cells WHERE diagram_id = $1::uuid ORDER BY position`,
        [ids.diagram],
      );
      return new Map(rows.map((row: { id: string; version: string }) => [row.id, row.version]));
    };
    const before = await versions();
    const moved = cells[3]!;
    const move = {
      type: 'patch',
      cells: [
        { id: moved, operation: 'update', data: { id: moved, shape: 'process', x: 90, y: 90, width: 80, height: 40 } },
      ],
    };
    await service.applyOperation(ids.session, { operationId: randomUUID(), baseVector: vector, operation: move });
    const after = await versions();
    expect([...after.keys()]).toEqual(cells);
    expect(cells.filter((id) => after.get(id) !== before.get(id))).toEqual([moved]);
  });

  it('across two instances, each plans on the operations its feed heard from the other, without reading', async () => {
    const ids = await newSession();
    const here = await listen(server, owner, ids.session);
    const there = await listen(second, writer, ids.session);
    const services = [await collaborationAs(server, owner), await collaborationAs(second, writer)];
    const [firstInstance, secondInstance] = [server, second].map((instance) => ({
      reads: snapshotReads(instance),
      writes: statements('collab_edit', instance),
    }));
    const cells: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      cells.push(id);
      await services[i % 2]!.applyOperation(ids.session, {
        operationId: randomUUID(),
        baseVector: i,
        operation: add(id),
      });
      // Both feeds have heard it before the next edit.
      await until(() =>
        [here, there].every(({ events }) => events.some((e) => e.type === 'operation' && e.updateVector === i + 1)),
      );
    }
    // One read per instance (what it did not know yet), and every write applied at once.
    expect([firstInstance!.reads(), secondInstance!.reads()]).toEqual([1, 1]);
    expect(firstInstance!.writes() + secondInstance!.writes()).toBe(6);
    const { body: stored } = await restClient(server.baseUrl, owner.token).get(
      `/threat_models/${ids.tm}/diagrams/${ids.diagram}`,
    );
    expect(stored.update_vector).toBe(6);
    expect((stored.cells as { id: string }[]).map((c) => c.id)).toEqual(cells);
    await here.stream.return();
    await there.stream.return();
  });

  it('refuse an update that changes nothing, whether the diagram was known or read (keys in any order)', async () => {
    const ids = await newSession();
    const cell = randomUUID();
    const data = { id: cell, shape: 'process', x: 10, y: 10, width: 80, height: 40 };
    await (
      await collaborationAs(server, writer)
    ).applyOperation(ids.session, { operationId: randomUUID(), baseVector: 0, operation: add(cell) });
    const same = { type: 'patch', cells: [{ id: cell, operation: 'update', data }] };
    // Known: the instance that wrote it.
    await expect(
      (await collaborationAs(server, writer)).applyOperation(ids.session, {
        operationId: randomUUID(),
        baseVector: 1,
        operation: same,
      }),
    ).rejects.toMatchObject({ reason: 'no_state_change' });
    // Read: the other instance (its cells come back from jsonb with their keys in another order).
    const reversed = Object.fromEntries(Object.entries(data).reverse());
    await expect(
      (await collaborationAs(second, writer)).applyOperation(ids.session, {
        operationId: randomUUID(),
        baseVector: 1,
        operation: { type: 'patch', cells: [{ id: cell, operation: 'update', data: reversed }] },
      }),
    ).rejects.toMatchObject({ reason: 'no_state_change' });
  });

  it("record the session's activity, not rewriting it on every edit of a busy session", async () => {
    const ids = await newSession();
    const service = await collaborationAs(server, writer);
    const activity = async () =>
      (await server.deps.db.prisma.collaborationSession.findUniqueOrThrow({ where: { id: ids.session } }))
        .lastActivityAt;
    // Idle for an hour: the next edit records its activity.
    const hourAgo = new Date(Date.now() - 3_600_000);
    await server.deps.db.prisma.collaborationSession.update({
      where: { id: ids.session },
      data: { lastActivityAt: hourAgo },
    });
    const before = Date.now();
    await service.applyOperation(ids.session, {
      operationId: randomUUID(),
      baseVector: 0,
      operation: add(randomUUID()),
    });
    const recorded = await activity();
    expect(recorded.getTime()).toBeGreaterThanOrEqual(before - 1000);
    // Edits right after leave that record as it is.
    await service.applyOperation(ids.session, {
      operationId: randomUUID(),
      baseVector: 1,
      operation: add(randomUUID()),
    });
    expect(await activity()).toEqual(recorded);
  });
});
