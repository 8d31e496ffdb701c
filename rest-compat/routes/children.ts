import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import { z } from 'zod';
import { parseInput } from '../../src/infra/errors/validation.js';
import { bodyArray, bodyObject, expectedVersion, jsonPatchOperations } from '../body.js';
import { defineRoute, listEnvelope, pageQuery, type RestInput, type RestRoute } from '../route-table.js';

/** Any typed document: the route table runs it untyped, as every entry of the table does. */
type Doc = DocumentNode;
const untyped = (document: Doc) => document as TypedDocumentNode<unknown, unknown>;

/** The GraphQL documents serving one kind of child, and what TMI's contract says about it. */
export interface ChildRoutesSpec {
  /** The path segment under a threat model, e.g. `documents`; also the list envelope's key. */
  collection: string;
  /** The id parameter's name, e.g. `document_id`. */
  idParam: string;
  documents: { list: Doc; get: Doc; create: Doc; update: Doc; patch: Doc; delete: Doc };
  /** Bulk create (POST …/bulk) and bulk update (PUT …/bulk) with their success statuses. */
  bulk?: { create: Doc; update: Doc; updateStatus: number };
  /** Bulk JSON Patch (PATCH …/bulk, `{patches: [{id, operations}]}`) and bulk delete (DELETE …/bulk?{idsParam}=a,b). */
  bulkPatchAndDelete?: { patch: Doc; delete: Doc; idsParam: string };
  /** The list's query parameters beyond limit/offset, and the list document's variables they become. */
  listFilter?: { query: z.ZodType<Record<string, unknown>>; variables(query: Record<string, unknown>): object };
  /** Whether PUT and PATCH take an optimistic-locking version (If-Match or body `version`). */
  versioned: boolean;
  /** Fields holding JSON with its own names (e.g. a diagram's `cells`): JSON Patch leaves them as sent. */
  verbatimFields?: readonly string[];
}

const threatModelParams = z.object({ threat_model_id: z.string() });
const noQuery = z.object({}).passthrough();
const json = ['application/json'];

/** TMI's endpoints for one kind of child of a threat model, each mapped onto its GraphQL document. */
export function childRoutes(spec: ChildRoutesSpec): RestRoute[] {
  const base = `/threat_models/{threat_model_id}/${spec.collection}`;
  const itemParams = threatModelParams.extend({ [spec.idParam]: z.string() }) as unknown as z.ZodType<
    { threat_model_id: string } & Record<string, string>
  >;
  const ids = (params: { threat_model_id: string } & Record<string, string>) => ({
    threatModelId: params.threat_model_id,
    id: params[spec.idParam]!,
  });
  const version = (input: RestInput<unknown, unknown>) =>
    spec.versioned ? { expectedVersion: expectedVersion(input) } : {};
  const routes: RestRoute[] = [
    defineRoute({
      method: 'GET',
      path: base,
      document: untyped(spec.documents.list),
      params: threatModelParams,
      query: spec.listFilter ? pageQuery.and(spec.listFilter.query) : pageQuery,
      variables: ({ params, query }) => ({
        threatModelId: params.threat_model_id,
        limit: query.limit,
        offset: query.offset,
        ...spec.listFilter?.variables(query),
      }),
      present: listEnvelope(spec.collection),
      status: 200,
    }),
    defineRoute({
      method: 'POST',
      path: base,
      document: untyped(spec.documents.create),
      params: threatModelParams,
      query: noQuery,
      bodyTypes: json,
      variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, input: bodyObject(body) }),
      status: 201,
    }),
    defineRoute({
      method: 'GET',
      path: `${base}/{${spec.idParam}}`,
      document: untyped(spec.documents.get),
      params: itemParams,
      query: noQuery,
      variables: ({ params }) => ids(params),
      status: 200,
    }),
    defineRoute({
      method: 'PUT',
      path: `${base}/{${spec.idParam}}`,
      document: untyped(spec.documents.update),
      params: itemParams,
      query: noQuery,
      bodyTypes: json,
      variables: (input) => {
        const { version: _version, ...fields } = bodyObject(input.body);
        return { ...ids(input.params), input: spec.versioned ? fields : bodyObject(input.body), ...version(input) };
      },
      status: 200,
    }),
    defineRoute({
      method: 'PATCH',
      path: `${base}/{${spec.idParam}}`,
      document: untyped(spec.documents.patch),
      params: itemParams,
      query: noQuery,
      bodyTypes: ['application/json-patch+json', 'application/json'],
      variables: (input) => ({
        ...ids(input.params),
        operations: jsonPatchOperations(input.body, spec.verbatimFields),
        ...version(input),
      }),
      status: 200,
    }),
    defineRoute({
      method: 'DELETE',
      path: `${base}/{${spec.idParam}}`,
      document: untyped(spec.documents.delete),
      params: itemParams,
      query: noQuery,
      variables: ({ params }) => ids(params),
      status: 204,
    }),
  ];
  if (spec.bulk) {
    for (const [method, document, status] of [
      ['POST', spec.bulk.create, 201],
      ['PUT', spec.bulk.update, spec.bulk.updateStatus],
    ] as const) {
      routes.push(
        defineRoute({
          method,
          path: `${base}/bulk`,
          document: untyped(document),
          params: threatModelParams,
          query: noQuery,
          bodyTypes: json,
          variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, inputs: bodyArray(body) }),
          status,
        }),
      );
    }
  }
  if (spec.bulkPatchAndDelete) {
    const { idsParam } = spec.bulkPatchAndDelete;
    routes.push(
      defineRoute({
        method: 'PATCH',
        path: `${base}/bulk`,
        document: untyped(spec.bulkPatchAndDelete.patch),
        params: threatModelParams,
        query: noQuery,
        bodyTypes: ['application/json', 'application/json-patch+json'],
        variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, patches: bulkPatches(body) }),
        status: 200,
      }),
      defineRoute({
        method: 'DELETE',
        path: `${base}/bulk`,
        document: untyped(spec.bulkPatchAndDelete.delete),
        params: threatModelParams,
        query: z.object({ [idsParam]: commaSeparatedIds }) as unknown as z.ZodType<Record<string, string[]>>,
        variables: ({ params, query }) => ({ threatModelId: params.threat_model_id, ids: query[idsParam] }),
        present: (ids) => ({ deleted_count: (ids as string[]).length, deleted_ids: ids }),
        status: 200,
      }),
    );
  }
  return routes;
}

/** `a,b,c` (TMI's form style without explode), also accepted as a repeated parameter. */
const commaSeparatedIds = z
  .union([z.string(), z.array(z.string())])
  .transform((value) =>
    (Array.isArray(value) ? value : [value]).flatMap((part) => part.split(',')).map((id) => id.trim()),
  )
  .pipe(z.array(z.string().min(1)).min(1, 'name at least one id'));

const bulkPatchBody = z.strictObject({
  patches: z.array(z.strictObject({ id: z.string(), operations: z.unknown() })).min(1, 'must not be empty'),
});

/** `{patches: [{id, operations}]}`, each item's operations translated as a single PATCH's are. */
function bulkPatches(body: unknown) {
  const { patches } = parseInput(bulkPatchBody, body);
  return patches.map((patch) => ({ id: patch.id, operations: jsonPatchOperations(patch.operations) }));
}
