/**
 * Contract-test helper: validates HTTP responses against TMI's OpenAPI 3.0 spec.
 *
 * The spec is read from disk (never copied into the project), parsed once, and
 * its `components.schemas` are converted from OpenAPI 3.0 dialect to JSON Schema
 * draft-07 and registered in a single Ajv instance. Validators are compiled
 * lazily and cached per (template, method, status, media type).
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';

// ---------------------------------------------------------------------------
// Minimal OpenAPI 3.0 types (only what this helper reads)
// ---------------------------------------------------------------------------

export interface MediaTypeObject {
  schema?: unknown;
}

export interface ResponseObject {
  $ref?: string;
  description?: string;
  content?: Record<string, MediaTypeObject>;
}

export interface OperationObject {
  operationId?: string;
  responses?: Record<string, ResponseObject>;
  [key: string]: unknown;
}

export interface OpenApiSpec {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: {
    schemas?: Record<string, unknown>;
    responses?: Record<string, ResponseObject>;
  };
}

export interface ResponseUnderTest {
  method: string;
  path: string;
  status: number;
  contentType?: string | null;
  body: unknown;
}

// ---------------------------------------------------------------------------
// Spec loading
// ---------------------------------------------------------------------------

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const SCHEMAS_ID = 'tmi-openapi-schemas';
const BODY_PREVIEW_LIMIT = 2048;
const MAX_LISTED_ERRORS = 30;
const JSON_MEDIA = 'application/json';

const SPEC_BESIDE_ROOT = '../shared/tmi/tmi-openapi.json';

/**
 * TMI's contract lives in `shared/` beside the project's checkout. A clean clone made elsewhere
 * (as CI does) finds it beside the checkout it was cloned from.
 */
export function openApiSpecPath(): string {
  const fromEnv = process.env.TMI_OPENAPI_PATH;
  if (fromEnv) return fromEnv;
  const projectRoot = new URL('../../', import.meta.url);
  const besideRoot = fileURLToPath(new URL(SPEC_BESIDE_ROOT, projectRoot));
  if (existsSync(besideRoot)) return besideRoot;
  try {
    const origin = execFileSync('git', ['config', '--get', 'remote.origin.url'], {
      cwd: fileURLToPath(projectRoot),
      encoding: 'utf8',
    }).trim();
    if (origin.startsWith('/')) {
      const besideOrigin = fileURLToPath(new URL(SPEC_BESIDE_ROOT, pathToFileURL(`${origin.replace(/\/$/, '')}/`)));
      if (existsSync(besideOrigin)) return besideOrigin;
    }
  } catch {
    // Not a git checkout, or no origin: report the default location below.
  }
  return besideRoot;
}

interface Template {
  template: string;
  /** Literal segment, or null for a `{param}` segment. */
  segments: (string | null)[];
}

interface State {
  specPath: string;
  spec: OpenApiSpec;
  templates: Template[];
  ajv?: Ajv;
  formats: Set<string>;
  validators: Map<string, ValidateFunction>;
}

let state: State | undefined;

function getState(): State {
  const specPath = openApiSpecPath();
  if (state?.specPath === specPath) return state;
  if (!existsSync(specPath)) {
    throw new Error(
      `OpenAPI spec not found at ${specPath}; contract tests cannot run without it (set TMI_OPENAPI_PATH to override)`,
    );
  }
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as OpenApiSpec;
  if (typeof spec.openapi !== 'string' || !spec.openapi.startsWith('3.0') || typeof spec.paths !== 'object') {
    throw new Error(`${specPath} is not an OpenAPI 3.0 document`);
  }
  const templates = Object.keys(spec.paths).map((template) => ({
    template,
    segments: template.split('/').map((s) => (s.startsWith('{') && s.endsWith('}') ? null : s)),
  }));
  state = { specPath, spec, templates, formats: new Set(), validators: new Map() };
  return state;
}

/** Loads (once) and returns the parsed spec. Throws if the file is missing. */
export function loadSpec(): OpenApiSpec {
  return getState().spec;
}

// ---------------------------------------------------------------------------
// OpenAPI 3.0 schema -> JSON Schema draft-07
// ---------------------------------------------------------------------------

type SchemaObject = Record<string, unknown>;

