import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Every child of a threat model inherits the threat model's authorization, on both faces and for every
// operation: readers (also through the `everyone` group) read, writers and owners also change, and anyone
// not on the list gets 403 for reads and writes alike (the convention of test/documents.test.ts). A refused
// write changes nothing: no row, no metadata, no event.

type Model = 'threat' | 'asset' | 'document' | 'note' | 'repository';
type Access = 'none' | 'read' | 'write';
type Face = 'REST' | 'GraphQL';

interface Kind {
  collection: string;
  model: Model;
  /** GraphQL type name and plural: `threat`, `threatPage`, `createThreat`, `createThreats`, … */
  type: string;
  plural: string;
  /** The minimal valid REST body (TMI's …Input) for a child of this name. */
  input(name: string): Record<string, unknown>;
  /** POST and PUT …/bulk, with PUT's success status (TMI documents 201 for documents, 200 elsewhere). */
  bulk?: { updateStatus: number };
  /** PATCH and DELETE …/bulk (threats only), with DELETE's ids parameter. */
  bulkPatchDelete?: { idsParam: string };
}

const kinds: Kind[] = [
  {
    collection: 'threats',
    model: 'threat',
    type: 'Threat',
    plural: 'Threats',
    input: (name) => ({ name, threat_type: ['Spoofing'] }),
    bulk: { updateStatus: 200 },
    bulkPatchDelete: { idsParam: 'threat_ids' },
  },
  {
    collection: 'assets',
    model: 'asset',
    type: 'Asset',
    plural: 'Assets',
    input: (name) => ({ name, type: 'data' }),
    bulk: { updateStatus: 200 },
  },
  {
    collection: 'documents',
    model: 'document',
    type: 'Document',
    plural: 'Documents',
    input: (name) => ({ name, uri: 'https://docs.example.com/spec.pdf' }),
    bulk: { updateStatus: 201 },
  },
  {
    collection: 'notes',
    model: 'note',
    type: 'Note',
    plural: 'Notes',
    input: (name) => ({ name, content: '# Findings' }),
  },
  {
    collection: 'repositories',
    model: 'repository',
    type: 'Repository',
    plural: 'Repositories',
    input: (name) => ({ name, uri: 'https://github.com/example/service' }),
    bulk: { updateStatus: 200 },
  },
];

let server: TestServer;
const users = {} as Record<'owner' | 'writer' | 'reader' | 'stranger' | 'member', TestUser>;

beforeAll(async () => {
  server = await startTestServer();
  for (const name of ['owner', 'writer', 'reader', 'stranger', 'member'] as const) {
    users[name] = await signIn(server, `perm-${name}`);
  }
});
afterAll(async () => server?.close());

const everyone = (role: 'reader' | 'writer') => ({
  principal_type: 'group',
  provider: '*',
  provider_id: 'everyone',
  role,
});

/**
 * Who acts, how the threat model's authorization list gives them (or not) a role, and what it allows.
 * The stranger's threat model lists other users; the `member` is on no list and reaches the threat
 * model only through the `everyone` group.
 */
const roles: [string, () => TestUser, () => object[], Access][] = [
  ['owner', () => users.owner, () => [], 'write'],
  ['writer', () => users.writer, () => [userEntry(users.writer, 'writer')], 'write'],
  ['reader', () => users.reader, () => [userEntry(users.reader, 'reader')], 'read'],
  [
    'stranger',
    () => users.stranger,
    () => [userEntry(users.writer, 'writer'), userEntry(users.reader, 'reader')],
    'none',
  ],
  ['everyone (reader)', () => users.member, () => [everyone('reader')], 'read'],
  ['everyone (writer)', () => users.member, () => [everyone('writer')], 'write'],
];

const camel = (key: string) => key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const toGraphQL = (input: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(input).map(([key, value]) => [camel(key), value]));
const replaceName = (value: string) => [{ op: 'replace', path: '/name', value }];
const ids = (items: { id: string }[]) => items.map((item) => item.id);

/** The children one face works on, each used by one operation, and the metadata of `target`. */
interface Fixture {
  tm: string;
  target: { id: string; name: string };
  victim: string;
  bulkTarget: string;
  patchTarget: string;
  bulkVictims: string[];
}

