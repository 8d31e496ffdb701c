import { builtInGroupMemberships, getMe, type GroupMembership } from '../src/modules/users/service.js';
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