const SUBSCHEMA_KEYS = new Set(['items', 'additionalProperties', 'not']);
const SUBSCHEMA_LIST_KEYS = new Set(['allOf', 'anyOf', 'oneOf']);
const SUBSCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties']);
const DROPPED_KEYS = new Set(['nullable', 'example', 'examples', 'discriminator', 'xml', 'externalDocs', 'deprecated']);
const COMPOSITION_KEYS = ['$ref', 'allOf', 'anyOf', 'oneOf'] as const;

function isObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rewriteRef(ref: string): string {
  if (!ref.startsWith('#/components/schemas/')) {
    throw new Error(`unsupported $ref in schema: ${ref}`);
  }
  return `${SCHEMAS_ID}#/definitions/${ref.slice('#/components/schemas/'.length)}`;
}

/** Recursively converts an OpenAPI 3.0 Schema Object; records `format` names seen. */
function toJsonSchema(node: unknown, formats: Set<string>): unknown {
  if (!isObject(node)) return node; // boolean schema (e.g. additionalProperties: true)
  const out: SchemaObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key) || key.startsWith('x-')) continue;
    if (key === '$ref' && typeof value === 'string') out[key] = rewriteRef(value);
    else if (SUBSCHEMA_KEYS.has(key)) out[key] = toJsonSchema(value, formats);
    else if (SUBSCHEMA_LIST_KEYS.has(key) && Array.isArray(value))
      out[key] = value.map((s) => toJsonSchema(s, formats));
    else if (SUBSCHEMA_MAP_KEYS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, s]) => [k, toJsonSchema(s, formats)]));
    } else out[key] = value;
  }
  if (typeof out.format === 'string') formats.add(out.format);
  return node.nullable === true ? makeNullable(out) : out;
}

function makeNullable(schema: SchemaObject): SchemaObject {
  if (COMPOSITION_KEYS.some((k) => k in schema)) return { anyOf: [{ type: 'null' }, schema] };
  if (schema.type === undefined) return schema; // already accepts null
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const result: SchemaObject = { ...schema, type: types.includes('null') ? types : [...types, 'null'] };
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) result.enum = [...schema.enum, null];
  return result;
}

function getAjv(s: State): Ajv {
  if (s.ajv) return s.ajv;
  // unicodeRegExp: false — spec patterns are ECMAScript regexes, some with escapes
  // (`\-` outside a class) that are invalid under the `u` flag.
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateSchema: false,
    unicodeRegExp: false,
    multipleOfPrecision: 9,
  });
  ajvFormats.default(ajv);
  const definitions = Object.fromEntries(
    Object.entries(s.spec.components?.schemas ?? {}).map(([name, schema]) => [name, toJsonSchema(schema, s.formats)]),
  );
  tolerateRelativeWebsocketUrl(definitions);
  ajv.addSchema({ $id: SCHEMAS_ID, definitions });
  s.ajv = ajv;
  return ajv;
}

// ---------------------------------------------------------------------------
// Deliberate departures from the spec (each narrow, each still validated)
// ---------------------------------------------------------------------------

/** A session's WebSocket path relative to the API origin, with its session id. */
const RELATIVE_WEBSOCKET_URL =
  '^/threat_models/[0-9a-fA-F-]{36}/diagrams/[0-9a-fA-F-]{36}/ws\\?session_id=[0-9a-fA-F-]{36}$';

/**
 * CollaborationSession.websocket_url: the spec's pattern demands an absolute ws(s) URL, but this server
 * returns, on purpose, the path relative to the API origin, `/threat_models/{tm}/diagrams/{d}/ws?session_id=…`
 * (clients prefix their API URL, so it holds behind any proxy). Either form passes; anything else still fails.
 */
function tolerateRelativeWebsocketUrl(definitions: Record<string, unknown>): void {
  const properties = (definitions.CollaborationSession as SchemaObject | undefined)?.properties as
    Record<string, unknown> | undefined;
  if (!properties?.websocket_url) return;
  properties.websocket_url = {
    anyOf: [properties.websocket_url, { type: 'string', maxLength: 1024, pattern: RELATIVE_WEBSOCKET_URL }],
  };
}

interface Deviation {
  method: string;
  template: string;
  status: number;
  /** Accepted beside the documented schema (OpenAPI dialect). */
  schema: unknown;
  reason: string;
}

