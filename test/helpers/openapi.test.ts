import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  assertMatchesSchema,
  assertResponseMatchesSpec,
  findOperation,
  loadSpec,
  openApiSpecPath,
  type ResponseObject,
} from './openapi.js';

const TM_ID = '123e4567-e89b-12d3-a456-426614174000';
const TM_PATH = `/threat_models/${TM_ID}`;
const JSON_CT = 'application/json; charset=utf-8';

type Json = Record<string, unknown>;

function specExample<T = Json>(template: string, method: string, status: string): T {
  const op = findOperation(method, template)?.operation;
  const response = op?.responses?.[status] as ResponseObject | undefined;
  const example = (response?.content?.['application/json'] as { example?: T } | undefined)?.example;
  if (example === undefined) throw new Error(`no example for ${method} ${template} ${status}`);
  return structuredClone(example);
}

function apiInfoExample(): Json {
  const schema = loadSpec().components?.schemas?.ApiInfo as { example: Json };
  return structuredClone(schema.example);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('spec loading', () => {
  it('defaults to ../shared/tmi/tmi-openapi.json relative to the project root', () => {
    vi.stubEnv('TMI_OPENAPI_PATH', undefined);
    expect(openApiSpecPath()).toMatch(/[/\\]shared[/\\]tmi[/\\]tmi-openapi\.json$/);
    expect(loadSpec().openapi).toMatch(/^3\.0\./);
  });

  it('honours TMI_OPENAPI_PATH and fails loudly when the file is missing', () => {
    vi.stubEnv('TMI_OPENAPI_PATH', '/nonexistent/tmi-openapi.json');
    expect(openApiSpecPath()).toBe('/nonexistent/tmi-openapi.json');
    expect(() => loadSpec()).toThrow(/OpenAPI spec not found at \/nonexistent\/tmi-openapi\.json/);
    expect(() => assertMatchesSchema('ApiInfo', {})).toThrow(/not found/);
  });
});

describe('assertMatchesSchema', () => {
  it("accepts the spec's own ApiInfo example", () => {
    expect(() => assertMatchesSchema('ApiInfo', apiInfoExample())).not.toThrow();
  });

  it('rejects an ApiInfo without status, naming the missing property', () => {
    const { status: _status, ...body } = apiInfoExample();
    expect(() => assertMatchesSchema('ApiInfo', body)).toThrow(/\(root\) must have required property 'status'/);
  });

  it('checks formats, patterns and enums', () => {
    const body = apiInfoExample();
    body.status = { code: 'bogus', time: 'yesterday' };
    const error = (() => {
      try {
        assertMatchesSchema('ApiInfo', body);
      } catch (e) {
        return String(e);
      }
      return '';
    })();
    expect(error).toMatch(/\/status\/code must be equal to one of the allowed values/);
    expect(error).toMatch(/\/status\/time must match format "date-time"/);
  });

  it('handles nullable scalars and nullable allOf/$ref properties', () => {
    const [item] = specExample<{ threat_models: Json[] }>('/threat_models', 'get', '200').threat_models;
    expect(() =>
      assertMatchesSchema('TMListItem', { ...item, security_reviewer: null, deleted_at: null }),
    ).not.toThrow();
    expect(() => assertMatchesSchema('TMListItem', { ...item, security_reviewer: 42 })).toThrow(/\/security_reviewer/);
    expect(() => assertMatchesSchema('TMListItem', { ...item, name: null })).toThrow(/\/name must be string/);
  });

  it('throws for an unknown schema name', () => {
    expect(() => assertMatchesSchema('NoSuchSchema', {})).toThrow(/schema NoSuchSchema not found/);
  });

  it('compiles every component schema', () => {
    for (const name of Object.keys(loadSpec().components?.schemas ?? {})) {
      try {
        assertMatchesSchema(name, undefined); // compiles the validator; the value is irrelevant
      } catch (e) {
        expect(String(e), name).toMatch(/does not match the OpenAPI spec/);
      }
    }
  });
});

describe('findOperation', () => {
  it('maps a concrete path (query string ignored) to its template', () => {
    expect(findOperation('GET', TM_PATH)?.template).toBe('/threat_models/{threat_model_id}');
    expect(findOperation('get', '/threat_models?limit=5&offset=0')?.template).toBe('/threat_models');
    expect(findOperation('GET', '/')?.template).toBe('/');
  });

  it('prefers literal segments over {param} segments', () => {
    expect(findOperation('PUT', `${TM_PATH}/threats/bulk`)?.template).toBe(
      '/threat_models/{threat_model_id}/threats/bulk',
    );
    expect(findOperation('PUT', `${TM_PATH}/threats/${TM_ID}`)?.template).toBe(
      '/threat_models/{threat_model_id}/threats/{threat_id}',
    );
  });

  it('returns undefined for unknown paths and undocumented methods', () => {
    expect(findOperation('GET', '/no/such/route')).toBeUndefined();
    expect(findOperation('TRACE', TM_PATH)).toBeUndefined();
  });
});

describe('assertResponseMatchesSpec', () => {
  const notFound = { error: 'not_found', error_description: 'x' };

  it('accepts a valid Error body for a documented error status', () => {
    expect(() =>
      assertResponseMatchesSpec({ method: 'GET', path: TM_PATH, status: 404, contentType: JSON_CT, body: notFound }),
    ).not.toThrow();
    expect(() =>
      assertResponseMatchesSpec({ method: 'GET', path: TM_PATH, status: 404, body: { ...notFound, details: null } }),
    ).not.toThrow();
  });

  it('rejects an Error body with an extra property, showing the body', () => {
    expect(() =>
      assertResponseMatchesSpec({ method: 'GET', path: TM_PATH, status: 404, body: { ...notFound, extra: 1 } }),
    ).toThrow(
      /GET \/threat_models\/\{threat_model_id\} 404.*\n.*must NOT have additional properties.*"extra"[\s\S]*body: \{"error":"not_found"/,
    );
  });

  it('throws for an undocumented status', () => {
    expect(() => assertResponseMatchesSpec({ method: 'GET', path: TM_PATH, status: 418, body: notFound })).toThrow(
      /status 418 not documented for GET \/threat_models\/\{threat_model_id\}/,
    );
  });

  it('requires an empty body when the spec documents no content (DELETE 204)', () => {
    for (const body of [undefined, null, '']) {
      expect(() => assertResponseMatchesSpec({ method: 'DELETE', path: TM_PATH, status: 204, body })).not.toThrow();
    }
    expect(() =>
      assertResponseMatchesSpec({ method: 'DELETE', path: TM_PATH, status: 204, body: { ok: true } }),
    ).toThrow(/DELETE \/threat_models\/\{threat_model_id\} 204: spec documents no body/);
  });

  it('accepts the ListThreatModelsResponse example for GET /threat_models?limit=5', () => {
    const body = specExample('/threat_models', 'get', '200');
    expect(() =>
      assertResponseMatchesSpec({
        method: 'GET',
        path: '/threat_models?limit=5',
        status: 200,
        contentType: JSON_CT,
        body,
      }),
    ).not.toThrow();
    expect(() =>
      assertResponseMatchesSpec({
        method: 'GET',
        path: '/threat_models?limit=5',
        status: 200,
        body: { ...body, total: 'many' },
      }),
    ).toThrow(/\/total must be integer/);
  });

  it('rejects an undocumented content type, unknown routes and undocumented methods', () => {
    const call = (method: string, path: string, contentType?: string) => () =>
      assertResponseMatchesSpec({ method, path, status: 404, contentType, body: notFound });
    expect(call('GET', TM_PATH, 'text/html')).toThrow(/content-type text\/html not documented/);
    expect(call('GET', '/no/such/route')).toThrow(/no path template in the spec matches \/no\/such\/route/);
    expect(call('TRACE', TM_PATH)).toThrow(/TRACE not documented for \/threat_models\/\{threat_model_id\}/);
  });

  it('truncates huge bodies in the error message', () => {
    const body = { ...notFound, error_description: 'y'.repeat(10_000), extra: true };
    let message = '';
    try {
      assertResponseMatchesSpec({ method: 'GET', path: TM_PATH, status: 404, body });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/truncated, \d+ chars\)$/);
    expect(message.length).toBeLessThan(4_000);
  });

  it("accepts every JSON example documented in the spec's responses", () => {
    const spec = loadSpec();
    let checked = 0;
    for (const [template, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const responses = (op as { responses?: Record<string, ResponseObject> }).responses ?? {};
        for (const status of Object.keys(responses).filter((s) => /^\d{3}$/.test(s))) {
          let example: unknown;
          try {
            example = specExample(template, method, status);
          } catch {
            continue; // no inline application/json example
          }
          assertResponseMatchesSpec({ method, path: template, status: Number(status), body: example });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe('deliberate deviations', () => {
  const IDS = { tm: TM_ID, d: '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40', s: '0b5e9d2c-7a41-4f0e-9d6b-3c2a1e4f5a60' };
  const session = (websocketUrl: string) => ({
    ...(loadSpec().components?.schemas?.CollaborationSession as { example: Json }).example,
    websocket_url: websocketUrl,
  });
  const relative = `/threat_models/${IDS.tm}/diagrams/${IDS.d}/ws?session_id=${IDS.s}`;
  const collaborate = `${TM_PATH}/diagrams/${IDS.d}/collaborate`;

  it("accepts CollaborationSession's websocket_url relative to the API origin, and nothing else relative", () => {
    expect(() => assertMatchesSchema('CollaborationSession', session(relative))).not.toThrow();
    expect(() => assertMatchesSchema('CollaborationSession', session('wss://api.example.com/ws'))).not.toThrow();
    expect(() => assertMatchesSchema('CollaborationSession', session('/somewhere/else'))).toThrow(/websocket_url/);
    expect(() => assertMatchesSchema('CollaborationSession', session(`${relative} junk`))).toThrow(/websocket_url/);
  });

  it('accepts /me/sessions as a bare array of CollaborationSession', () => {
    const check = (body: unknown) => () =>
      assertResponseMatchesSpec({ method: 'GET', path: '/me/sessions', status: 200, contentType: JSON_CT, body });
    expect(check([session(relative)])).not.toThrow();
    expect(check([])).not.toThrow();
    expect(check([{ session_id: IDS.s }])).toThrow(/deliberate deviation/);
  });

  it('holds the 409 of POST …/collaborate to its own body: {error, join_url}', () => {
    const own = {
      error: 'collaboration_session_exists',
      join_url: 'http://localhost:8080/threat_models/a/diagrams/b/collaborate',
    };
    expect(() =>
      assertResponseMatchesSpec({ method: 'POST', path: collaborate, status: 409, body: own }),
    ).not.toThrow();
    const common = { error: 'conflict', error_description: 'exists' };
    expect(() => assertResponseMatchesSpec({ method: 'POST', path: collaborate, status: 409, body: common })).toThrow();
  });
});
