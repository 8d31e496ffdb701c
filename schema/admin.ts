import { type AdminGroup, AdminGroupService, type GroupMemberView } from '../src/modules/admin/groups.js';
import { type ProviderGroup, type ProviderGroups, ProviderGroupService } from '../src/modules/admin/provider-groups.js';
import { type SystemSetting, SystemSettingService } from '../src/modules/admin/settings.js';
import { type AdminUser, AdminUserService } from '../src/modules/admin/users.js';
import { builder } from './builder.js';

// Administration: users, groups and their members, system settings (administrators only); and the groups
// known for an identity provider, which every signed-in user may list (`providerGroups`).

const AdminSortFieldEnum = builder.enumType('AdminSortField', {
  values: {
    CREATED_AT: { value: 'created_at' },
    LAST_LOGIN: { value: 'last_login' },
    EMAIL: { value: 'email' },
    NAME: { value: 'name' },
  } as const,
});

const SortOrderEnum = builder.enumType('AdminSortOrder', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

const MemberSubjectTypeEnum = builder.enumType('GroupMemberSubjectType', {
  values: { USER: { value: 'user' }, GROUP: { value: 'group' } } as const,
});

const SettingTypeEnum = builder.enumType('SystemSettingType', {
  values: {
    STRING: { value: 'string' },
    INT: { value: 'int' },
    BOOL: { value: 'bool' },
    JSON: { value: 'json' },
    FLOAT: { value: 'float' },
  } as const,
});

const SettingSourceEnum = builder.enumType('SystemSettingSource', {
  values: {
    DATABASE: { value: 'database' },
    CONFIG: { value: 'config' },
    ENVIRONMENT: { value: 'environment' },
  } as const,
});

export const AdminUserRef = builder.objectRef<AdminUser>('AdminUser').implement({
  description: 'A user as administrators see it',
  fields: (t) => ({
    internalUuid: t.id({ resolve: (u) => u.user.id }),
    provider: t.string({ resolve: (u) => u.user.provider }),
    providerUserId: t.string({ resolve: (u) => u.user.providerId }),
    email: t.string({ resolve: (u) => u.user.email }),
    name: t.string({ resolve: (u) => u.user.name }),
    emailVerified: t.boolean({ resolve: (u) => u.user.emailVerified }),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.user.createdAt }),
    modifiedAt: t.field({ type: 'DateTime', resolve: (u) => u.user.modifiedAt }),
    lastLogin: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.user.lastLoginAt }),
    isAdmin: t.exposeBoolean('isAdmin'),
    groups: t.exposeStringList('groups', {
      description: "TMI's built-in groups, TMI groups and the identity provider's",
    }),
    activeThreatModels: t.exposeInt('activeThreatModels', { description: 'Threat models the user owns' }),
    automation: t.boolean({ description: 'An automation (service) account', resolve: (u) => u.user.automation }),
  }),
});

const AdminUserPageRef = builder
  .objectRef<{ items: AdminUser[]; total: number; limit: number; offset: number }>('AdminUserPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [AdminUserRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const AdminGroupRef = builder.objectRef<AdminGroup>('AdminGroup').implement({
  description: "A group: TMI's built-in ones, groups administrators created (provider tmi), identity provider groups",
  fields: (t) => ({
    internalUuid: t.id({ resolve: (g) => g.group.id }),
    provider: t.string({ resolve: (g) => g.group.provider }),
    groupName: t.string({ resolve: (g) => g.group.groupName }),
    name: t.string({ nullable: true, resolve: (g) => g.group.name }),
    description: t.string({ nullable: true, resolve: (g) => g.group.description }),
    firstUsed: t.field({ type: 'DateTime', resolve: (g) => g.group.firstUsed }),
    lastUsed: t.field({ type: 'DateTime', resolve: (g) => g.group.lastUsed }),
    usageCount: t.int({ resolve: (g) => g.group.usageCount }),
    usedInAuthorizations: t.exposeBoolean('usedInAuthorizations'),
    usedInAdminGrants: t.exposeBoolean('usedInAdminGrants'),
    memberCount: t.exposeInt('memberCount'),
    isBuiltin: t.boolean({ resolve: (g) => g.group.isBuiltin }),
  }),
});

