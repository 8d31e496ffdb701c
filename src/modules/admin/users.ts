import { everyTokenIssuedUpTo } from '../../auth/tokens.js';
import type { Prisma, User } from '../../generated/prisma/client.js';
import { requireAdmin, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import {
  announceRevocations,
  credentialTokens,
  type IssuedToken,
  recordRevocations,
} from '../credentials/revocation.js';
import { withEvents } from '../events/events.js';
import { containsText } from '../shared/filters.js';
import { parseId } from '../threat-models/input.js';
import { builtInGroupMemberships } from '../users/service.js';
import {
  type AdminUserFilter,
  pageSchema,
  sortSchema,
  type UpdateAdminUserInput,
  updateUserSchema,
  userFilterSchema,
} from './input.js';

/** A user as administrators see it: the record plus what TMI calls enriched data. */
export interface AdminUser {
  user: User;
  isAdmin: boolean;
  /** Names of the groups the user belongs to: TMI's built-in ones, TMI groups, and the identity provider's. */
  groups: string[];
  /** Threat models the user owns. */
  activeThreatModels: number;
}

export interface AdminUserPage {
  items: AdminUser[];
  total: number;
  limit: number;
  offset: number;
}

export interface UserListOptions {
  filter?: AdminUserFilter;
  limit: number;
  offset: number;
  sortBy: 'created_at' | 'last_login' | 'email' | 'name';
  sortOrder: 'asc' | 'desc';
}

const enrichment = {
  _count: { select: { ownedThreatModels: true } },
  groupMemberships: { select: { group: { select: { groupName: true } } } },
} satisfies Prisma.UserInclude;
type EnrichedUser = Prisma.UserGetPayload<{ include: typeof enrichment }>;

function enrich(row: EnrichedUser): AdminUser {
  const { _count, groupMemberships, ...user } = row;
  const names = [
    ...builtInGroupMemberships(user).map((group) => group.groupName),
    ...groupMemberships.map((membership) => membership.group.groupName),
    ...user.groups,
  ];
  return { user, isAdmin: user.isAdmin, groups: [...new Set(names)], activeThreatModels: _count.ownedThreatModels };
}

function userWhere(filter: AdminUserFilter): Prisma.UserWhereInput {
  const and: Prisma.UserWhereInput[] = [];
  if (filter.provider) and.push({ provider: filter.provider });
  if (filter.automation != null) and.push({ automation: filter.automation });
  if (filter.email) and.push({ email: containsText(filter.email) });
  if (filter.name) and.push({ name: containsText(filter.name) });
  if (filter.createdAfter || filter.createdBefore)
    and.push({ createdAt: { gt: filter.createdAfter ?? undefined, lt: filter.createdBefore ?? undefined } });
  if (filter.lastLoginAfter || filter.lastLoginBefore)
    and.push({ lastLoginAt: { gt: filter.lastLoginAfter ?? undefined, lt: filter.lastLoginBefore ?? undefined } });
  return { AND: and };
}

const sortColumns = {
  created_at: 'createdAt',
  last_login: 'lastLoginAt',
  email: 'email',
  name: 'name',
} as const;

export function userNotFound(userId: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'User not found', {
    context: { resource_type: 'user', resource_id: userId },
  });
}

/** Administrators: list, read, change and delete users. */
export class AdminUserService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(options: UserListOptions): Promise<AdminUserPage> {
    requireAdmin(this.ctx);
    const { limit, offset } = parseInput(pageSchema, { limit: options.limit, offset: options.offset });
    const { sortBy, sortOrder } = parseInput(sortSchema, { sortBy: options.sortBy, sortOrder: options.sortOrder });
    const filter = parseInput(userFilterSchema, options.filter ?? {});
    const where = userWhere(filter);
    const column = sortColumns[sortBy];
    const orderBy: Prisma.UserOrderByWithRelationInput[] = [
      column === 'lastLoginAt'
        ? { lastLoginAt: { sort: sortOrder, nulls: 'last' } }
        : ({ [column]: sortOrder } as Prisma.UserOrderByWithRelationInput),
      { id: 'asc' },
    ];
    const [rows, total] = await Promise.all([
      this.ctx.db.prisma.user.findMany({ where, orderBy, skip: offset, take: limit, include: enrichment }),
      this.ctx.db.prisma.user.count({ where }),
    ]);
    return { items: rows.map(enrich), total, limit, offset };
  }

  async get(rawId: string): Promise<AdminUser> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'user_id');
    const row = await this.ctx.db.prisma.user.findUnique({ where: { id }, include: enrichment });
    if (!row) throw userNotFound(id);
    return enrich(row);
  }

  /** Changes the given fields (email, name, email_verified) only. */
  async update(rawId: string, rawInput: UpdateAdminUserInput): Promise<AdminUser> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'user_id');
    const input = parseInput(updateUserSchema, rawInput);
    const data: Prisma.UserUpdateManyMutationInput = {};
    if (input.email != null) data.email = input.email;
    if (input.name != null) data.name = input.name;
    if (input.emailVerified != null) data.emailVerified = input.emailVerified;
    const { count } = await this.ctx.db.prisma.user.updateMany({ where: { id }, data });
    if (count === 0) throw userNotFound(id);
    this.ctx.log.info({ userId: id, fields: Object.keys(data) }, 'user updated by an administrator');
    return this.get(id);
  }

  /**
   * Deletes a user and what is theirs (tokens, quotas, memberships, webhook subscriptions). Each threat
   * model they own passes to another user the authorization list names as owner, or is deleted when there
   * is none; their own authorization entries go. One transaction; the threat models' events follow it.
   */
  async delete(rawId: string): Promise<string> {
    const principal = requireAdmin(this.ctx);
    const id = parseId(rawId, 'user_id');
    if (id === principal.userId) {
      throw new AppError('CONFLICT', 'Administrators cannot delete their own account here', {
        suggestion: 'Use DELETE /me, or ask another administrator',
      });
    }
    const outcome = await deleteUserAndData(this.ctx, id);
    this.ctx.log.info({ userId: id, threatModels: outcome }, 'user deleted by an administrator');
    return id;
  }
}

