import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WRITTEN_MAX_AGE_MS } from '../src/modules/collaboration/edits.js';
import { OperationRejected } from '../src/modules/collaboration/service.js';
import { restClient } from './helpers/clients.js';
import { collaborationAs } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Collaborative edits through one instance go one at a time, each planned on what the previous one wrote
// (no snapshot read) while nothing else changed the diagram, the snapshot is recent and the session lasts.

let server: TestServer;
let owner: TestUser;
let writer: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'edits-owner');
  writer = await signIn(server, 'edits-writer');
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
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

/** Counts the edit snapshots read from now on. */
function snapshotReads() {
  const query = vi.spyOn(server.deps.db.pool, 'query');
  return () => query.mock.calls.filter(([config]) => (config as { name?: string }).name === 'collab_snapshot').length;
}

describe('collaborative edits through one instance', () => {
  it('plan each edit on what the previous one wrote, concurrent ones included, and end with the stored cells', async () => {
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

  it('read the diagram again after a write outside the session, and still refuse a duplicate operation id', async () => {
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
    expect(reads()).toBe(1);
    const { body: stored } = await rest.get(`/threat_models/${ids.tm}/diagrams/${ids.diagram}`);
    expect(stored).toMatchObject({ name: 'Renamed', update_vector: 3 });
    expect(stored.cells).toHaveLength(2);
    await expect(
      service.applyOperation(ids.session, { operationId: first, baseVector: 3, operation: add(randomUUID()) }),
    ).rejects.toMatchObject({ reason: 'no_state_change' });
  });

  it('conflicts with a change since the client’s base that the chained snapshot holds', async () => {
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

  it('do not outlive the session, nor a writer’s role for longer than a snapshot may be reused', async () => {
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
    await new Promise((resolve) => setTimeout(resolve, WRITTEN_MAX_AGE_MS + 50));
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
});
