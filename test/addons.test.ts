import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlClient, restClient, type GraphQLResponse, type RestResponse } from './helpers/clients.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { signIn, type TestUser, userEntry } from './helpers/users.js';

// Add-ons (TMI's /addons) on both faces: registration by administrators with TMI's validation, the list
// and its threat-model filter, invocation as an `addon.invoked` webhook delivery with the declared
// parameters checked, and deletion refused while invocations are active. The server runs without
// workers, so deliveries stay pending.

const UNKNOWN = '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40';
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const TMI_ERROR: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'access_denied',
  404: 'not_found',
  409: 'conflict',
};
const ADDON = `id name webhookId description icon objects threatModelId createdAt
  parameters { name type description required enumValues defaultValue metadataKey numberMin numberMax
    stringMaxLength stringValidationRegex }`;
const OP = {
  create: `mutation($input: AddonInput!) { createAddon(input: $input) { ${ADDON} } }`,
  get: `query($id: ID!) { addon(id: $id) { ${ADDON} } }`,
  page: `query($tm: ID, $limit: Int, $offset: Int) {
    addonPage(threatModelId: $tm, limit: $limit, offset: $offset) { items { id name } total limit offset } }`,
  connection: `query($tm: ID, $first: Int, $after: String) {
    addons(threatModelId: $tm, first: $first, after: $after) {
      totalCount edges { node { id name } } pageInfo { hasNextPage endCursor } } }`,
  delete: `mutation($id: ID!) { deleteAddon(id: $id) }`,
  invoke: `mutation($id: ID!, $input: InvokeAddonInput!) { invokeAddon(id: $id, input: $input) { deliveryId status createdAt } }`,
};

let server: TestServer;
let admin: TestUser;
let owner: TestUser;
let reader: TestUser;
let stranger: TestUser;
let webhookId: string;
let threatModel: string;

const restAs = (user?: TestUser) => restClient(server.baseUrl, user?.token);
const gqlAs = (user?: TestUser) => graphqlClient(server.baseUrl, user?.token);
const gqlError = (response: GraphQLResponse) => response.errors?.[0]?.extensions;
const prisma = () => server.deps.db.prisma;

function expectError(response: RestResponse, status: number) {
  expect([response.status, response.body?.error], JSON.stringify(response.body)).toEqual([status, TMI_ERROR[status]]);
  expect(typeof response.body.error_description).toBe('string');
}

async function signInAdmin(hint: string): Promise<TestUser> {
  const user = await signIn(server, hint);
  await prisma().user.update({ where: { id: user.id }, data: { isAdmin: true } });
  return signIn(server, hint);
}

async function newSubscription(status = 'active'): Promise<string> {
  const subscription = await prisma().webhookSubscription.create({
    data: {
      ownerId: admin.id,
      name: 'Add-on receiver',
      url: 'http://127.0.0.1:9/addon',
      events: ['addon.invoked'],
      secret: 'a-test-secret-of-32-characters!!',
      status,
    },
  });
  return subscription.id;
}

async function newThreatModel(name = 'Invoked on'): Promise<string> {
  const response = await restAs(owner).post('/threat_models', { name, authorization: [userEntry(reader, 'reader')] });
  expect(response.status).toBe(201);
  return response.body.id;
}