const AdminGroupPageRef = builder
  .objectRef<{ items: AdminGroup[]; total: number; limit: number; offset: number }>('AdminGroupPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [AdminGroupRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const GroupMemberRef = builder.objectRef<GroupMemberView>('GroupMember').implement({
  description: 'A member of a group: a user, or a nested group',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The membership (the user, for built-in groups)' }),
    groupInternalUuid: t.id({ resolve: (m) => m.groupId }),
    subjectType: t.field({ type: MemberSubjectTypeEnum, resolve: (m) => m.subjectType }),
    userInternalUuid: t.id({ nullable: true, resolve: (m) => m.user?.id }),
    userEmail: t.string({ nullable: true, resolve: (m) => m.user?.email }),
    userName: t.string({ nullable: true, resolve: (m) => m.user?.name }),
    userProvider: t.string({ nullable: true, resolve: (m) => m.user?.provider }),
    userProviderUserId: t.string({ nullable: true, resolve: (m) => m.user?.providerId }),
    memberGroupInternalUuid: t.id({ nullable: true, resolve: (m) => m.memberGroup?.id }),
    memberGroupName: t.string({ nullable: true, resolve: (m) => m.memberGroup?.name ?? m.memberGroup?.groupName }),
    addedByInternalUuid: t.id({ nullable: true, resolve: (m) => m.addedBy?.id }),
    addedByEmail: t.string({ nullable: true, resolve: (m) => m.addedBy?.email }),
    addedAt: t.expose('addedAt', { type: 'DateTime' }),
    notes: t.exposeString('notes', { nullable: true }),
  }),
});

export const GroupMemberPageRef = builder
  .objectRef<{ items: GroupMemberView[]; total: number; limit: number; offset: number }>('GroupMemberPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [GroupMemberRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const SystemSettingRef = builder.objectRef<SystemSetting>('SystemSetting').implement({
  description: 'A system setting: a value read as its type',
  fields: (t) => ({
    key: t.exposeString('key'),
    value: t.exposeString('value'),
    type: t.field({ type: SettingTypeEnum, resolve: (s) => s.type as 'string' }),
    description: t.exposeString('description', { nullable: true }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
    modifiedBy: t.exposeID('modifiedById', { nullable: true }),
    source: t.field({ type: SettingSourceEnum, resolve: () => 'database' as const }),
    readOnly: t.boolean({ description: 'Settings kept in the database can be changed', resolve: () => false }),
  }),
});

const AdminUserFilterInput = builder.inputType('AdminUserFilter', {
  fields: (t) => ({
    provider: t.string(),
    email: t.string({ description: 'Case-insensitive substring' }),
    name: t.string({ description: 'Case-insensitive substring' }),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
    lastLoginAfter: t.field({ type: 'DateTime' }),
    lastLoginBefore: t.field({ type: 'DateTime' }),
    automation: t.boolean({ description: 'Automation accounts only (true) or people only (false)' }),
  }),
});

const UpdateAdminUserInput = builder.inputType('UpdateAdminUserInput', {
  fields: (t) => ({ email: t.string(), name: t.string(), emailVerified: t.boolean() }),
});

const AdminGroupFilterInput = builder.inputType('AdminGroupFilter', {
  fields: (t) => ({
    provider: t.string(),
    groupName: t.string({ description: 'Case-insensitive substring' }),
    usedInAuthorizations: t.boolean(),
    builtIn: t.boolean(),
  }),
});

const CreateAdminGroupInput = builder.inputType('CreateAdminGroupInput', {
  fields: (t) => ({
    groupName: t.string({ required: true, description: 'Letters, digits, hyphens, underscores; 1 to 128' }),
    name: t.string({ required: true }),
    description: t.string(),
  }),
});

