import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import { z } from 'zod';
import {
  ClearAddonQuotaDocument,
  ClearUserApiQuotaDocument,
  ClearWebhookQuotaDocument,
  GetAddonQuotaDocument,
  GetUserApiQuotaDocument,
  GetWebhookQuotaDocument,
  ListAddonQuotasDocument,
  ListUserApiQuotasDocument,
  ListWebhookQuotasDocument,
  SetAddonQuotaDocument,
  SetUserApiQuotaDocument,
  SetWebhookQuotaDocument,
} from '../generated/graphql.js';
import { bodyObject } from '../body.js';
import { defineRoute, type RestRoute } from '../route-table.js';

const untyped = (document: DocumentNode) => document as TypedDocumentNode<unknown, unknown>;
const userParams = z.object({ user_id: z.string() });
const noQuery = z.object({}).passthrough();
// TMI's LimitQueryParam and OffsetQueryParam (the domain checks the ranges).
const quotaPage = z.object({
  limit: z.coerce.number().int().default(50),
  offset: z.coerce.number().int().default(0),
});

/** The admin endpoints of one kind of per-user quota: list (with the defaults), get, put, delete. */
function adminQuotaRoutes(
  collection: string,
  documents: { list: DocumentNode; get: DocumentNode; set: DocumentNode; clear: DocumentNode },
): RestRoute[] {
  const base = `/admin/quotas/${collection}`;
  return [
    defineRoute({
      method: 'GET',
      path: base,
      document: untyped(documents.list),
      params: z.object({}),
      query: quotaPage,
      variables: ({ query }) => ({ limit: query.limit, offset: query.offset }),
      present: (result) => {
        const { items, ...rest } = result as { items: unknown[] };
        return { quotas: items, ...rest };
      },
      status: 200,
    }),
    defineRoute({
      method: 'GET',
      path: `${base}/{user_id}`,
      document: untyped(documents.get),
      params: userParams,
      query: noQuery,
      variables: ({ params }) => ({ userId: params.user_id }),
      status: 200,
    }),
    // 201 when the user had no quota of their own, else 200.
    defineRoute({
      method: 'PUT',
      path: `${base}/{user_id}`,
      document: untyped(documents.set),
      params: userParams,
      query: noQuery,
      bodyTypes: ['application/json'],
      variables: ({ params, body }) => ({ userId: params.user_id, input: bodyObject(body) }),
      present: (result) => (result as { quota: unknown }).quota,
      status: (result) => ((result as { created: boolean }).created ? 201 : 200),
    }),
    defineRoute({
      method: 'DELETE',
      path: `${base}/{user_id}`,
      document: untyped(documents.clear),
      params: userParams,
      query: noQuery,
      variables: ({ params }) => ({ userId: params.user_id }),
      status: 204,
    }),
  ];
}

export const quotaRoutes = [
  ...adminQuotaRoutes('users', {
    list: ListUserApiQuotasDocument,
    get: GetUserApiQuotaDocument,
    set: SetUserApiQuotaDocument,
    clear: ClearUserApiQuotaDocument,
  }),
  ...adminQuotaRoutes('addons', {
    list: ListAddonQuotasDocument,
    get: GetAddonQuotaDocument,
    set: SetAddonQuotaDocument,
    clear: ClearAddonQuotaDocument,
  }),
  ...adminQuotaRoutes('webhooks', {
    list: ListWebhookQuotasDocument,
    get: GetWebhookQuotaDocument,
    set: SetWebhookQuotaDocument,
    clear: ClearWebhookQuotaDocument,
  }),
];