async function createAddon(fields: Record<string, unknown> = {}): Promise<any> {
  const response = await restAs(admin).post('/addons', { name: 'STRIDE Analyzer', webhook_id: webhookId, ...fields });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

beforeAll(async () => {
  server = await startTestServer({ TMI_ROLES: 'api' });
  admin = await signInAdmin('addon-admin');
  owner = await signIn(server, 'addon-owner');
  reader = await signIn(server, 'addon-reader');
  stranger = await signIn(server, 'addon-stranger');
  webhookId = await newSubscription();
  threatModel = await newThreatModel();
});
afterAll(async () => server?.close());

describe('registering an add-on', () => {
  it('an administrator registers one (201, AddonResponse) and both faces read it back', async () => {
    const parameters = [
      {
        name: 'scan_model',
        type: 'enum',
        description: 'Model to use',
        required: true,
        enum_values: ['claude-sonnet', 'claude-opus'],
        default_value: 'claude-sonnet',
      },
      { name: 'verbose', type: 'boolean', default_value: 'true' },
      { name: 'depth', type: 'number', number_min: 1, number_max: 5 },
      { name: 'ticket', type: 'string', string_max_length: 12, string_validation_regex: '^SEC-[0-9]+$' },
      { name: 'owner_key', type: 'metadata_key', metadata_key: 'team.owner' },
    ];
    const created = await createAddon({
      description: 'Automated STRIDE analysis',
      icon: 'material-symbols:security',
      objects: ['threat_model', 'asset', 'asset'],
      threat_model_id: threatModel,
      parameters,
    });
    expect(created).toEqual({
      id: UUID,
      name: 'STRIDE Analyzer',
      webhook_id: webhookId,
      description: 'Automated STRIDE analysis',
      icon: 'material-symbols:security',
      objects: ['threat_model', 'asset'],
      threat_model_id: threatModel,
      created_at: ISO,
      parameters: [
        { ...parameters[0] },
        { ...parameters[1], required: false },
        { ...parameters[2], required: false },
        { ...parameters[3], required: false },
        { ...parameters[4], required: false },
      ],
    });
    expect((await restAs(reader).get(`/addons/${created.id}`)).body).toEqual(created);

    const gql = await gqlAs(reader)(OP.get, { id: created.id });
    expect(gql.errors).toBeUndefined();
    expect(gql.data.addon).toMatchObject({
      id: created.id,
      webhookId,
      objects: ['THREAT_MODEL', 'ASSET'],
      parameters: [
        { name: 'scan_model', type: 'ENUM', required: true, enumValues: ['claude-sonnet', 'claude-opus'] },
        { name: 'verbose', type: 'BOOLEAN', required: false, enumValues: null },
        { name: 'depth', type: 'NUMBER', numberMin: 1, numberMax: 5 },
        { name: 'ticket', type: 'STRING', stringMaxLength: 12, stringValidationRegex: '^SEC-[0-9]+$' },
        { name: 'owner_key', type: 'METADATA_KEY', metadataKey: 'team.owner' },
      ],
    });
  });

  it('GraphQL createAddon takes the same input (a FontAwesome icon, no scope)', async () => {
    const response = await gqlAs(admin)(OP.create, {
      input: { name: 'Report', webhookId, icon: 'fa-solid fa-file-pdf', objects: ['DIAGRAM'] },
    });
    expect(response.errors).toBeUndefined();
    expect(response.data.createAddon).toMatchObject({
      name: 'Report',
      icon: 'fa-solid fa-file-pdf',
      objects: ['DIAGRAM'],
      threatModelId: null,
      parameters: [],
    });
  });

  it('only administrators register add-ons (403; 401 without credentials)', async () => {
    const body = { name: 'Nope', webhook_id: webhookId };
    expectError(await restAs(owner).post('/addons', body), 403);
    expectError(await restAs().post('/addons', body), 401);
    const gql = await gqlAs(owner)(OP.create, { input: { name: 'Nope', webhookId } });
    expect(gqlError(gql)).toMatchObject({ code: 'ADMIN_REQUIRED', status: 403 });
    expect(await prisma().addon.count({ where: { name: 'Nope' } })).toBe(0);
  });

  it("the webhook subscription and the threat model must exist (404, TMI's body)", async () => {
    const noWebhook = await restAs(admin).post('/addons', { name: 'Lost', webhook_id: UNKNOWN });
    expectError(noWebhook, 404);
    expect(noWebhook.body.details.context).toEqual({ resource_type: 'webhook_subscription', resource_id: UNKNOWN });
    expectError(
      await restAs(admin).post('/addons', { name: 'Lost', webhook_id: webhookId, threat_model_id: UNKNOWN }),
      404,
    );
    const gql = await gqlAs(admin)(OP.create, { input: { name: 'Lost', webhookId: UNKNOWN } });
    expect(gqlError(gql)).toMatchObject({ code: 'RESOURCE_NOT_FOUND', status: 404 });
  });

  it.each([
    ['an empty name', { name: '  ' }, 'name'],
    ['a name over 255 characters', { name: 'n'.repeat(256) }, 'name'],
    ['markup in the name', { name: '<script>' }, 'name'],
    ['an icon in neither form', { icon: 'https://example.com/icon.svg' }, 'icon'],
    ['an unknown object type', { objects: ['threat_model', 'spaceship'] }, 'objects'],
    ['a webhook id that is no UUID', { webhook_id: 'not-a-uuid' }, 'webhook_id'],
    ['an unknown field', { colour: 'red' }, 'colour'],
    ['an enum parameter without values', { parameters: [{ name: 'm', type: 'enum' }] }, 'parameters.0.enum_values'],
    [
      'number_min above number_max',
      { parameters: [{ name: 'n', type: 'number', number_min: 5, number_max: 1 }] },
      'parameters.0.number_min',
    ],
    [
      'a regex that does not compile',
      { parameters: [{ name: 's', type: 'string', string_validation_regex: '([a-z' }] },
      'parameters.0.string_validation_regex',
    ],
    [
      'duplicate parameter names',
      {
        parameters: [
          { name: 'p', type: 'string' },
          { name: 'p', type: 'boolean' },
        ],
      },
      'parameters.1.name',
    ],
    ['a parameter name starting with a digit', { parameters: [{ name: '1p', type: 'string' }] }, 'parameters.0.name'],
    ['an unknown parameter type', { parameters: [{ name: 'p', type: 'date' }] }, 'AddonParameterType'],
    [
      'a default outside the enum',
      { parameters: [{ name: 'p', type: 'enum', enum_values: ['a'], default_value: 'b' }] },
      'parameters.0.default_value',
    ],
    [
      '21 parameters',
      { parameters: Array.from({ length: 21 }, (_, i) => ({ name: `p${i}`, type: 'string' })) },
      'parameters',
    ],
  ])('refuses %s (400)', async (_case, fields, field) => {
    const response = await restAs(admin).post('/addons', { name: 'Checked', webhook_id: webhookId, ...fields });
    expectError(response, 400);
    expect(JSON.stringify(response.body)).toContain(field);
  });

  it('refuses the same mistakes on GraphQL (VALIDATION_FAILED)', async () => {
    const response = await gqlAs(admin)(OP.create, {
      input: { name: 'Checked', webhookId, parameters: [{ name: 'n', type: 'NUMBER', numberMin: 5, numberMax: 1 }] },
    });
    expect(gqlError(response)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(response.errors?.[0]?.message).toContain('parameters.0.numberMin');
  });
});

describe('listing add-ons', () => {
  let listed: TestServer;
  let other: TestUser;

  beforeAll(async () => {
    // A tenant of its own, so the counts are exact.
    listed = await startTestServer({ TMI_ROLES: 'api' });
  });
  afterAll(async () => listed?.close());

  it("pages newest first, filters by threat model (its add-ons and the global ones), and hides others' scoped add-ons", async () => {
    const rest = (user: TestUser) => restClient(listed.baseUrl, user.token);
    const local = await signIn(listed, 'list-admin');
    await listed.deps.db.prisma.user.update({ where: { id: local.id }, data: { isAdmin: true } });
    const localAdmin = await signIn(listed, 'list-admin');
    const tmOwner = await signIn(listed, 'list-owner');
    other = await signIn(listed, 'list-other');
    const subscription = await listed.deps.db.prisma.webhookSubscription.create({
      data: {
        ownerId: localAdmin.id,
        name: 'hook',
        url: 'http://127.0.0.1:9/x',
        events: ['addon.invoked'],
        secret: 's'.repeat(32),
      },
    });
    const tm = (await rest(tmOwner).post('/threat_models', { name: 'Scoped' })).body.id;
    const otherTm = (await rest(other).post('/threat_models', { name: 'Elsewhere' })).body.id;
    const names: string[] = [];
    for (const [name, scope] of [
      ['global-1', undefined],
      ['scoped-1', tm],
      ['global-2', undefined],
      ['elsewhere-1', otherTm],
    ] as const) {
      const response = await rest(localAdmin).post('/addons', {
        name,
        webhook_id: subscription.id,
        ...(scope ? { threat_model_id: scope } : {}),
      });
      expect(response.status).toBe(201);
      names.push(name);
    }

    const all = await rest(localAdmin).get('/addons');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ total: 4, limit: 20, offset: 0 });
    expect(all.body.addons.map((a: any) => a.name)).toEqual([...names].reverse());

    const page = await rest(localAdmin).get('/addons?limit=2&offset=1');
    expect(page.body).toMatchObject({ total: 4, limit: 2, offset: 1 });
    expect(page.body.addons.map((a: any) => a.name)).toEqual(['global-2', 'scoped-1']);

    const filtered = await rest(tmOwner).get(`/addons?threat_model_id=${tm}`);
    expect(filtered.body.addons.map((a: any) => a.name).sort()).toEqual(['global-1', 'global-2', 'scoped-1']);
    expect(filtered.body.total).toBe(3);

    // The owner of the first threat model cannot read the other one: its add-on does not exist for them.
    const mine = await rest(tmOwner).get('/addons');
    expect(mine.body.addons.map((a: any) => a.name).sort()).toEqual(['global-1', 'global-2', 'scoped-1']);
    const hidden = all.body.addons.find((a: any) => a.name === 'elsewhere-1');
    expectError(await rest(tmOwner).get(`/addons/${hidden.id}`), 404);
    const theirs = await rest(tmOwner).get(`/addons?threat_model_id=${otherTm}`);
    expect(theirs.body.addons.map((a: any) => a.name).sort()).toEqual(['global-1', 'global-2']);

    const gql = graphqlClient(listed.baseUrl, tmOwner.token);
    const offsetPage = await gql(OP.page, { tm, limit: 2, offset: 0 });
    expect(offsetPage.data.addonPage).toMatchObject({ total: 3, limit: 2, offset: 0 });
    const first = await gql(OP.connection, { tm, first: 2 });
    expect(first.errors).toBeUndefined();
    expect(first.data.addons.totalCount).toBe(3);
    expect(first.data.addons.pageInfo.hasNextPage).toBe(true);
    const second = await gql(OP.connection, { tm, first: 2, after: first.data.addons.pageInfo.endCursor });
    const seen = [...first.data.addons.edges, ...second.data.addons.edges].map((e: any) => e.node.name);
    expect(seen).toEqual(['global-2', 'scoped-1', 'global-1']);
  });

  it('checks the paging parameters (400) and needs credentials (401)', async () => {
    const rest = restClient(listed.baseUrl, other.token);
    expectError(await rest.get('/addons?limit=0'), 400);
    expectError(await rest.get('/addons?limit=101'), 400);
    expectError(await rest.get('/addons?offset=-1'), 400);
    expectError(await rest.get('/addons?threat_model_id=nope'), 400);
    expectError(await restClient(listed.baseUrl).get('/addons'), 401);
  });
});