const UpdateAdminGroupInput = builder.inputType('UpdateAdminGroupInput', {
  fields: (t) => ({ name: t.string(), description: t.string() }),
});

const AddGroupMemberInput = builder.inputType('AddGroupMemberInput', {
  fields: (t) => ({
    subjectType: t.field({ type: MemberSubjectTypeEnum, description: 'USER when omitted' }),
    userInternalUuid: t.id(),
    memberGroupInternalUuid: t.id(),
    notes: t.string(),
  }),
});

const SystemSettingInput = builder.inputType('SystemSettingInput', {
  fields: (t) => ({
    value: t.string({ required: true }),
    type: t.field({ type: SettingTypeEnum, required: true }),
    description: t.string(),
  }),
});

const listArgs = (t: Parameters<Parameters<typeof builder.queryFields>[0]>[0]) => ({
  limit: t.arg.int({ defaultValue: 50 }),
  offset: t.arg.int({ defaultValue: 0 }),
  sortBy: t.arg({ type: AdminSortFieldEnum, defaultValue: 'created_at' }),
  sortOrder: t.arg({ type: SortOrderEnum, defaultValue: 'desc' }),
});

const ProviderGroupRef = builder.objectRef<ProviderGroup>('ProviderGroup').implement({
  description: 'A group known for an identity provider',
  fields: (t) => ({
    name: t.exposeString('name'),
    displayName: t.exposeString('displayName', { nullable: true }),
    usedInAuthorizations: t.exposeBoolean('usedInAuthorizations', {
      description: "Whether a threat model's authorization names this group (for this provider or every one)",
    }),
  }),
});

const ProviderGroupsRef = builder.objectRef<ProviderGroups>('ProviderGroups').implement({
  fields: (t) => ({
    idp: t.exposeString('idp'),
    groups: t.field({ type: [ProviderGroupRef], resolve: (result) => result.groups }),
  }),
});

builder.queryFields((t) => ({
  providerGroups: t.field({
    type: ProviderGroupsRef,
    description:
      'The groups known for an identity provider: its groups and those its users carry, by name, at most 1000',
    authScopes: { authenticated: true },
    args: { idp: t.arg.string({ required: true }) },
    resolve: (_root, { idp }, ctx) => new ProviderGroupService(ctx.service).list(idp),
  }),
}));

builder.queryFields((t) => ({
  adminUserPage: t.field({
    type: AdminUserPageRef,
    description: 'Administrators: users, filtered and paged',
    authScopes: { admin: true },
    args: { filter: t.arg({ type: AdminUserFilterInput }), ...listArgs(t) },
    resolve: (_root, args, ctx) =>
      new AdminUserService(ctx.service).list({
        filter: args.filter ?? {},
        limit: args.limit ?? 50,
        offset: args.offset ?? 0,
        sortBy: args.sortBy ?? 'created_at',
        sortOrder: args.sortOrder ?? 'desc',
      }),
  }),
  adminUser: t.field({
    type: AdminUserRef,
    description: 'Administrators: one user',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AdminUserService(ctx.service).get(String(id)),
  }),
  adminGroupPage: t.field({
    type: AdminGroupPageRef,
    description: 'Administrators: groups, filtered and paged',
    authScopes: { admin: true },
    args: { filter: t.arg({ type: AdminGroupFilterInput }), ...listArgs(t) },
    resolve: (_root, args, ctx) =>
      new AdminGroupService(ctx.service).list({
        filter: args.filter ?? {},
        limit: args.limit ?? 50,
        offset: args.offset ?? 0,
        sortBy: args.sortBy ?? 'created_at',
        sortOrder: args.sortOrder ?? 'desc',
      }),
  }),
  adminGroup: t.field({
    type: AdminGroupRef,
    description: 'Administrators: one group',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AdminGroupService(ctx.service).get(String(id)),
  }),
  groupMemberPage: t.field({
    type: GroupMemberPageRef,
    description: "Administrators: a group's members",
    authScopes: { admin: true },
    args: {
      groupId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 50 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { groupId, limit, offset }, ctx) =>
      new AdminGroupService(ctx.service).members(String(groupId), { limit: limit ?? 50, offset: offset ?? 0 }),
  }),
  systemSettings: t.field({
    type: [SystemSettingRef],
    description: 'Administrators: every system setting, by key',
    authScopes: { admin: true },
    resolve: (_root, _args, ctx) => new SystemSettingService(ctx.service).list(),
  }),
  systemSetting: t.field({
    type: SystemSettingRef,
    description: 'Administrators: one system setting',
    authScopes: { admin: true },
    args: { key: t.arg.string({ required: true }) },
    resolve: (_root, { key }, ctx) => new SystemSettingService(ctx.service).get(key),
  }),
}));