async function createFixture(kind: Kind, tm: string, face: Face): Promise<Omit<Fixture, 'tm'>> {
  const rest = restClient(server.baseUrl, users.owner.token);
  const names = ['target', 'victim', 'bulk target', 'patch target', 'bulk victim 1', 'bulk victim 2'];
  const children = [];
  for (const name of names.slice(0, kind.bulkPatchDelete ? 6 : 4)) {
    const created = await rest.post(`/threat_models/${tm}/${kind.collection}`, kind.input(`${face} ${name}`));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    children.push(created.body);
  }
  const [target, victim, bulkTarget, patchTarget, ...bulkVictims] = children;
  const metadata = await rest.request('POST', `/threat_models/${tm}/${kind.collection}/${target.id}/metadata/bulk`, {
    body: [
      { key: 'k1', value: 'v1' },
      { key: 'k2', value: 'v2' },
    ],
  });
  expect(metadata.status).toBe(201);
  return {
    target: { id: target.id, name: target.name },
    victim: victim.id,
    bulkTarget: bulkTarget.id,
    patchTarget: patchTarget.id,
    bulkVictims: ids(bulkVictims),
  };
}

/** One operation on both faces: the call, the success status and what a successful answer shows. */
interface Operation {
  name: string;
  access: 'read' | 'write';
  rest(fx: Fixture): [method: string, path: string, body?: unknown];
  status: number;
  restOk(body: any, fx: Fixture): void;
  gql(fx: Fixture): [query: string, variables: Record<string, unknown>];
  gqlOk(data: any, fx: Fixture): void;
}

