import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { z } from 'zod';
import {
  CreateDocumentDocument,
  CreateDocumentsDocument,
  DeleteDocumentDocument,
  GetDocumentDocument,
  ListDocumentsDocument,
  PatchDocumentDocument,
  UpdateDocumentDocument,
  UpdateDocumentsDocument,
} from '../generated/graphql.js';
import { bodyArray, bodyObject, expectedVersion, jsonPatchOperations } from '../body.js';
import { defineRoute } from '../route-table.js';

const base = '/threat_models/{threat_model_id}/documents';
const threatModelParams = z.object({ threat_model_id: z.string() });
const documentParams = threatModelParams.extend({ document_id: z.string() });
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

export const documentRoutes = [
  defineRoute({
    method: 'GET',
    path: base,
    document: ListDocumentsDocument,
    params: threatModelParams,
    query: page,
    variables: ({ params, query }) => ({
      threatModelId: params.threat_model_id,
      limit: query.limit,
      offset: query.offset,
    }),
    present: (result) => {
      const { items, ...rest } = result as { items: unknown[] };
      return { documents: items, ...rest };
    },
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: base,
    document: CreateDocumentDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: `${base}/{document_id}`,
    document: GetDocumentDocument,
    params: documentParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.document_id }),
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: `${base}/{document_id}`,
    document: UpdateDocumentDocument,
    params: documentParams,
    query: noQuery,
    bodyTypes: json,
    variables: (input) => {
      const { version: _version, ...fields } = bodyObject(input.body);
      return {
        threatModelId: input.params.threat_model_id,
        id: input.params.document_id,
        input: fields,
        expectedVersion: expectedVersion(input),
      };
    },
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: `${base}/{document_id}`,
    document: PatchDocumentDocument,
    params: documentParams,
    query: noQuery,
    bodyTypes: ['application/json-patch+json', 'application/json'],
    variables: (input) => ({
      threatModelId: input.params.threat_model_id,
      id: input.params.document_id,
      operations: jsonPatchOperations(input.body),
      expectedVersion: expectedVersion(input),
    }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: `${base}/{document_id}`,
    document: DeleteDocumentDocument,
    params: documentParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.document_id }),
    status: 204,
  }),
  bulk('POST', CreateDocumentsDocument, 201),
  // TMI documents 201 for the bulk update as well.
  bulk('PUT', UpdateDocumentsDocument, 201),
];
