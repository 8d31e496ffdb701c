import { type AccountDeletion, AccountService, type DeletionChallenge } from '../src/modules/users/account.js';
import { MyGroupsService } from '../src/modules/users/groups.js';
import { PreferencesService } from '../src/modules/users/preferences.js';
import { builtInGroupMemberships, getMe, type GroupMembership } from '../src/modules/users/service.js';
import { GroupMemberPageRef } from './admin.js';
import { builder } from './builder.js';
import { PrincipalTypeEnum } from './principals.js';

const GroupMembershipRef = builder.objectRef<GroupMembership>('GroupMembership').implement({
  description: 'A TMI-managed group the user belongs to',
  fields: (t) => ({
    internalUuid: t.exposeID('internalUuid'),
    groupName: t.exposeString('groupName'),
    name: t.exposeString('name'),
  }),
});

/** The signed-in user's own profile (REST: GET /me, TMI's UserWithAdminStatus). */
const Me = builder.prismaObject('User', {
  variant: 'Me',
  fields: (t) => ({
    userId: t.exposeID('id'),
    principalType: t.field({ type: PrincipalTypeEnum, resolve: () => 'user' as const }),
    provider: t.exposeString('provider'),
    providerId: t.exposeString('providerId'),
    displayName: t.exposeString('name'),
    name: t.exposeString('name', { description: 'Same as displayName; TMI clients read either' }),
    email: t.exposeString('email'),
    isAdmin: t.exposeBoolean('isAdmin'),
    isSecurityReviewer: t.exposeBoolean('isSecurityReviewer'),
    groups: t.field({ type: [GroupMembershipRef], resolve: (user) => builtInGroupMemberships(user) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
    lastLoginAt: t.expose('lastLoginAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: Me,
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => getMe(ctx.service),
  }),
}));

const DeletionChallengeRef = builder.objectRef<DeletionChallenge>('DeletionChallenge').implement({
  description: 'The text to send back, exactly, to confirm the deletion of your account',
  fields: (t) => ({
    challengeText: t.exposeString('challengeText'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'Three minutes after it was issued' }),
  }),
});

const AccountDeletionRef = builder.objectRef<AccountDeletion>('AccountDeletion').implement({
  description: 'deleteMyAccount without a challenge issues one; with it, the account is deleted',
  fields: (t) => ({
    challenge: t.field({ type: DeletionChallengeRef, nullable: true, resolve: (result) => result.challenge }),
    deleted: t.exposeBoolean('deleted'),
    threatModelsTransferred: t.exposeInt('threatModelsTransferred', {
      description: 'Owned threat models passed to another owner on their authorization list',
    }),
    threatModelsDeleted: t.exposeInt('threatModelsDeleted', { description: 'Owned threat models nobody else owned' }),
  }),
});

builder.queryFields((t) => ({
  myPreferences: t.field({
    type: 'JSON',
    description: "The caller's preferences, by client application ({} until set)",
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => new PreferencesService(ctx.service).get(),
  }),
  myGroups: t.field({
    type: [GroupMembershipRef],
    description: "The TMI-managed groups the caller belongs to directly (not 'everyone')",
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => new MyGroupsService(ctx.service).list(),
  }),
  myGroupMembers: t.field({
    type: GroupMemberPageRef,
    description: "The members of one of the caller's groups (effective members only; no administrators' notes)",
    authScopes: { authenticated: true },
    args: {
      groupId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 50 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { groupId, limit, offset }, ctx) =>
      new MyGroupsService(ctx.service).members(String(groupId), { limit: limit ?? 50, offset: offset ?? 0 }),
  }),
}));

builder.mutationFields((t) => ({
  createMyPreferences: t.field({
    type: 'JSON',
    description: "Sets the caller's preferences when they have none (CONFLICT otherwise): up to 20 clients, 1 KB",
    authScopes: { authenticated: true },
    args: { preferences: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, { preferences }, ctx) => new PreferencesService(ctx.service).create(preferences),
  }),
  setMyPreferences: t.field({
    type: 'JSON',
    description: "Creates or replaces the caller's preferences",
    authScopes: { authenticated: true },
    args: { preferences: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, { preferences }, ctx) => new PreferencesService(ctx.service).replace(preferences),
  }),
  deleteMyAccount: t.field({
    type: AccountDeletionRef,
    description:
      "Without a challenge: issues one (valid 3 minutes). With it: deletes the caller's account; owned threat " +
      'models pass to another owner on their authorization list, or are deleted',
    authScopes: { authenticated: true },
    args: { challenge: t.arg.string() },
    resolve: (_root, { challenge }, ctx) => new AccountService(ctx.service).deleteMe(challenge),
  }),
}));
