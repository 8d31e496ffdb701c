import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

let server: TestServer;
let owner: TestUser;
let writer: TestUser;
let reader: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  owner = await signIn(server, 'notes-owner');
  writer = await signIn(server, 'notes-writer');
  reader = await signIn(server, 'notes-reader');
  stranger = await signIn(server, 'notes-stranger');
});
afterAll(async () => server?.close());

async function newThreatModel(): Promise<string> {
  const { body } = await restClient(server.baseUrl, owner.token).post('/threat_models', {
    name: 'With notes',
    authorization: [userEntry(writer, 'writer'), userEntry(reader, 'reader')],
  });
  return body.id;
}

const storedNotes = (threatModelId: string) =>
  server.deps.db.prisma.note.findMany({ where: { threatModelId }, orderBy: { alias: 'asc' } });

describe('notes', () => {
  it('create, read, list (summaries without content), replace, patch and delete', async () => {
    const tm = await newThreatModel();
    const rest = restClient(server.baseUrl, writer.token);
    const created = await rest.post(`/threat_models/${tm}/notes`, {
      name: 'Review',
      content: '# Findings\n- input validation',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      alias: 1,
      name: 'Review',
      content: '# Findings\n- input validation',
      include_in_report: true,
      timmy_enabled: true,
    });
    await rest.post(`/threat_models/${tm}/notes`, { name: 'Second', content: 'more' });

    const list = await rest.get(`/threat_models/${tm}/notes`);
    expect(list.body).toMatchObject({ total: 2, limit: 20, offset: 0 });
    expect(list.body.notes.map((note: { name: string }) => note.name)).toEqual(['Review', 'Second']);
    expect(list.body.notes[0].content).toBeUndefined();

    const full = await rest.get(`/threat_models/${tm}`);
    expect(full.body.notes.map((note: { name: string; content: string }) => [note.name, note.content])).toEqual([
      ['Review', '# Findings\n- input validation'],
      ['Second', 'more'],
    ]);

    const id = created.body.id;
    const replaced = await rest.put(`/threat_models/${tm}/notes/${id}`, { name: 'Review v2', content: 'rewritten' });
    expect(replaced.body).toMatchObject({ name: 'Review v2', content: 'rewritten' });
    expect(replaced.body).not.toHaveProperty('description');
    const patched = await rest.patch(`/threat_models/${tm}/notes/${id}`, [
      { op: 'replace', path: '/include_in_report', value: false },
    ]);
    expect(patched.body).toMatchObject({ name: 'Review v2', include_in_report: false });

    const gql = await graphqlClient(server.baseUrl, reader.token)(
      `query($tm: ID!, $id: ID!) { note(threatModelId: $tm, id: $id) { name content includeInReport } threatModel(id: $tm) { noteCount notes(first: 5) { totalCount } } }`,
      { tm, id },
    );
    expect(gql.data).toEqual({
      note: { name: 'Review v2', content: 'rewritten', includeInReport: false },
      threatModel: { noteCount: 2, notes: { totalCount: 2 } },
    });
    expect((await rest.get('/threat_models?name=With notes')).body.threat_models[0].note_count).toBeGreaterThanOrEqual(
      1,
    );

    expect((await rest.delete(`/threat_models/${tm}/notes/${id}`)).status).toBe(204);
    expect((await rest.get(`/threat_models/${tm}/notes/${id}`)).status).toBe(404);
    const events = await server.deps.db.prisma.domainEvent.findMany({
      where: { threatModelId: tm, objectType: 'note', objectId: id },
      orderBy: { sequence: 'asc' },
    });
    expect(events.map((event) => event.eventType)).toEqual([
      'note.created',
      'note.updated',
      'note.updated',
      'note.deleted',
    ]);
  });

  it('removes dangerous HTML from content and keeps safe HTML', async () => {
    const tm = await newThreatModel();
    const created = await restClient(server.baseUrl, owner.token).post(`/threat_models/${tm}/notes`, {
      name: 'HTML',
      content:
        '<table><tr><td onclick="steal()">cell</td></tr></table><script>alert(1)</script><a href="javascript:x()">link</a><b>bold</b>',
    });
    expect(created.status).toBe(201);
    expect(created.body.content).toBe('<table><tr><td>cell</td></tr></table><a>link</a><b>bold</b>');

    // Markdown around the HTML survives as written.
    const markdown = '> quoted & kept\n\n**a** > b\n\n<em>fine</em> <img src="x" onerror="steal()">';
    const kept = await restClient(server.baseUrl, owner.token).post(`/threat_models/${tm}/notes`, {
      name: 'Markdown',
      content: markdown,
    });
    expect(kept.body.content).toBe('> quoted & kept\n\n**a** > b\n\n<em>fine</em> <img src="x" />');
  });

  it('readers read, writers write, strangers nothing; bad input changes nothing', async () => {
    const tm = await newThreatModel();
    await restClient(server.baseUrl, writer.token).post(`/threat_models/${tm}/notes`, { name: 'Keep', content: 'x' });
    const [note] = await storedNotes(tm);
    const asReader = restClient(server.baseUrl, reader.token);
    expect((await asReader.get(`/threat_models/${tm}/notes/${note!.id}`)).status).toBe(200);
    expect((await asReader.post(`/threat_models/${tm}/notes`, { name: 'No', content: 'x' })).status).toBe(403);
    expect(
      (await asReader.patch(`/threat_models/${tm}/notes/${note!.id}`, [{ op: 'replace', path: '/name', value: 'y' }]))
        .status,
    ).toBe(403);
    const asStranger = restClient(server.baseUrl, stranger.token);
    expect((await asStranger.get(`/threat_models/${tm}/notes`)).status).toBe(403);

    const rest = restClient(server.baseUrl, owner.token);
    for (const body of [{ name: 'No content' }, { name: '', content: 'x' }, { name: 'x', content: 'y', extra: 1 }]) {
      const response = await rest.post(`/threat_models/${tm}/notes`, body);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_input');
    }
    expect(
      (await rest.patch(`/threat_models/${tm}/notes/${note!.id}`, [{ op: 'replace', path: '/alias', value: 9 }]))
        .status,
    ).toBe(400);
    expect((await storedNotes(tm)).map(({ name, alias }) => [name, alias])).toEqual([['Keep', 1]]);
  });

  it('notes carry metadata', async () => {
    const tm = await newThreatModel();
    const rest = restClient(server.baseUrl, writer.token);
    const { body: note } = await rest.post(`/threat_models/${tm}/notes`, { name: 'Meta', content: 'x' });
    const base = `/threat_models/${tm}/notes/${note.id}/metadata`;
    expect((await rest.post(base, { key: 'source', value: 'workshop' })).status).toBe(201);
    expect((await rest.get(base)).body).toEqual([{ key: 'source', value: 'workshop' }]);
    expect((await rest.get(`/threat_models/${tm}/notes/6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40/metadata`)).status).toBe(
      404,
    );
  });
});