function operations(kind: Kind): Operation[] {
  const field = kind.type.charAt(0).toLowerCase() + kind.type.slice(1);
  const { type: T, plural: P } = kind;
  const base = (fx: Fixture) => `/threat_models/${fx.tm}/${kind.collection}`;
  const item = (fx: Fixture, id: string) => `${base(fx)}/${id}`;
  const meta = (fx: Fixture) => `${item(fx, fx.target.id)}/metadata`;
  const target = (fx: Fixture) => ({
    threatModelId: fx.tm,
    entityType: kind.model.toUpperCase(),
    entityId: fx.target.id,
  });
  const META_TARGET = '$t: MetadataTarget!';
  const named = (name: string) => (value: { id?: string; name: string }) => expect(value.name).toBe(name);

  const list: Operation[] = [
    {
      name: 'list',
      access: 'read',
      rest: (fx) => ['GET', `${base(fx)}?limit=100`],
      status: 200,
      restOk: (body, fx) => {
        expect(ids(body[kind.collection])).toContain(fx.target.id);
        expect(body).toMatchObject({ total: body[kind.collection].length, limit: 100, offset: 0 });
      },
      gql: (fx) => [
        `query($tm: ID!) { ${field}Page(threatModelId: $tm, limit: 100) { items { id } total } }`,
        { tm: fx.tm },
      ],
      gqlOk: (data, fx) => expect(ids(data[`${field}Page`].items)).toContain(fx.target.id),
    },
    {
      name: 'get',
      access: 'read',
      rest: (fx) => ['GET', item(fx, fx.target.id)],
      status: 200,
      restOk: (body, fx) => expect(body).toMatchObject(fx.target),
      gql: (fx) => [
        `query($tm: ID!, $id: ID!) { ${field}(threatModelId: $tm, id: $id) { id name } }`,
        { tm: fx.tm, id: fx.target.id },
      ],
      gqlOk: (data, fx) => expect(data[field]).toEqual(fx.target),
    },
    {
      name: 'metadata list',
      access: 'read',
      rest: (fx) => ['GET', meta(fx)],
      status: 200,
      restOk: (body) =>
        expect(body).toEqual([
          { key: 'k1', value: 'v1' },
          { key: 'k2', value: 'v2' },
        ]),
      gql: (fx) => [`query(${META_TARGET}) { metadata(target: $t) { key value } }`, { t: target(fx) }],
      gqlOk: (data) =>
        expect(data.metadata).toEqual([
          { key: 'k1', value: 'v1' },
          { key: 'k2', value: 'v2' },
        ]),
    },
    {
      name: 'metadata get',
      access: 'read',
      rest: (fx) => ['GET', `${meta(fx)}/k1`],
      status: 200,
      restOk: (body) => expect(body).toEqual({ key: 'k1', value: 'v1' }),
      gql: (fx) => [`query(${META_TARGET}) { metadataEntry(target: $t, key: "k1") { key value } }`, { t: target(fx) }],
      gqlOk: (data) => expect(data.metadataEntry).toEqual({ key: 'k1', value: 'v1' }),
    },
    {
      name: 'metadata create',
      access: 'write',
      rest: (fx) => ['POST', meta(fx), { key: 'k3', value: 'v3' }],
      status: 201,
      restOk: (body) => expect(body).toEqual({ key: 'k3', value: 'v3' }),
      gql: (fx) => [
        `mutation(${META_TARGET}) { createMetadata(target: $t, input: { key: "k3", value: "v3" }) { key value } }`,
        { t: target(fx) },
      ],
      gqlOk: (data) => expect(data.createMetadata).toEqual({ key: 'k3', value: 'v3' }),
    },
    {
      name: 'metadata put',
      access: 'write',
      rest: (fx) => ['PUT', `${meta(fx)}/k1`, { value: 'changed' }],
      status: 200,
      restOk: (body) => expect(body).toEqual({ key: 'k1', value: 'changed' }),
      gql: (fx) => [
        `mutation(${META_TARGET}) { updateMetadata(target: $t, key: "k1", value: "changed") { key value } }`,
        { t: target(fx) },
      ],
      gqlOk: (data) => expect(data.updateMetadata).toEqual({ key: 'k1', value: 'changed' }),
    },
    {
      name: 'metadata delete',
      access: 'write',
      rest: (fx) => ['DELETE', `${meta(fx)}/k2`],
      status: 204,
      restOk: (body) => expect(body).toBeUndefined(),
      gql: (fx) => [`mutation(${META_TARGET}) { deleteMetadata(target: $t, key: "k2") }`, { t: target(fx) }],
      gqlOk: (data) => expect(data.deleteMetadata).toBe('k2'),
    },
    {
      name: 'create',
      access: 'write',
      rest: (fx) => ['POST', base(fx), kind.input('Created')],
      status: 201,
      restOk: named('Created'),
      gql: (fx) => [
        `mutation($tm: ID!, $input: ${T}Input!) { create${T}(threatModelId: $tm, input: $input) { id name } }`,
        { tm: fx.tm, input: toGraphQL(kind.input('Created')) },
      ],
      gqlOk: (data) => named('Created')(data[`create${T}`]),
    },
    {
      name: 'update (PUT)',
      access: 'write',
      rest: (fx) => ['PUT', item(fx, fx.target.id), kind.input('Replaced')],
      status: 200,
      restOk: (body, fx) => expect(body).toMatchObject({ id: fx.target.id, name: 'Replaced' }),
      gql: (fx) => [
        `mutation($tm: ID!, $id: ID!, $input: ${T}Input!) { update${T}(threatModelId: $tm, id: $id, input: $input) { id name } }`,
        { tm: fx.tm, id: fx.target.id, input: toGraphQL(kind.input('Replaced')) },
      ],
      gqlOk: (data, fx) => expect(data[`update${T}`]).toEqual({ id: fx.target.id, name: 'Replaced' }),
    },
    {
      name: 'patch',
      access: 'write',
      rest: (fx) => ['PATCH', item(fx, fx.target.id), replaceName('Patched')],
      status: 200,
      restOk: (body, fx) => expect(body).toMatchObject({ id: fx.target.id, name: 'Patched' }),
      gql: (fx) => [
        `mutation($tm: ID!, $id: ID!, $ops: [JsonPatchOperationInput!]!) { patch${T}(threatModelId: $tm, id: $id, operations: $ops) { id name } }`,
        { tm: fx.tm, id: fx.target.id, ops: replaceName('Patched') },
      ],
      gqlOk: (data, fx) => expect(data[`patch${T}`]).toEqual({ id: fx.target.id, name: 'Patched' }),
    },
  ];
  if (kind.bulk) {
    const status = kind.bulk.updateStatus;
    list.push(
      {
        name: 'bulk create',
        access: 'write',
        rest: (fx) => ['POST', `${base(fx)}/bulk`, [kind.input('Bulk 1'), kind.input('Bulk 2')]],
        status: 201,
        restOk: (body) => expect(body.map((x: { name: string }) => x.name)).toEqual(['Bulk 1', 'Bulk 2']),
        gql: (fx) => [
          `mutation($tm: ID!, $inputs: [${T}Input!]!) { create${P}(threatModelId: $tm, inputs: $inputs) { id name } }`,
          { tm: fx.tm, inputs: [toGraphQL(kind.input('Bulk 1')), toGraphQL(kind.input('Bulk 2'))] },
        ],
        gqlOk: (data) => expect(data[`create${P}`].map((x: { name: string }) => x.name)).toEqual(['Bulk 1', 'Bulk 2']),
      },
      {
        name: 'bulk update',
        access: 'write',
        rest: (fx) => ['PUT', `${base(fx)}/bulk`, [{ ...kind.input('Bulk updated'), id: fx.bulkTarget }]],
        status,
        restOk: (body, fx) => expect(body).toMatchObject([{ id: fx.bulkTarget, name: 'Bulk updated' }]),
        gql: (fx) => [
          `mutation($tm: ID!, $inputs: [${T}UpdateInput!]!) { update${P}(threatModelId: $tm, inputs: $inputs) { id name } }`,
          { tm: fx.tm, inputs: [{ ...toGraphQL(kind.input('Bulk updated')), id: fx.bulkTarget }] },
        ],
        gqlOk: (data, fx) => expect(data[`update${P}`]).toEqual([{ id: fx.bulkTarget, name: 'Bulk updated' }]),
      },
    );
  }
  if (kind.bulkPatchDelete) {
    const { idsParam } = kind.bulkPatchDelete;
    list.push(
      {
        name: 'bulk patch',
        access: 'write',
        rest: (fx) => [
          'PATCH',
          `${base(fx)}/bulk`,
          { patches: [{ id: fx.patchTarget, operations: replaceName('Bulk patched') }] },
        ],
        status: 200,
        restOk: (body, fx) => expect(body).toMatchObject([{ id: fx.patchTarget, name: 'Bulk patched' }]),
        gql: (fx) => [
          `mutation($tm: ID!, $patches: [BulkPatchItemInput!]!) { patch${P}(threatModelId: $tm, patches: $patches) { id name } }`,
          { tm: fx.tm, patches: [{ id: fx.patchTarget, operations: replaceName('Bulk patched') }] },
        ],
        gqlOk: (data, fx) => expect(data[`patch${P}`]).toEqual([{ id: fx.patchTarget, name: 'Bulk patched' }]),
      },
      {
        name: 'bulk delete',
        access: 'write',
        rest: (fx) => ['DELETE', `${base(fx)}/bulk?${idsParam}=${fx.bulkVictims.join(',')}`],
        status: 200,
        restOk: (body, fx) => expect(body).toEqual({ deleted_count: 2, deleted_ids: fx.bulkVictims }),
        gql: (fx) => [
          `mutation($tm: ID!, $ids: [ID!]!) { delete${P}(threatModelId: $tm, ids: $ids) }`,
          { tm: fx.tm, ids: fx.bulkVictims },
        ],
        gqlOk: (data, fx) => expect(data[`delete${P}`]).toEqual(fx.bulkVictims),
      },
    );
  }
  list.push({
    name: 'delete',
    access: 'write',
    rest: (fx) => ['DELETE', item(fx, fx.victim)],
    status: 204,
    restOk: (body) => expect(body).toBeUndefined(),
    gql: (fx) => [
      `mutation($tm: ID!, $id: ID!) { delete${T}(threatModelId: $tm, id: $id) }`,
      { tm: fx.tm, id: fx.victim },
    ],
    gqlOk: (data, fx) => expect(data[`delete${T}`]).toBe(fx.victim),
  });
  return list;
}

