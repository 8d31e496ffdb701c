import { z } from 'zod';
import {
  CreateMyPreferencesDocument,
  DeleteMyAccountDocument,
  GetMeDocument,
  GetMyPreferencesDocument,
  ListMyGroupMembersDocument,
  ListMyGroupsDocument,
  SetMyPreferencesDocument,
} from '../generated/graphql.js';
import { defineRoute, listEnvelope } from '../route-table.js';

const noQuery = z.object({}).passthrough();

export const meRoutes = [
  defineRoute({
    method: 'GET',
    path: '/me',
    document: GetMeDocument,
    params: z.object({}),
    query: z.object({}).passthrough(),
    variables: () => ({}),
    status: 200,
  }),
  // TMI's two steps: without a challenge, 200 with one; with it, 204 and the account is gone.
  defineRoute({
    method: 'DELETE',
    path: '/me',
    document: DeleteMyAccountDocument,
    params: z.object({}),
    query: z.object({ challenge: z.string().max(1000).optional() }),
    variables: ({ query }) => ({ challenge: query.challenge ?? null }),
    present: (result) => (result as { challenge?: unknown }).challenge,
    status: (result) => ((result as { deleted: boolean }).deleted ? 204 : 200),
  }),
  defineRoute({
    method: 'GET',
    path: '/me/preferences',
    document: GetMyPreferencesDocument,
    params: z.object({}),
    query: noQuery,
    variables: () => ({}),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/me/preferences',
    document: CreateMyPreferencesDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ preferences: body }),
    status: 201,
  }),
  defineRoute({
    method: 'PUT',
    path: '/me/preferences',
    document: SetMyPreferencesDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ preferences: body }),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/me/groups',
    document: ListMyGroupsDocument,
    params: z.object({}),
    query: noQuery,
    variables: () => ({}),
    present: (groups) => ({ groups, total: (groups as unknown[]).length }),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/me/groups/{group_id}/members',
    document: ListMyGroupMembersDocument,
    params: z.object({ group_id: z.string() }),
    query: z.object({
      limit: z.coerce.number().int().default(50),
      offset: z.coerce.number().int().default(0),
    }),
    variables: ({ params, query }) => ({ groupId: params.group_id, limit: query.limit, offset: query.offset }),
    present: listEnvelope('members'),
    status: 200,
  }),
];
