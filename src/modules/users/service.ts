import type { User } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';

export type { User };

/** A TMI-managed group the user belongs to (GET /me lists these, not the identity provider's groups). */
export interface GroupMembership {
  internalUuid: string;
  groupName: string;
  name: string;
}

// TMI's built-in groups and their fixed ids; membership follows the user's role flags.
const ADMINISTRATORS: GroupMembership = {
  internalUuid: '00000000-0000-0000-0000-000000000002',
  groupName: 'administrators',
  name: 'Administrators',
};
const SECURITY_REVIEWERS: GroupMembership = {
  internalUuid: '00000000-0000-0000-0000-000000000001',
  groupName: 'security-reviewers',
  name: 'Security Reviewers',
};

/**
 * The caller's own user record, read fresh from the database rather than from the token's claims.
 * A token whose user was deleted is invalid (401, the only failure TMI documents for GET /me), not a 404.
 */
export async function getMe(ctx: ServiceContext): Promise<User> {
  const principal = requirePrincipal(ctx);
  const user = await ctx.db.prisma.user.findUnique({ where: { id: principal.userId } });
  if (!user) {
    throw new AppError('INVALID_TOKEN', 'Your user account no longer exists', {
      suggestion: 'Sign in again to recreate it',
    });
  }
  return user;
}

export function builtInGroupMemberships(user: Pick<User, 'isAdmin' | 'isSecurityReviewer'>): GroupMembership[] {
  return [...(user.isAdmin ? [ADMINISTRATORS] : []), ...(user.isSecurityReviewer ? [SECURITY_REVIEWERS] : [])];
}
