import { z } from 'zod';
import {
  CreateAutomationAccountDocument,
  CreateMyClientCredentialDocument,
  CreateUserClientCredentialDocument,
  DeleteMyClientCredentialDocument,
  DeleteUserClientCredentialDocument,
  ListMyClientCredentialsDocument,
  ListUserClientCredentialsDocument,
} from '../generated/graphql.js';
import { bodyObject } from '../body.js';
import { defineRoute } from '../route-table.js';

// Client credentials: the caller's own (/me/client_credentials) and an automation account's, for
// administrators (/admin/users/{user_id}/client_credentials). Secrets appear only in creation answers,
// which are not to be cached.

const noQuery = z.object({}).passthrough();
const page = (limit: number) =>
  z.object({
    limit: z.coerce.number().int().default(limit),
    offset: z.coerce.number().int().default(0),
  });
const userParams = z.object({ user_id: z.string() });
const noStore = { 'cache-control': 'no-store' };

export const credentialRoutes = [
  defineRoute({
    method: 'GET',
    path: '/me/client_credentials',
    document: ListMyClientCredentialsDocument,
    params: z.object({}),
    query: page(20),
    variables: ({ query }) => ({ limit: query.limit, offset: query.offset }),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/me/client_credentials',
    document: CreateMyClientCredentialDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ input: bodyObject(body) }),
    headers: noStore,
    status: 201,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/me/client_credentials/{credential_id}',
    document: DeleteMyClientCredentialDocument,
    params: z.object({ credential_id: z.string() }),
    query: noQuery,
    variables: ({ params }) => ({ id: params.credential_id }),
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/users/{user_id}/client_credentials',
    document: ListUserClientCredentialsDocument,
    params: userParams,
    query: page(50),
    variables: ({ params, query }) => ({ userId: params.user_id, limit: query.limit, offset: query.offset }),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/users/{user_id}/client_credentials',
    document: CreateUserClientCredentialDocument,
    params: userParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => ({ userId: params.user_id, input: bodyObject(body) }),
    headers: noStore,
    status: 201,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/users/{user_id}/client_credentials/{credential_id}',
    document: DeleteUserClientCredentialDocument,
    params: z.object({ user_id: z.string(), credential_id: z.string() }),
    query: noQuery,
    variables: ({ params }) => ({ userId: params.user_id, id: params.credential_id }),
    status: 204,
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/users/automation',
    document: CreateAutomationAccountDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ input: bodyObject(body) }),
    headers: noStore,
    status: 201,
  }),
];
