import { z } from 'zod';
import {
  AddGroupMemberDocument,
  CreateAdminGroupDocument,
  DeleteAdminGroupDocument,
  DeleteAdminUserDocument,
  DeleteSystemSettingDocument,
  GetAdminGroupDocument,
  GetAdminUserDocument,
  GetSystemSettingDocument,
  ListAdminGroupsDocument,
  ListAdminUsersDocument,
  ListGroupMembersDocument,
  ListSystemSettingsDocument,
  ProviderGroupsDocument,
  RemoveGroupMemberDocument,
  SetSystemSettingDocument,
  UpdateAdminGroupDocument,
  UpdateAdminUserDocument,
} from '../generated/graphql.js';
import { bodyObject } from '../body.js';
import { defineRoute, listEnvelope } from '../route-table.js';

// Administration (administrators only): users, groups and members, system settings. Quotas are in quotas.ts.
// Beside them, the groups known for an identity provider, for any signed-in user (under /oauth2, but a plain read).

const noQuery = z.object({}).passthrough();
const userParams = z.object({ user_id: z.string() });
const groupParams = z.object({ group_id: z.string() });
const keyParams = z.object({ key: z.string() });
const timestamp = z.iso.datetime({ offset: true });
const flag = z.enum(['true', 'false']).transform((value) => value === 'true');
// TMI's LimitQueryParam, OffsetQueryParam, SortByQueryParam and SortOrderQueryParam (the domain checks ranges).
const page = {
  limit: z.coerce.number().int().default(50),
  offset: z.coerce.number().int().default(0),
};
const sort = {
  sort_by: z.enum(['created_at', 'last_login', 'email', 'name']).default('created_at'),
  sort_order: z.enum(['asc', 'desc']).default('desc'),
};

const userListQuery = z.object({
  ...page,
  ...sort,
  provider: z.string().optional(),
  email: z.string().optional(),
  name: z.string().optional(),
  created_after: timestamp.optional(),
  created_before: timestamp.optional(),
  last_login_after: timestamp.optional(),
  last_login_before: timestamp.optional(),
  automation: flag.optional(),
});

const groupListQuery = z.object({
  ...page,
  ...sort,
  provider: z.string().optional(),
  group_name: z.string().optional(),
  used_in_authorizations: flag.optional(),
  built_in: flag.optional(),
});

export const adminRoutes = [
  defineRoute({
    method: 'GET',
    path: '/admin/users',
    document: ListAdminUsersDocument,
    params: z.object({}),
    query: userListQuery,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      sortBy: query.sort_by,
      sortOrder: query.sort_order,
      filter: {
        provider: query.provider,
        email: query.email,
        name: query.name,
        created_after: query.created_after,
        created_before: query.created_before,
        last_login_after: query.last_login_after,
        last_login_before: query.last_login_before,
        automation: query.automation,
      },
    }),
    present: listEnvelope('users'),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/users/{user_id}',
    document: GetAdminUserDocument,
    params: userParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.user_id }),
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: '/admin/users/{user_id}',
    document: UpdateAdminUserDocument,
    params: userParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => ({ id: params.user_id, input: bodyObject(body) }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/users/{user_id}',
    document: DeleteAdminUserDocument,
    params: userParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.user_id }),
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/groups',
    document: ListAdminGroupsDocument,
    params: z.object({}),
    query: groupListQuery,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      sortBy: query.sort_by,
      sortOrder: query.sort_order,
      filter: {
        provider: query.provider,
        group_name: query.group_name,
        used_in_authorizations: query.used_in_authorizations,
        built_in: query.built_in,
      },
    }),
    present: listEnvelope('groups'),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/groups',
    document: CreateAdminGroupDocument,
    params: z.object({}),
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ body }) => ({ input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/groups/{group_id}',
    document: GetAdminGroupDocument,
    params: groupParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.group_id }),
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: '/admin/groups/{group_id}',
    document: UpdateAdminGroupDocument,
    params: groupParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => ({ id: params.group_id, input: bodyObject(body) }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/groups/{group_id}',
    document: DeleteAdminGroupDocument,
    params: groupParams,
    query: noQuery,
    variables: ({ params }) => ({ id: params.group_id }),
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/groups/{group_id}/members',
    document: ListGroupMembersDocument,
    params: groupParams,
    query: z.object(page),
    variables: ({ params, query }) => ({ groupId: params.group_id, limit: query.limit, offset: query.offset }),
    present: listEnvelope('members'),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/groups/{group_id}/members',
    document: AddGroupMemberDocument,
    params: groupParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => ({ groupId: params.group_id, input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/groups/{group_id}/members/{member_uuid}',
    document: RemoveGroupMemberDocument,
    params: z.object({ group_id: z.string(), member_uuid: z.string() }),
    query: z.object({ subject_type: z.enum(['user', 'group']).default('user') }),
    variables: ({ params, query }) => ({
      groupId: params.group_id,
      memberId: params.member_uuid,
      subjectType: query.subject_type,
    }),
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/settings',
    document: ListSystemSettingsDocument,
    params: z.object({}),
    query: noQuery,
    variables: () => ({}),
    status: 200,
  }),
  defineRoute({
    method: 'GET',
    path: '/admin/settings/{key}',
    document: GetSystemSettingDocument,
    params: keyParams,
    query: noQuery,
    variables: ({ params }) => ({ key: params.key }),
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: '/admin/settings/{key}',
    document: SetSystemSettingDocument,
    params: keyParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: ({ params, body }) => ({ key: params.key, input: bodyObject(body) }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/settings/{key}',
    document: DeleteSystemSettingDocument,
    params: keyParams,
    query: noQuery,
    variables: ({ params }) => ({ key: params.key }),
    status: 204,
  }),
  defineRoute({
    method: 'GET',
    path: '/oauth2/providers/{idp}/groups',
    document: ProviderGroupsDocument,
    params: z.object({ idp: z.string() }),
    query: noQuery,
    variables: ({ params }) => ({ idp: params.idp }),
    status: 200,
  }),
];