/** Everything under the threat model that a refused write must leave alone: rows, metadata, events. */
async function snapshot(kind: Kind, tm: string) {
  const prisma = server.deps.db.prisma;
  const delegate = prisma[kind.model] as unknown as { findMany(args: object): Promise<unknown[]> };
  return {
    rows: await delegate.findMany({
      where: { threatModelId: tm },
      orderBy: { alias: 'asc' },
      include: { metadata: { orderBy: { key: 'asc' } } },
    }),
    events: await prisma.domainEvent.count({ where: { threatModelId: tm } }),
  };
}

function expectForbidden(face: Face, response: RestResponse | GraphQLResponse, label: string) {
  if (face === 'REST') {
    const { status, body } = response as RestResponse;
    expect([status, body?.error], `${label}: ${JSON.stringify(body)}`).toEqual([403, 'access_denied']);
    expect(typeof body.error_description, label).toBe('string');
  } else {
    const { errors, data } = response as GraphQLResponse;
    expect(errors?.[0]?.extensions, `${label}: ${JSON.stringify(errors)}`).toMatchObject({
      code: 'INSUFFICIENT_PERMISSIONS',
      status: 403,
      tmi: { error: 'access_denied' },
    });
    expect(data ?? null, label).toBeNull();
  }
}

describe.each(kinds)('$collection', (kind) => {
  const fixtures = new Map<string, Fixture>();
  const ops = operations(kind);

  beforeAll(async () => {
    await Promise.all(
      roles.map(async ([role, , authorization]) => {
        const rest = restClient(server.baseUrl, users.owner.token);
        const created = await rest.post('/threat_models', {
          name: `${kind.collection} as ${role}`,
          authorization: authorization(),
        });
        expect(created.status).toBe(201);
        const tm = created.body.id as string;
        for (const face of ['REST', 'GraphQL'] as const) {
          fixtures.set(`${role}/${face}`, { tm, ...(await createFixture(kind, tm, face)) });
        }
      }),
    );
  });

  describe.each(roles)('%s', (role, user, _authorization, access) => {
    it.each(['REST', 'GraphQL'] as const)(`%s: ${ops.map((op) => op.name).join(', ')}`, async (face) => {
      const fx = fixtures.get(`${role}/${face}`)!;
      const before = await snapshot(kind, fx.tm);
      const [rest, gql] = [restClient(server.baseUrl, user().token), graphqlClient(server.baseUrl, user().token)];
      for (const op of ops) {
        const allowed = op.access === 'read' ? access !== 'none' : access === 'write';
        const label = `${face} ${op.name}`;
        if (face === 'REST') {
          const [method, path, body] = op.rest(fx);
          const response = await rest.request(method, path, {
            body,
            contentType: method === 'PATCH' ? 'application/json-patch+json' : undefined,
          });
          if (!allowed) expectForbidden(face, response, label);
          else {
            expect(response.status, `${label}: ${JSON.stringify(response.body)}`).toBe(op.status);
            op.restOk(response.body, fx);
          }
        } else {
          const [query, variables] = op.gql(fx);
          const response = await gql(query, variables);
          if (!allowed) expectForbidden(face, response, label);
          else {
            expect(response.errors, label).toBeUndefined();
            op.gqlOk(response.data, fx);
          }
        }
      }

      const after = await snapshot(kind, fx.tm);
      if (access === 'write') {
        // The writes happened: the victims are gone, the target changed, and each change is an event.
        const rows = after.rows as { id: string; name: string; metadata: { key: string; value: string }[] }[];
        const gone = [fx.victim, ...(kind.bulkPatchDelete ? fx.bulkVictims : [])];
        expect(ids(rows).filter((id) => gone.includes(id))).toEqual([]);
        const target = rows.find((row) => row.id === fx.target.id)!;
        expect(target.name).toBe('Patched');
        expect(target.metadata.map(({ key, value }) => [key, value])).toEqual([
          ['k1', 'changed'],
          ['k3', 'v3'],
        ]);
        expect(after.events).toBeGreaterThan(before.events);
      } else {
        expect(after).toEqual(before);
      }
    });
  });
});
