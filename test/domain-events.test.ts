import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser } from './helpers/users.js';

// Changes are recorded as TMI-named domain events in the transaction that makes them: webhooks will
// deliver from this table, so an event must exist exactly when its change committed.

let server: TestServer;
let alice: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  alice = await signIn(server, 'events-alice');
});
afterAll(async () => server?.close());

function eventsOf(threatModelId: string) {
  return server.deps.db.prisma.domainEvent.findMany({ where: { threatModelId }, orderBy: { sequence: 'asc' } });
}

describe('domain events', () => {
  it('records created, updated and deleted with actor, request id and snapshot', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Evented' });
    await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Evented 2' }]);
    const deleted = await rest.delete(`/threat_models/${tm.id}`);
    expect(deleted.status).toBe(204);

    const events = await eventsOf(tm.id);
    expect(events.map((event) => event.eventType)).toEqual([
      'threat_model.created',
      'threat_model.updated',
      'threat_model.deleted',
    ]);
    expect(events[1]).toMatchObject({ objectType: 'threat_model', objectId: tm.id, actorId: alice.id });
    expect(events[1]!.requestId).toBeTruthy();
    expect(events[1]!.data).toMatchObject({ name: 'Evented 2', version: 2 });
  });

  it('a change that fails after its event was written leaves neither the change nor the event', async () => {
    const rest = restClient(server.baseUrl, alice.token);
    const { body: tm } = await rest.post('/threat_models', { name: 'Rolled back' });
    const { prisma } = server.deps.db;
    // A database failure late in the transaction: inserting metadata with this key raises.
    await prisma.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION fail_on_boom() RETURNS trigger AS $$
      BEGIN IF NEW.key = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await prisma.$executeRawUnsafe(
      `CREATE TRIGGER fail_on_boom BEFORE INSERT ON threat_model_metadata FOR EACH ROW EXECUTE FUNCTION fail_on_boom()`,
    );
    const published: unknown[] = [];
    const stopListening = await server.deps.pubsub.listen('threat_model.events', tm.id, (change) =>
      published.push(change),
    );
    try {
      const response = await rest.patch(`/threat_models/${tm.id}`, [
        { op: 'replace', path: '/name', value: 'Should not stick' },
        { op: 'add', path: '/metadata/-', value: { key: 'boom', value: 'x' } },
      ]);
      expect(response.status).toBe(500);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = await prisma.threatModel.findUniqueOrThrow({ where: { id: tm.id } });
      expect(after).toMatchObject({ name: 'Rolled back', version: 1 });
      expect((await eventsOf(tm.id)).map((event) => event.eventType)).toEqual(['threat_model.created']);
      expect(published).toEqual([]);

      // The listener works: a change that commits is announced.
      await rest.patch(`/threat_models/${tm.id}`, [{ op: 'replace', path: '/name', value: 'Committed' }]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(published).toHaveLength(1);
    } finally {
      await prisma.$executeRawUnsafe(`DROP TRIGGER fail_on_boom ON threat_model_metadata`);
      stopListening();
    }
  });
});
