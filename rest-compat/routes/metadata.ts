import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { z } from 'zod';
import {
  CreateMetadataBulkDocument,
  CreateMetadataDocument,
  DeleteMetadataDocument,
  GetMetadataDocument,
  ListMetadataDocument,
  ReplaceMetadataDocument,
  UpdateMetadataDocument,
  UpsertMetadataDocument,
} from '../generated/graphql.js';
import { AppError } from '../../src/infra/errors/registry.js';
import { bodyArray, bodyObject } from '../body.js';
import { defineRoute, type RestRoute } from '../route-table.js';

const noQuery = z.object({}).passthrough();
const json = ['application/json'];

/** The metadata endpoints TMI serves under one entity's path, all mapped onto the same operations. */
function metadataRoutes<P extends { threat_model_id: string }>(
  base: string,
  params: z.ZodType<P>,
  target: (params: P) => { threatModelId: string; entityType: string; entityId?: string },
): RestRoute[] {
  const keyParams = z.intersection(params, z.object({ key: z.string().max(255) }));
  const bulk = <TData, TVariables>(
    method: 'POST' | 'PUT' | 'PATCH',
    document: TypedDocumentNode<TData, TVariables>,
    status: number,
  ) =>
    defineRoute({
      method,
      path: `${base}/bulk`,
      document,
      params,
      query: noQuery,
      bodyTypes: json,
      variables: ({ params, body }) => ({ target: target(params), entries: bodyArray(body) }),
      status,
    });
  return [
    defineRoute({
      method: 'GET',
      path: base,
      document: ListMetadataDocument,
      params,
      query: noQuery,
      variables: ({ params }) => ({ target: target(params) }),
      status: 200,
    }),
    defineRoute({
      method: 'POST',
      path: base,
      document: CreateMetadataDocument,
      params,
      query: noQuery,
      bodyTypes: json,
      variables: ({ params, body }) => ({ target: target(params), input: bodyObject(body) }),
      status: 201,
    }),
    defineRoute({
      method: 'GET',
      path: `${base}/{key}`,
      document: GetMetadataDocument,
      params: keyParams,
      query: noQuery,
      variables: ({ params }) => ({ target: target(params), key: params.key }),
      status: 200,
    }),
    defineRoute({
      method: 'PUT',
      path: `${base}/{key}`,
      document: UpdateMetadataDocument,
      params: keyParams,
      query: noQuery,
      bodyTypes: json,
      variables: ({ params, body }) => {
        const { value, ...rest } = bodyObject(body);
        if (Object.keys(rest).length > 0) {
          throw new AppError('VALIDATION_FAILED', `Unknown field(s): ${Object.keys(rest).join(', ')}`);
        }
        return { target: target(params), key: params.key, value };
      },
      status: 200,
    }),
    defineRoute({
      method: 'DELETE',
      path: `${base}/{key}`,
      document: DeleteMetadataDocument,
      params: keyParams,
      query: noQuery,
      variables: ({ params }) => ({ target: target(params), key: params.key }),
      status: 204,
    }),
    bulk('POST', CreateMetadataBulkDocument, 201),
    bulk('PUT', ReplaceMetadataDocument, 200),
    bulk('PATCH', UpsertMetadataDocument, 200),
  ];
}

export const threatModelMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/metadata',
  z.object({ threat_model_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'threat_model' }),
);

export const documentMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/documents/{document_id}/metadata',
  z.object({ threat_model_id: z.string(), document_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'document', entityId: params.document_id }),
);

export const noteMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/notes/{note_id}/metadata',
  z.object({ threat_model_id: z.string(), note_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'note', entityId: params.note_id }),
);

export const repositoryMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/repositories/{repository_id}/metadata',
  z.object({ threat_model_id: z.string(), repository_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'repository', entityId: params.repository_id }),
);

export const threatMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/threats/{threat_id}/metadata',
  z.object({ threat_model_id: z.string(), threat_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'threat', entityId: params.threat_id }),
);

export const assetMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/assets/{asset_id}/metadata',
  z.object({ threat_model_id: z.string(), asset_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'asset', entityId: params.asset_id }),
);

export const diagramMetadataRoutes = metadataRoutes(
  '/threat_models/{threat_model_id}/diagrams/{diagram_id}/metadata',
  z.object({ threat_model_id: z.string(), diagram_id: z.string() }),
  (params) => ({ threatModelId: params.threat_model_id, entityType: 'diagram', entityId: params.diagram_id }),
);