/**
 * Deletes a user and what is theirs (tokens, credentials, quotas, memberships, webhook subscriptions). Each
 * threat model they own passes to another user the authorization list names as owner, or is deleted when
 * there is none; their own authorization entries go. One transaction; the threat models' events and the
 * revocation of tokens issued through their client credentials (and `extraRevocations`) follow it.
 * Administrators (DELETE /admin/users/{id}) and the user themselves (DELETE /me) come here.
 */
export async function deleteUserAndData(
  ctx: ServiceContext,
  id: string,
  extraRevocations: IssuedToken[] = [],
): Promise<{ transferred: number; deleted: number }> {
  const { outcome, revoked } = await withEvents(ctx, async (tx, events) => {
    const locked = await tx.$queryRaw<{ provider: string; providerId: string }[]>`
      SELECT provider, provider_id AS "providerId" FROM users WHERE id = ${id}::uuid FOR UPDATE`;
    const user = locked[0];
    if (!user) throw userNotFound(id);
    // For each owned threat model, the first other owner in its authorization list who is a known user.
    const owned = await tx.$queryRaw<{ id: string; name: string; newOwnerId: string | null }[]>`
      SELECT tm.id::text AS id, tm.name,
             (SELECT u.id::text FROM threat_model_access a
                JOIN users u ON u.provider = a.provider AND u.provider_id = a.provider_id
               WHERE a.threat_model_id = tm.id AND a.principal_type = 'user' AND a.role = 'owner'
                 AND u.id <> ${id}::uuid
               ORDER BY a.position LIMIT 1) AS "newOwnerId"
        FROM threat_models tm WHERE tm.owner_id = ${id}::uuid
       ORDER BY tm.id FOR UPDATE OF tm`;
    const transferred = owned.filter((tm) => tm.newOwnerId !== null);
    const deleted = owned.filter((tm) => tm.newOwnerId === null);
    const now = ctx.now();
    for (const tm of transferred) {
      await tx.threatModel.update({
        where: { id: tm.id },
        data: { ownerId: tm.newOwnerId!, modifiedAt: now, version: { increment: 1 } },
      });
    }
    // Threat models they created but others own keep a creator: their owner.
    await tx.$executeRaw`UPDATE threat_models SET created_by_id = owner_id WHERE created_by_id = ${id}::uuid`;
    await tx.threatModelAccess.deleteMany({
      where: { principalType: 'user', provider: user.provider, providerId: user.providerId },
    });
    if (deleted.length > 0) await tx.threatModel.deleteMany({ where: { id: { in: deleted.map((tm) => tm.id) } } });
    // Their client credentials go with them (cascade): so do the tokens issued through those.
    const revoked = await recordRevocations(
      tx,
      [
        ...(await credentialTokens(tx, { ownerId: id })),
        ...extraRevocations,
        // And every other token the account still holds (its sessions on other devices).
        everyTokenIssuedUpTo(id, now.getTime()),
      ],
      now,
    );
    await tx.user.delete({ where: { id } });
    for (const tm of transferred) {
      await events.record({
        resource: 'threat_model',
        action: 'updated',
        threatModelId: tm.id,
        objectId: tm.id,
        data: { id: tm.id, name: tm.name, ownerId: tm.newOwnerId, previousOwnerId: id },
      });
    }
    for (const tm of deleted) {
      await events.record({
        resource: 'threat_model',
        action: 'deleted',
        threatModelId: tm.id,
        objectId: tm.id,
        data: { id: tm.id, name: tm.name },
      });
    }
    return { outcome: { transferred: transferred.length, deleted: deleted.length }, revoked };
  });
  await announceRevocations(ctx, revoked);
  return outcome;
}