describe('reading and deleting add-ons', () => {
  it('answers 404 for unknown ids and 400 for ids that are no UUID', async () => {
    expectError(await restAs(reader).get(`/addons/${UNKNOWN}`), 404);
    expectError(await restAs(reader).get('/addons/not-a-uuid'), 400);
    expectError(await restAs(admin).delete(`/addons/${UNKNOWN}`), 404);
    expect(gqlError(await gqlAs(reader)(OP.get, { id: UNKNOWN }))).toMatchObject({ code: 'RESOURCE_NOT_FOUND' });
  });

  it('only administrators delete; deletion waits until no invocation is pending or in progress (409)', async () => {
    const addon = await createAddon({ name: 'Deletable' });
    expectError(await restAs(owner).delete(`/addons/${addon.id}`), 403);
    expect(gqlError(await gqlAs(owner)(OP.delete, { id: addon.id }))).toMatchObject({ code: 'ADMIN_REQUIRED' });

    const invoked = await restAs(reader).post(`/addons/${addon.id}/invoke`, { threat_model_id: threatModel });
    expect(invoked.status).toBe(202);
    const blocked = await restAs(admin).delete(`/addons/${addon.id}`);
    expectError(blocked, 409);
    expect(blocked.body.details.context).toMatchObject({ addon_id: addon.id, active_invocations: 1 });
    expect(gqlError(await gqlAs(admin)(OP.delete, { id: addon.id }))).toMatchObject({ code: 'CONFLICT', status: 409 });

    await prisma().webhookDelivery.update({ where: { id: invoked.body.delivery_id }, data: { status: 'in_progress' } });
    expectError(await restAs(admin).delete(`/addons/${addon.id}`), 409);

    await prisma().webhookDelivery.update({ where: { id: invoked.body.delivery_id }, data: { status: 'delivered' } });
    const deleted = await restAs(admin).delete(`/addons/${addon.id}`);
    expect(deleted.status).toBe(204);
    expectError(await restAs(reader).get(`/addons/${addon.id}`), 404);
    // Its past invocations outlive it.
    expect(await prisma().webhookDelivery.count({ where: { id: invoked.body.delivery_id } })).toBe(1);
  });

  it('GraphQL deleteAddon returns the id', async () => {
    const addon = await createAddon({ name: 'Deleted on GraphQL' });
    const response = await gqlAs(admin)(OP.delete, { id: addon.id });
    expect(response.data?.deleteAddon).toBe(addon.id);
  });

  it('deleting the webhook subscription deletes its add-ons', async () => {
    const subscription = await newSubscription();
    const addon = await restAs(admin).post('/addons', { name: 'Goes with its webhook', webhook_id: subscription });
    await prisma().webhookSubscription.delete({ where: { id: subscription } });
    expectError(await restAs(admin).get(`/addons/${addon.body.id}`), 404);
  });
});

