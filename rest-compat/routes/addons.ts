import { z } from 'zod';
import {
  CreateAddonDocument,
  DeleteAddonDocument,
  GetAddonDocument,
  InvokeAddonDocument,
  ListAddonsDocument,
} from '../generated/graphql.js';
import { bodyObject } from '../body.js';
import { defineRoute, listEnvelope, pageQuery } from '../route-table.js';

const idParams = z.object({ id: z.string() });
const noQuery = z.object({}).passthrough();
const json = ['application/json'];

export const addonRoutes = [
  defineRoute({
    method: 'POST',
    path: '/addons',
    document: CreateAddonDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: json,
    variables: ({ body }) => ({ input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: '/addons',
    document: ListAddonsDocument,
    params: z.object({}),
    query: pageQuery.extend({ threat_model_id: z.string().optional() }),
    variables: ({ query }) => ({ threatModelId: query.threat_model_id, limit: query.limit, offset: query.offset }),
    present: listEnvelope('addons'),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/addons/{id}',
    document: GetAddonDocument,
    params: idParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.id }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/addons/{id}',
    document: DeleteAddonDocument,
    params: idParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.id }),
    status: 204,
  }),
  defineRoute({
    method: 'POST',
    path: '/addons/{id}/invoke',
    document: InvokeAddonDocument,
    params: idParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ id: params.id, input: bodyObject(body) }),
    status: 202,
  }),
];