builder.mutationFields((t) => ({
  updateAdminUser: t.field({
    type: AdminUserRef,
    description: "Administrators: changes a user's email, name or email_verified (the fields given)",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAdminUserInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => new AdminUserService(ctx.service).update(String(id), input),
  }),
  deleteAdminUser: t.id({
    description:
      'Administrators: deletes a user; their threat models pass to another owner on the list, or are deleted',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AdminUserService(ctx.service).delete(String(id)),
  }),
  createAdminGroup: t.field({
    type: AdminGroupRef,
    description: 'Administrators: creates a TMI group (provider tmi)',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateAdminGroupInput, required: true }) },
    resolve: (_root, { input }, ctx) => new AdminGroupService(ctx.service).create(input),
  }),
  updateAdminGroup: t.field({
    type: AdminGroupRef,
    description: "Administrators: changes a group's name or description",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAdminGroupInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => new AdminGroupService(ctx.service).update(String(id), input),
  }),
  deleteAdminGroup: t.id({
    description: 'Administrators: deletes a group that is not built in, and the authorizations naming it',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => new AdminGroupService(ctx.service).delete(String(id)),
  }),
  addGroupMember: t.field({
    type: GroupMemberRef,
    description: 'Administrators: adds a user or a group to a group',
    authScopes: { admin: true },
    args: { groupId: t.arg.id({ required: true }), input: t.arg({ type: AddGroupMemberInput, required: true }) },
    resolve: (_root, { groupId, input }, ctx) =>
      new AdminGroupService(ctx.service).addMember(String(groupId), {
        ...input,
        userInternalUuid: input.userInternalUuid == null ? input.userInternalUuid : String(input.userInternalUuid),
        memberGroupInternalUuid:
          input.memberGroupInternalUuid == null ? input.memberGroupInternalUuid : String(input.memberGroupInternalUuid),
      }),
  }),
  removeGroupMember: t.id({
    description: 'Administrators: removes a user (default) or a nested group from a group; returns its id',
    authScopes: { admin: true },
    args: {
      groupId: t.arg.id({ required: true }),
      memberId: t.arg.id({ required: true }),
      subjectType: t.arg({ type: MemberSubjectTypeEnum, defaultValue: 'user' }),
    },
    resolve: (_root, { groupId, memberId, subjectType }, ctx) =>
      new AdminGroupService(ctx.service).removeMember(String(groupId), String(memberId), subjectType ?? 'user'),
  }),
  setSystemSetting: t.field({
    type: SystemSettingRef,
    description: 'Administrators: creates or replaces a system setting',
    authScopes: { admin: true },
    args: { key: t.arg.string({ required: true }), input: t.arg({ type: SystemSettingInput, required: true }) },
    resolve: (_root, { key, input }, ctx) => new SystemSettingService(ctx.service).set(key, input),
  }),
  deleteSystemSetting: t.string({
    description: 'Administrators: deletes a system setting; returns its key',
    authScopes: { admin: true },
    args: { key: t.arg.string({ required: true }) },
    resolve: (_root, { key }, ctx) => new SystemSettingService(ctx.service).delete(key),
  }),
}));