/** Responses whose body (or status) departs from the spec on purpose; the spec's own form still passes. */
const DELIBERATE_DEVIATIONS: Deviation[] = [
  {
    method: 'GET',
    template: '/me/sessions',
    status: 200,
    schema: { type: 'array', items: { $ref: '#/components/schemas/CollaborationSession' } },
    reason: "TMI's web client reads a bare array of CollaborationSession (the spec only says `object`)",
  },
  {
    method: 'POST',
    template: '/addons/{id}/invoke',
    status: 409,
    schema: { $ref: '#/components/schemas/Error' },
    reason: "an add-on whose webhook subscription is not active is refused as a conflict with the subscription's state",
  },
];

function deviationFor(method: string, template: string, status: number): Deviation | undefined {
  const METHOD = method.toUpperCase();
  return DELIBERATE_DEVIATIONS.find((d) => d.method === METHOD && d.template === template && d.status === status);
}

/** Returns a cached validator, compiling `schema` (OpenAPI dialect) on first use. */
function getValidator(s: State, cacheKey: string, schema: unknown): ValidateFunction {
  const cached = s.validators.get(cacheKey);
  if (cached) return cached;
  const ajv = getAjv(s);
  const converted = toJsonSchema(schema, s.formats) as SchemaObject | boolean;
  // Formats the spec invents (int32, markdown, xml, ...) are annotations, not assertions.
  for (const format of s.formats) if (!ajv.formats[format]) ajv.addFormat(format, true);
  const validate = ajv.compile(converted);
  s.validators.set(cacheKey, validate);
  return validate;
}

// ---------------------------------------------------------------------------
// Path / operation / response lookup
// ---------------------------------------------------------------------------

function pathSegments(requestPath: string): string[] {
  return new URL(requestPath, 'http://localhost').pathname.split('/');
}

function matches(t: Template, segments: string[]): boolean {
  return t.segments.length === segments.length && t.segments.every((seg, i) => seg === null || seg === segments[i]);
}

/** Negative when `a` is more specific: the first differing segment is literal in `a`. */
function bySpecificity(a: Template, b: Template): number {
  for (let i = 0; i < a.segments.length; i++) {
    const aLiteral = a.segments[i] !== null;
    const bLiteral = b.segments[i] !== null;
    if (aLiteral !== bLiteral) return aLiteral ? -1 : 1;
  }
  return 0;
}

function matchingTemplates(s: State, requestPath: string): Template[] {
  const segments = pathSegments(requestPath);
  return s.templates.filter((t) => matches(t, segments)).sort(bySpecificity);
}

function operationOf(s: State, template: string, method: string): OperationObject | undefined {
  const m = method.toLowerCase();
  const op = HTTP_METHODS.has(m) ? s.spec.paths[template]?.[m] : undefined;
  return isObject(op) ? (op as OperationObject) : undefined;
}

/**
 * Finds the spec operation serving `method path` (query string ignored). When
 * several templates match, literal segments win over `{param}` segments, among
 * the templates that document `method` (as per-method routers do).
 */
export function findOperation(
  method: string,
  path: string,
): { template: string; operation: OperationObject } | undefined {
  const s = getState();
  for (const { template } of matchingTemplates(s, path)) {
    const operation = operationOf(s, template, method);
    if (operation) return { template, operation };
  }
  return undefined;
}

function resolveLocalRef<T>(spec: OpenApiSpec, ref: string): T {
  if (!ref.startsWith('#/')) throw new Error(`unsupported non-local $ref: ${ref}`);
  let node: unknown = spec;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[part] : undefined;
    if (node === undefined) throw new Error(`unresolvable $ref: ${ref}`);
  }
  return node as T;
}

function resolveResponse(spec: OpenApiSpec, response: ResponseObject): ResponseObject {
  let current = response;
  for (let depth = 0; current.$ref !== undefined; depth++) {
    if (depth > 10) throw new Error(`$ref cycle at ${current.$ref}`);
    current = resolveLocalRef<ResponseObject>(spec, current.$ref);
  }
  return current;
}

function pickResponseKey(responses: Record<string, ResponseObject>, status: number): string | undefined {
  const exact = String(status);
  const range = `${exact[0]}XX`;
  return [exact, range, 'default'].find((key) => key in responses);
}

