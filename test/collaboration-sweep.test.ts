import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollaborationService } from '../src/modules/collaboration/service.js';
import { restClient } from './helpers/clients.js';
import { collaborationAs, SocketClient, socketUrl } from './helpers/collaboration.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// The scheduled sweep: connections of dead instances, idle sessions and expired tickets.

let server: TestServer;
let host: TestUser;
let guest: TestUser;
const clients: SocketClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  host = await signIn(server, 'sweep-host');
  guest = await signIn(server, 'sweep-guest');
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
});

/** The service as the scheduled job runs it, at a moment of the test's choosing. */
const sweepAt = (moment: Date) =>
  new CollaborationService({
    ...server.deps.serviceContext({ principal: undefined, requestId: 'sweep' }),
    now: () => moment,
  }).sweep();

async function newSession() {
  const rest = restClient(server.baseUrl, host.token);
  const { body: tm } = await rest.post('/threat_models', {
    name: 'Swept',
    authorization: [userEntry(guest, 'writer')],
  });
  const { body: diagram } = await rest.post(`/threat_models/${tm.id}/diagrams`, { name: 'D', type: 'DFD-1.0.0' });
  const session = await (await collaborationAs(server, host)).start(tm.id, diagram.id);
  return { tm: tm.id as string, diagram: diagram.id as string, session: session.id };
}

describe('collaboration sweep', () => {
  it('forgets connections of an instance that stopped refreshing them and hands the session to a present writer', async () => {
    const ids = await newSession();
    const ticket = await (await collaborationAs(server, guest)).issueTicket(ids.session);
    const live = await SocketClient.open(socketUrl(server, ids.tm, ids.diagram, { session_id: ids.session, ticket }));
    clients.push(live);
    await live.next('participants_update');
    // The host was connected through an instance that died two minutes ago.
    const longAgo = new Date(Date.now() - 120_000);
    await server.deps.db.prisma.collaborationParticipant.create({
      data: {
        id: randomUUID(),
        sessionId: ids.session,
        userId: host.id,
        instanceId: 'dead',
        permissions: 'writer',
        connectedAt: longAgo,
        lastActivityAt: longAgo,
        seenAt: longAgo,
      },
    });
    const swept = await sweepAt(new Date());
    expect(swept.connections).toBe(1);
    const update = await live.next(
      'participants_update',
      (m) => (m.host as { provider_id: string }).provider_id === guest.providerId,
    );
    expect((update.participants as { user: { provider_id: string } }[]).map((p) => p.user.provider_id)).toEqual([
      guest.providerId,
    ]);
    expect(await server.deps.db.prisma.collaborationParticipant.count({ where: { sessionId: ids.session } })).toBe(1);
  });

  it('ends a session idle for 15 minutes with nobody connected, not one with a live connection, and drops expired tickets', async () => {
    const idle = await newSession();
    const busy = await newSession();
    const ticket = await (await collaborationAs(server, host)).issueTicket(busy.session);
    const busyClient = await SocketClient.open(
      socketUrl(server, busy.tm, busy.diagram, { session_id: busy.session, ticket }),
    );
    clients.push(busyClient);
    await busyClient.joined();
    await (await collaborationAs(server, host)).issueTicket(idle.session);

    // Live connections are refreshed by their instance all along: move the clock and their refresh together.
    const later = async (minutes: number) => {
      const moment = new Date(Date.now() + minutes * 60_000);
      await server.deps.db.prisma.collaborationParticipant.updateMany({ data: { seenAt: moment } });
      return sweepAt(moment);
    };
    const early = await later(14);
    expect([early.sessions, early.connections]).toEqual([0, 0]);
    expect(early.tickets).toBeGreaterThanOrEqual(2);
    expect(await server.deps.db.prisma.webSocketTicket.count()).toBe(0);
    const swept = await later(16);
    expect([swept.sessions, swept.connections]).toEqual([1, 0]);
    const rest = restClient(server.baseUrl, host.token);
    expect((await rest.get(`/threat_models/${idle.tm}/diagrams/${idle.diagram}/collaborate`)).status).toBe(404);
    expect((await rest.get(`/threat_models/${busy.tm}/diagrams/${busy.diagram}/collaborate`)).status).toBe(200);
  });
});
