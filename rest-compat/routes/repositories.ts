import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { z } from 'zod';
import {
  CreateRepositoryDocument,
  CreateRepositoriesDocument,
  DeleteRepositoryDocument,
  GetRepositoryDocument,
  ListRepositoriesDocument,
  PatchRepositoryDocument,
  UpdateRepositoryDocument,
  UpdateRepositoriesDocument,
} from '../generated/graphql.js';
import { bodyArray, bodyObject, jsonPatchOperations } from '../body.js';
import { defineRoute } from '../route-table.js';

const base = '/threat_models/{threat_model_id}/repositories';
const threatModelParams = z.object({ threat_model_id: z.string() });
const repositoryParams = threatModelParams.extend({ repository_id: z.string() });
const noQuery = z.object({}).passthrough();
const page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});
const json = ['application/json'];

const bulk = <TData, TVariables>(
  method: 'POST' | 'PUT',
  document: TypedDocumentNode<TData, TVariables>,
  status: number,
) =>
  defineRoute({
    method,
    path: `${base}/bulk`,
    document,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, inputs: bodyArray(body) }),
    status,
  });

export const repositoryRoutes = [
  defineRoute({
    method: 'GET',
    path: base,
    document: ListRepositoriesDocument,
    params: threatModelParams,
    query: page,
    variables: ({ params, query }) => ({
      threatModelId: params.threat_model_id,
      limit: query.limit,
      offset: query.offset,
    }),
    present: (result) => {
      const { items, ...rest } = result as { items: unknown[] };
      return { repositories: items, ...rest };
    },
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: base,
    document: CreateRepositoryDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: `${base}/{repository_id}`,
    document: GetRepositoryDocument,
    params: repositoryParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.repository_id }),
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: `${base}/{repository_id}`,
    document: UpdateRepositoryDocument,
    params: repositoryParams,
    query: noQuery,
    bodyTypes: json,
    variables: (input) => {
      return {
        threatModelId: input.params.threat_model_id,
        id: input.params.repository_id,
        input: bodyObject(input.body),
      };
    },
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: `${base}/{repository_id}`,
    document: PatchRepositoryDocument,
    params: repositoryParams,
    query: noQuery,
    bodyTypes: ['application/json-patch+json', 'application/json'],
    variables: (input) => ({
      threatModelId: input.params.threat_model_id,
      id: input.params.repository_id,
      operations: jsonPatchOperations(input.body),
    }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: `${base}/{repository_id}`,
    document: DeleteRepositoryDocument,
    params: repositoryParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.repository_id }),
    status: 204,
  }),
  bulk('POST', CreateRepositoriesDocument, 201),
  bulk('PUT', UpdateRepositoriesDocument, 200),
];
