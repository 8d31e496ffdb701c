import { z } from 'zod';
import {
  CreateThreatModelDocument,
  DeleteThreatModelDocument,
  GetThreatModelDocument,
  ListThreatModelsDocument,
  PatchThreatModelDocument,
  UpdateThreatModelDocument,
} from '../generated/graphql.js';
import { bodyObject, expectedVersion, jsonPatchOperations } from '../body.js';
import { defineRoute, pageQuery } from '../route-table.js';

const threatModelParams = z.object({ threat_model_id: z.string() });
const noQuery = z.object({}).passthrough();

const text = z
  .string()
  .max(1000)
  .regex(/^[^\x00-\x1F]*$/, 'must not contain control characters');
const timestamp = z.iso.datetime({ offset: true });
const listQuery = pageQuery.extend({
  name: text.optional(),
  owner: text.optional(),
  description: text.optional(),
  issue_uri: text.optional(),
  status: z.union([text, z.array(text).max(50)]).optional(),
  created_after: timestamp.optional(),
  created_before: timestamp.optional(),
  modified_after: timestamp.optional(),
  modified_before: timestamp.optional(),
});

export const threatModelRoutes = [
  defineRoute({
    method: 'GET',
    path: '/threat_models',
    document: ListThreatModelsDocument,
    params: z.object({}),
    query: listQuery,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      filter: {
        name: query.name,
        owner: query.owner,
        description: query.description,
        issueUri: query.issue_uri,
        status: query.status === undefined ? undefined : [query.status].flat(),
        createdAfter: query.created_after,
        createdBefore: query.created_before,
        modifiedAfter: query.modified_after,
        modifiedBefore: query.modified_before,
      },
    }),
    present: (page) => {
      const { items, ...rest } = page as { items: unknown[] };
      return { threat_models: items, ...rest };
    },
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/threat_models',
    document: CreateThreatModelDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: '/threat_models/{threat_model_id}',
    document: GetThreatModelDocument,
    params: threatModelParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.threat_model_id }),
    // TMI's full representation lists the children under their plain names (diagrams in full, with cells).
    present: (threatModel) => {
      const {
        document_list: documents,
        note_list: notes,
        repository_list: repositories,
        threat_list: threats,
        asset_list: assets,
        diagram_list: diagrams,
        ...rest
      } = threatModel as Record<string, unknown>;
      return { ...rest, documents, notes, repositories, threats, assets, diagrams };
    },
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: '/threat_models/{threat_model_id}',
    document: UpdateThreatModelDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: (input) => {
      const { version: _version, ...fields } = bodyObject(input.body);
      return { id: input.params.threat_model_id, input: fields, expectedVersion: expectedVersion(input) };
    },
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: '/threat_models/{threat_model_id}',
    document: PatchThreatModelDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: ['application/json-patch+json', 'application/json'],
    variables: (input) => {
      const operations = jsonPatchOperations(input.body);
      return { id: input.params.threat_model_id, operations, expectedVersion: expectedVersion(input) };
    },
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/threat_models/{threat_model_id}',
    document: DeleteThreatModelDocument,
    params: threatModelParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.threat_model_id }),
    status: 204,
  }),
];