describe('invoking an add-on', () => {
  let addon: any;

  beforeAll(async () => {
    addon = await createAddon({
      name: 'Parameterised',
      objects: ['threat_model', 'asset'],
      parameters: [
        { name: 'mode', type: 'enum', required: true, enum_values: ['quick', 'full'] },
        { name: 'verbose', type: 'boolean' },
        { name: 'depth', type: 'number', number_min: 1, number_max: 5 },
        { name: 'ticket', type: 'string', string_max_length: 12, string_validation_regex: '^SEC-[0-9]+$' },
      ],
    });
  });

  /** Each invocation counts against the invoker's quota: finish it so later tests start clean. */
  async function finish(deliveryId: string) {
    await prisma().webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'delivered' } });
  }

  it("creates a pending addon.invoked delivery to the add-on's webhook (202, InvokeAddonResponse)", async () => {
    const asset = UNKNOWN;
    const response = await restAs(reader).post(`/addons/${addon.id}/invoke`, {
      threat_model_id: threatModel,
      object_type: 'asset',
      object_id: asset,
      data: { mode: 'full', verbose: true, depth: 3, ticket: 'SEC-42', extra: { kept: ['as', 'sent'] } },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    expect(response.body).toEqual({ delivery_id: UUID, status: 'pending', created_at: ISO });

    const delivery = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: response.body.delivery_id } });
    expect(delivery).toMatchObject({
      subscriptionId: webhookId,
      eventType: 'addon.invoked',
      threatModelId: threatModel,
      objectType: 'asset',
      objectId: asset,
      status: 'pending',
      addonId: addon.id,
      invokedById: reader.id,
    });
    expect(delivery.createdAt.toISOString()).toBe(response.body.created_at);
    expect(delivery.payload).toEqual({
      event_type: 'addon.invoked',
      threat_model_id: threatModel,
      object_type: 'asset',
      object_id: asset,
      timestamp: response.body.created_at,
      data: {
        addon_id: addon.id,
        user_data: { mode: 'full', verbose: true, depth: 3, ticket: 'SEC-42', extra: { kept: ['as', 'sent'] } },
      },
    });
    await finish(delivery.id);
  });

  it('GraphQL invokeAddon does the same', async () => {
    const response = await gqlAs(owner)(OP.invoke, {
      id: addon.id,
      input: { threatModelId: threatModel, objectType: 'THREAT_MODEL', objectId: threatModel, data: { mode: 'quick' } },
    });
    expect(response.errors).toBeUndefined();
    expect(response.data.invokeAddon).toEqual({ deliveryId: UUID, status: 'PENDING', createdAt: ISO });
    const delivery = await prisma().webhookDelivery.findUniqueOrThrow({
      where: { id: response.data.invokeAddon.deliveryId },
    });
    expect(delivery.payload).toMatchObject({
      event_type: 'addon.invoked',
      object_type: 'threat_model',
      data: { addon_id: addon.id, user_data: { mode: 'quick' } },
    });
    expect(delivery.invokedById).toBe(owner.id);
    await finish(delivery.id);
  });

  it.each([
    ['a missing required parameter', { verbose: true }, 'data.mode: is required'],
    ['a required parameter given as null', { mode: null }, 'data.mode: is required'],
    ['a value outside the enum', { mode: 'thorough' }, 'data.mode: must be one of: quick, full'],
    ['a boolean given as a string', { mode: 'quick', verbose: 'yes' }, 'data.verbose: must be true or false'],
    ['a number below its minimum', { mode: 'quick', depth: 0 }, 'data.depth: must be at least 1'],
    ['a number above its maximum', { mode: 'quick', depth: 6 }, 'data.depth: must be at most 5'],
    ['a number given as a string', { mode: 'quick', depth: '3' }, 'data.depth: must be a number'],
    [
      'a string over its maximum length',
      { mode: 'quick', ticket: 'SEC-1234567890' },
      'data.ticket: must be at most 12',
    ],
    ['a string not matching its pattern', { mode: 'quick', ticket: 'OPS-1' }, 'data.ticket: must match'],
  ])('refuses %s (400)', async (_case, data, message) => {
    const response = await restAs(reader).post(`/addons/${addon.id}/invoke`, { threat_model_id: threatModel, data });
    expectError(response, 400);
    expect(response.body.error_description).toContain(message);
    expect(response.body.details.context.field_errors[0].field).toMatch(/^data\./);
  });

  it('refuses data over 1 KB as JSON (400), and data that is no object', async () => {
    const big = { mode: 'quick', filler: 'x'.repeat(1024 - JSON.stringify({ mode: 'quick', filler: '' }).length) };
    expect(Buffer.byteLength(JSON.stringify(big))).toBe(1024);
    const atLimit = await restAs(reader).post(`/addons/${addon.id}/invoke`, {
      threat_model_id: threatModel,
      data: big,
    });
    expect(atLimit.status).toBe(202);
    await finish(atLimit.body.delivery_id);

    const over = { ...big, filler: `${big.filler}x` };
    const tooBig = await restAs(reader).post(`/addons/${addon.id}/invoke`, {
      threat_model_id: threatModel,
      data: over,
    });
    expectError(tooBig, 400);
    expect(tooBig.body.error_description).toContain('1024 bytes');
    const gql = await gqlAs(reader)(OP.invoke, { id: addon.id, input: { threatModelId: threatModel, data: over } });
    expect(gqlError(gql)).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });

    expectError(
      await restAs(reader).post(`/addons/${addon.id}/invoke`, { threat_model_id: threatModel, data: ['mode'] }),
      400,
    );
  });

  it('checks the request: threat_model_id required, object type among the add-on objects, no unknown fields', async () => {
    const invoke = (body: unknown) => restAs(reader).post(`/addons/${addon.id}/invoke`, body);
    expectError(await invoke({ data: { mode: 'quick' } }), 400);
    const wrongObject = await invoke({ threat_model_id: threatModel, object_type: 'diagram', data: { mode: 'quick' } });
    expectError(wrongObject, 400);
    expect(wrongObject.body.error_description).toContain('threat_model, asset');
    expectError(await invoke({ threat_model_id: threatModel, object_type: 'spaceship', data: { mode: 'quick' } }), 400);
    expectError(await invoke({ threat_model_id: threatModel, object_id: 'nope', data: { mode: 'quick' } }), 400);
    expectError(await invoke({ threat_model_id: threatModel, callback: 'x', data: { mode: 'quick' } }), 400);
    expect(await prisma().webhookDelivery.count({ where: { addonId: addon.id, status: 'pending' } })).toBe(0);
  });

  it('needs read access to the threat model: a stranger or an unknown threat model gets 404', async () => {
    const body = { threat_model_id: threatModel, data: { mode: 'quick' } };
    expectError(await restAs(stranger).post(`/addons/${addon.id}/invoke`, body), 404);
    expectError(await restAs(reader).post(`/addons/${addon.id}/invoke`, { ...body, threat_model_id: UNKNOWN }), 404);
    expectError(await restAs(reader).post(`/addons/${UNKNOWN}/invoke`, body), 404);
    expectError(await restAs().post(`/addons/${addon.id}/invoke`, body), 401);
    const gql = await gqlAs(stranger)(OP.invoke, { id: addon.id, input: { threatModelId: threatModel } });
    expect(gqlError(gql)).toMatchObject({ code: 'RESOURCE_NOT_FOUND', status: 404 });
  });

  it('a scoped add-on is invoked on its own threat model only (400 elsewhere)', async () => {
    const scoped = await createAddon({ name: 'Scoped', threat_model_id: threatModel });
    const elsewhere = await newThreatModel('Another');
    const refused = await restAs(owner).post(`/addons/${scoped.id}/invoke`, { threat_model_id: elsewhere });
    expectError(refused, 400);
    expect(refused.body.details.context.field_errors).toEqual([
      { field: 'threat_model_id', error: 'this add-on is scoped to another threat model' },
    ]);
    const accepted = await restAs(owner).post(`/addons/${scoped.id}/invoke`, { threat_model_id: threatModel });
    expect(accepted.status).toBe(202);
    await finish(accepted.body.delivery_id);
  });

  it("refuses an add-on whose webhook subscription is not active (409, the subscription's state)", async () => {
    const pending = await newSubscription('pending_delete');
    const stalled = await createAddon({ name: 'Stalled', webhook_id: pending });
    const response = await restAs(reader).post(`/addons/${stalled.id}/invoke`, { threat_model_id: threatModel });
    expectError(response, 409);
    expect(response.body.details.context).toEqual({ addon_id: stalled.id, webhook_status: 'pending_delete' });
    expect(await prisma().webhookDelivery.count({ where: { addonId: stalled.id } })).toBe(0);
  });
});