function pickMediaType(
  content: Record<string, MediaTypeObject>,
  contentType: string | null | undefined,
  where: string,
): string {
  const documented = Object.keys(content);
  const base = contentType?.split(';')[0]?.trim().toLowerCase();
  if (base) {
    const found = documented.find((mt) => mt.toLowerCase() === base);
    if (!found) throw new Error(`${where}: content-type ${base} not documented (documented: ${documented.join(', ')})`);
    return found;
  }
  return documented.includes('application/json') ? 'application/json' : (documented[0] as string);
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

function preview(body: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(body) ?? String(body);
  } catch {
    text = String(body); // circular or BigInt
  }
  return text.length > BODY_PREVIEW_LIMIT
    ? `${text.slice(0, BODY_PREVIEW_LIMIT)}… (truncated, ${text.length} chars)`
    : text;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  const lines = [
    ...new Set(
      (errors ?? []).map(
        (e) => `  ${e.instancePath || '(root)'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`,
      ),
    ),
  ];
  const extra = lines.length > MAX_LISTED_ERRORS ? [`  … and ${lines.length - MAX_LISTED_ERRORS} more`] : [];
  return [...lines.slice(0, MAX_LISTED_ERRORS), ...extra].join('\n');
}

function runValidator(validate: ValidateFunction, value: unknown, what: string): void {
  if (validate(value)) return;
  throw new Error(
    `${what} does not match the OpenAPI spec:\n${formatErrors(validate.errors)}\nbody: ${preview(value)}`,
  );
}

function isEmptyBody(body: unknown): boolean {
  return body === undefined || body === null || body === '';
}

/** Asserts that an HTTP response conforms to the operation's documented response. */
export function assertResponseMatchesSpec({ method, path, status, contentType, body }: ResponseUnderTest): void {
  const s = getState();
  const METHOD = method.toUpperCase();
  const found = findOperation(method, path);
  if (!found) {
    const templates = matchingTemplates(s, path).map((t) => t.template);
    throw new Error(
      templates.length
        ? `${METHOD} not documented for ${templates.join(', ')} (request path ${path})`
        : `no path template in the spec matches ${path}`,
    );
  }
  const { template, operation } = found;
  const responses = operation.responses ?? {};
  const key = pickResponseKey(responses, status);
  const deviation = deviationFor(method, template, status);
  if (deviation) {
    const documented =
      key === undefined ? undefined : resolveResponse(s.spec, responses[key] as ResponseObject).content?.[JSON_MEDIA];
    pickMediaType({ [JSON_MEDIA]: {} }, contentType, `${METHOD} ${template} ${status}`);
    const schema = documented?.schema ? { anyOf: [documented.schema, deviation.schema] } : deviation.schema;
    const validate = getValidator(s, `deviation ${template} ${method.toLowerCase()} ${status}`, schema);
    runValidator(validate, body, `${METHOD} ${template} ${status} (deliberate deviation: ${deviation.reason})`);
    return;
  }
  if (key === undefined) {
    throw new Error(
      `status ${status} not documented for ${METHOD} ${template} (documented: ${Object.keys(responses).join(', ')})`,
    );
  }
  const response = resolveResponse(s.spec, responses[key] as ResponseObject);
  const where = `${METHOD} ${template} ${status}`;
  const content = response.content ?? {};
  if (Object.keys(content).length === 0) {
    if (!isEmptyBody(body)) throw new Error(`${where}: spec documents no body, got ${preview(body)}`);
    return;
  }
  const mediaType = pickMediaType(content, contentType, where);
  const schema = content[mediaType]?.schema;
  if (schema === undefined) return; // media type documented without a schema: anything goes
  // A bare `$ref` shares the component's validator; inline schemas get their own.
  const ref = isObject(schema) && Object.keys(schema).length === 1 ? schema.$ref : undefined;
  const cacheKey = typeof ref === 'string' ? ref : `${template} ${method.toLowerCase()} ${key} ${mediaType}`;
  const validate = getValidator(s, cacheKey, schema);
  runValidator(validate, body, `${where} (${mediaType})`);
}

/** Asserts that `value` conforms to `#/components/schemas/<schemaName>`. */
export function assertMatchesSchema(schemaName: string, value: unknown): void {
  const s = getState();
  if (!s.spec.components?.schemas || !(schemaName in s.spec.components.schemas)) {
    throw new Error(`schema ${schemaName} not found in #/components/schemas`);
  }
  const ref = `#/components/schemas/${schemaName}`;
  const validate = getValidator(s, ref, { $ref: ref });
  runValidator(validate, value, `schema ${schemaName}`);
}
