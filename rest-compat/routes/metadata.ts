import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { z } from 'zod';
import { AppError } from '../../src/infra/errors/registry.js';
import {
  CreateThreatModelMetadataBulkDocument,
  CreateThreatModelMetadataDocument,
  DeleteThreatModelMetadataDocument,
  GetThreatModelMetadataDocument,
  ListThreatModelMetadataDocument,
  ReplaceThreatModelMetadataDocument,
  UpdateThreatModelMetadataDocument,
  UpsertThreatModelMetadataDocument,
} from '../generated/graphql.js';
import { bodyArray, bodyObject } from '../body.js';
import { defineRoute } from '../route-table.js';

const base = '/threat_models/{threat_model_id}/metadata';
const threatModelParams = z.object({ threat_model_id: z.string() });
const keyParams = threatModelParams.extend({ key: z.string().max(255) });
const noQuery = z.object({}).passthrough();
const json = ['application/json'];

const bulk = <TData, TVariables>(
  method: 'POST' | 'PUT' | 'PATCH',
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
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, entries: bodyArray(body) }),
    status,
  });

export const metadataRoutes = [
  defineRoute({
    method: 'GET',
    path: base,
    document: ListThreatModelMetadataDocument,
    params: threatModelParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id }),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: base,
    document: CreateThreatModelMetadataDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: `${base}/{key}`,
    document: GetThreatModelMetadataDocument,
    params: keyParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, key: params.key }),
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: `${base}/{key}`,
    document: UpdateThreatModelMetadataDocument,
    params: keyParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => {
      const { value, ...rest } = bodyObject(body);
      if (Object.keys(rest).length > 0) {
        throw new AppError('VALIDATION_FAILED', `Unknown field(s): ${Object.keys(rest).join(', ')}`);
      }
      return { threatModelId: params.threat_model_id, key: params.key, value };
    },
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: `${base}/{key}`,
    document: DeleteThreatModelMetadataDocument,
    params: keyParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, key: params.key }),
    status: 204,
  }),
  bulk('POST', CreateThreatModelMetadataBulkDocument, 201),
  bulk('PUT', ReplaceThreatModelMetadataDocument, 200),
  bulk('PATCH', UpsertThreatModelMetadataDocument, 200),
];
