import type { Group, Prisma, User } from '../../generated/prisma/client.js';
import { requireAdmin, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { everyTokenIssuedUpTo } from '../../auth/tokens.js';
import { announceRevocations, recordRevocations } from '../credentials/revocation.js';
import { parseId } from '../threat-models/input.js';
import {
  type AddMemberInput,
  addMemberSchema,
  type AdminGroupFilter,
  createGroupSchema,
  type CreateGroupInput,
  groupFilterSchema,
  pageSchema,
  sortSchema,
  type UpdateGroupInput,
  updateGroupSchema,
} from './input.js';
import { userNotFound } from './users.js';

// TMI's built-in groups (seeded by the migration with these ids). `everyone` is every user; the members
// of the other two are the users with the matching role flag, so adding or removing one sets the flag.
export const EVERYONE_GROUP_ID = '00000000-0000-0000-0000-000000000000';
const FLAG_GROUPS: Record<string, 'isAdmin' | 'isSecurityReviewer'> = {
  '00000000-0000-0000-0000-000000000002': 'isAdmin',
  '00000000-0000-0000-0000-000000000001': 'isSecurityReviewer',
};

/** A group with TMI's enriched data. */
export interface AdminGroup {
  group: Group;
  usedInAuthorizations: boolean;
  usedInAdminGrants: boolean;
  memberCount: number;
}

export interface AdminGroupPage {
  items: AdminGroup[];
  total: number;
  limit: number;
  offset: number;
}

export interface GroupListOptions {
  filter?: AdminGroupFilter;
  limit: number;
  offset: number;
  sortBy: 'created_at' | 'last_login' | 'email' | 'name';
  sortOrder: 'asc' | 'desc';
}

/** One member of a group as TMI's GroupMember shows it. */
export interface GroupMemberView {
  id: string;
  groupId: string;
  subjectType: 'user' | 'group';
  user: Pick<User, 'id' | 'email' | 'name' | 'provider' | 'providerId'> | null;
  memberGroup: Pick<Group, 'id' | 'groupName' | 'name'> | null;
  addedBy: Pick<User, 'id' | 'email'> | null;
  addedAt: Date;
  notes: string | null;
}

export interface GroupMemberPage {
  items: GroupMemberView[];
  total: number;
  limit: number;
  offset: number;
}

const userFields = { id: true, email: true, name: true, provider: true, providerId: true } as const;
const memberInclude = {
  user: { select: userFields },
  memberGroup: { select: { id: true, groupName: true, name: true } },
  addedBy: { select: { id: true, email: true } },
} satisfies Prisma.GroupMemberInclude;
type MemberRow = Prisma.GroupMemberGetPayload<{ include: typeof memberInclude }>;

function memberView(row: MemberRow): GroupMemberView {
  return {
    id: row.id,
    groupId: row.groupId,
    subjectType: row.subjectType === 'group' ? 'group' : 'user',
    user: row.user,
    memberGroup: row.memberGroup,
    addedBy: row.addedBy,
    addedAt: row.addedAt,
    notes: row.notes,
  };
}

function groupNotFound(groupId: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Group not found', {
    context: { resource_type: 'group', resource_id: groupId },
  });
}

function protectedGroup(group: Group, what: string): AppError {
  return new AppError('INSUFFICIENT_PERMISSIONS', `The built-in group ${group.groupName} ${what}`, {
    context: { group_id: group.id, group_name: group.groupName },
  });
}

/** Administrators: groups (TMI's and the identity providers') and the members TMI keeps. */
export class AdminGroupService {
  constructor(private readonly ctx: ServiceContext) {}

  private get prisma() {
    return this.ctx.db.prisma;
  }

  /**
   * Lists groups with their usage. Identity provider groups are recorded the first time they are listed
   * after a signed-in user carried them (first and last use from those users' sign-ins).
   */
  async list(options: GroupListOptions): Promise<AdminGroupPage> {
    requireAdmin(this.ctx);
    const { limit, offset } = parseInput(pageSchema, { limit: options.limit, offset: options.offset });
    const { sortBy, sortOrder } = parseInput(sortSchema, { sortBy: options.sortBy, sortOrder: options.sortOrder });
    const filter = parseInput(groupFilterSchema, options.filter ?? {});
    await this.recordProviderGroups();
    const groups = await this.enrich(await this.prisma.group.findMany());
    const needle = filter.groupName?.toLowerCase();
    const matching = groups.filter(
      (entry) =>
        (!filter.provider || entry.group.provider === filter.provider) &&
        (!needle || entry.group.groupName.toLowerCase().includes(needle)) &&
        (filter.usedInAuthorizations == null || entry.usedInAuthorizations === filter.usedInAuthorizations) &&
        (filter.builtIn == null || entry.group.isBuiltin === filter.builtIn),
    );
    const key = (entry: AdminGroup): string | number => {
      switch (sortBy) {
        case 'created_at':
          return entry.group.firstUsed.getTime();
        case 'last_login':
          return entry.group.lastUsed.getTime();
        case 'email':
          return entry.group.groupName.toLowerCase();
        case 'name':
          return (entry.group.name ?? entry.group.groupName).toLowerCase();
      }
    };
    const direction = sortOrder === 'asc' ? 1 : -1;
    matching.sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      return x < y ? -direction : x > y ? direction : a.group.id.localeCompare(b.group.id);
    });
    return { items: matching.slice(offset, offset + limit), total: matching.length, limit, offset };
  }

  async get(rawId: string): Promise<AdminGroup> {
    requireAdmin(this.ctx);
    const group = await this.find(parseId(rawId, 'group_id'));
    return (await this.enrich([group]))[0]!;
  }

  /** Creates a TMI group (provider `tmi`); 409 when one of that name exists. */
  async create(rawInput: CreateGroupInput): Promise<AdminGroup> {
    requireAdmin(this.ctx);
    const input = parseInput(createGroupSchema, rawInput);
    const now = this.ctx.now();
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO groups (id, provider, group_name, name, description, first_used, last_used)
      VALUES (gen_random_uuid(), 'tmi', ${input.groupName}, ${input.name}, ${input.description ?? null}, ${now}, ${now})
      ON CONFLICT (provider, group_name) DO NOTHING
      RETURNING id::text AS id`;
    if (rows.length === 0) {
      throw new AppError('CONFLICT', `A group named ${input.groupName} already exists`, {
        context: { group_name: input.groupName },
      });
    }
    this.ctx.log.info({ groupId: rows[0]!.id, groupName: input.groupName }, 'group created');
    return this.get(rows[0]!.id);
  }

  async update(rawId: string, rawInput: UpdateGroupInput): Promise<AdminGroup> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'group_id');
    const input = parseInput(updateGroupSchema, rawInput);
    const data: Prisma.GroupUpdateManyMutationInput = {};
    if (input.name != null) data.name = input.name;
    if (input.description != null) data.description = input.description;
    const { count } = await this.prisma.group.updateMany({ where: { id }, data });
    if (count === 0) throw groupNotFound(id);
    return this.get(id);
  }

  /** Deletes a group that is not built in, its memberships, and the threat model authorizations naming it. */
  async delete(rawId: string): Promise<string> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'group_id');
    await this.prisma.$transaction(async (tx) => {
      const group = await tx.group.findUnique({ where: { id } });
      if (!group) throw groupNotFound(id);
      if (group.isBuiltin) throw protectedGroup(group, 'cannot be deleted');
      await tx.threatModelAccess.deleteMany({
        where: { principalType: 'group', providerId: group.groupName, provider: { in: [group.provider, '*'] } },
      });
      await tx.group.delete({ where: { id } });
    });
    this.ctx.log.info({ groupId: id }, 'group deleted');
    return id;
  }

  async members(rawId: string, page: { limit: number; offset: number }): Promise<GroupMemberPage> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'group_id');
    const { limit, offset } = parseInput(pageSchema, page);
    const group = await this.find(id);
    const flag = FLAG_GROUPS[id];
    if (flag || id === EVERYONE_GROUP_ID) {
      // Built-in groups: their members are users (with the role flag; everyone for `everyone`).
      const where: Prisma.UserWhereInput = flag ? { [flag]: true } : {};
      const [users, total] = await Promise.all([
        this.prisma.user.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], skip: offset, take: limit }),
        this.prisma.user.count({ where }),
      ]);
      const items = users.map((user) => ({
        id: user.id,
        groupId: group.id,
        subjectType: 'user' as const,
        user,
        memberGroup: null,
        addedBy: null,
        addedAt: user.createdAt,
        notes: null,
      }));
      return { items, total, limit, offset };
    }
    const [rows, total] = await Promise.all([
      this.prisma.groupMember.findMany({
        where: { groupId: id },
        include: memberInclude,
        orderBy: [{ addedAt: 'asc' }, { id: 'asc' }],
        skip: offset,
        take: limit,
      }),
      this.prisma.groupMember.count({ where: { groupId: id } }),
    ]);
    return { items: rows.map(memberView), total, limit, offset };
  }

  /** Adds a user (or a group) to a group; 409 when already a member. */
  async addMember(rawGroupId: string, rawInput: AddMemberInput): Promise<GroupMemberView> {
    const principal = requireAdmin(this.ctx);
    const groupId = parseId(rawGroupId, 'group_id');
    const input = parseInput(addMemberSchema, rawInput);
    const group = await this.find(groupId);
    if (group.id === EVERYONE_GROUP_ID) throw protectedGroup(group, 'has every user as a member');
    const flag = FLAG_GROUPS[groupId];
    const now = this.ctx.now();
    if (input.subjectType === 'user') {
      const userId = parseId(input.userInternalUuid!, 'user_internal_uuid');
      const user = await this.prisma.user.findUnique({ where: { id: userId }, select: userFields });
      if (!user) throw userNotFound(userId);
      if (flag) {
        const { count } = await this.prisma.user.updateMany({
          where: { id: userId, [flag]: false },
          // Granted by an administrator: the configuration's changes do not take it back.
          data: { [flag]: true, ...(flag === 'isAdmin' ? { adminByConfiguration: false } : {}) },
        });
        if (count === 0) throw alreadyMember(group);
        this.ctx.log.info({ groupId, userId }, 'user added to a built-in group');
        return {
          id: userId,
          groupId,
          subjectType: 'user',
          user,
          memberGroup: null,
          addedBy: { id: principal.userId, email: principal.email },
          addedAt: now,
          notes: input.notes ?? null,
        };
      }
      return this.insertMember(group, { subjectType: 'user', userId, addedById: principal.userId, notes: input.notes });
    }
    const memberGroupId = parseId(input.memberGroupInternalUuid!, 'member_group_internal_uuid');
    if (flag) throw protectedGroup(group, 'has users only as members');
    if (memberGroupId === groupId) {
      throw new AppError('VALIDATION_FAILED', 'A group cannot be a member of itself', {
        context: { field_errors: [{ field: 'member_group_internal_uuid', error: 'is the group itself' }] },
      });
    }
    await this.find(memberGroupId);
    return this.insertMember(group, {
      subjectType: 'group',
      memberGroupId,
      addedById: principal.userId,
      notes: input.notes,
    });
  }

  /** Removes a user (default) or a nested group; 404 when not a member. Returns the member's id. */
  async removeMember(rawGroupId: string, rawMemberId: string, subjectType: 'user' | 'group' = 'user'): Promise<string> {
    requireAdmin(this.ctx);
    const groupId = parseId(rawGroupId, 'group_id');
    const memberId = parseId(rawMemberId, 'member_uuid');
    const group = await this.find(groupId);
    if (group.id === EVERYONE_GROUP_ID) throw protectedGroup(group, 'has every user as a member');
    const flag = FLAG_GROUPS[groupId];
    let count: number;
    if (flag) {
      count = subjectType === 'user' ? await this.takeRole(memberId, flag) : 0;
    } else {
      ({ count } = await this.prisma.groupMember.deleteMany({
        where: subjectType === 'user' ? { groupId, userId: memberId } : { groupId, memberGroupId: memberId },
      }));
    }
    if (count === 0) {
      throw new AppError('RESOURCE_NOT_FOUND', 'No such member of this group', {
        context: { resource_type: 'group_member', group_id: groupId, member_uuid: memberId, subject_type: subjectType },
      });
    }
    this.ctx.log.info({ groupId, memberId, subjectType }, 'group member removed');
    return memberId;
  }

  /**
   * Takes a role from a user (1 when they had it, else 0) and revokes the access tokens they were issued
   * until now, which carry it; they refresh into tokens without it.
   */
  private async takeRole(userId: string, flag: 'isAdmin' | 'isSecurityReviewer'): Promise<number> {
    const now = this.ctx.now();
    const { count, revoked } = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({
        where: { id: userId, [flag]: true },
        data: { [flag]: false, ...(flag === 'isAdmin' ? { adminByConfiguration: false } : {}) },
      });
      const revoked = count > 0 ? await recordRevocations(tx, [everyTokenIssuedUpTo(userId, now.getTime())], now) : [];
      return { count, revoked };
    });
    await announceRevocations(this.ctx, revoked);
    return count;
  }

  private async insertMember(
    group: Group,
    member: {
      subjectType: 'user' | 'group';
      userId?: string;
      memberGroupId?: string;
      addedById: string;
      notes: string | null | undefined;
    },
  ): Promise<GroupMemberView> {
    try {
      const row = await this.prisma.groupMember.create({
        data: {
          groupId: group.id,
          subjectType: member.subjectType,
          userId: member.userId ?? null,
          memberGroupId: member.memberGroupId ?? null,
          addedById: member.addedById,
          addedAt: this.ctx.now(),
          notes: member.notes ?? null,
        },
        include: memberInclude,
      });
      this.ctx.log.info({ groupId: group.id, memberId: member.userId ?? member.memberGroupId }, 'group member added');
      return memberView(row);
    } catch (error) {
      if ((error as { code?: string }).code === 'P2002') throw alreadyMember(group);
      throw error;
    }
  }

  private async find(id: string): Promise<Group> {
    const group = await this.prisma.group.findUnique({ where: { id } });
    if (!group) throw groupNotFound(id);
    return group;
  }

  /** Records the identity provider groups signed-in users carry, with when they were first and last seen. */
  private async recordProviderGroups(): Promise<void> {
    await this.prisma.$executeRaw`
      INSERT INTO groups (id, provider, group_name, first_used, last_used, usage_count)
      SELECT gen_random_uuid(), u.provider, g.name, min(u.created_at),
             max(coalesce(u.last_login_at, u.created_at)), count(*)::int
        FROM users u CROSS JOIN LATERAL unnest(u.groups) AS g(name)
       GROUP BY u.provider, g.name
      ON CONFLICT (provider, group_name) DO UPDATE
        SET last_used = greatest(groups.last_used, EXCLUDED.last_used), usage_count = EXCLUDED.usage_count
        WHERE groups.last_used < EXCLUDED.last_used OR groups.usage_count <> EXCLUDED.usage_count`;
  }

  /** TMI's enriched fields, computed for a few groups at once. */
  private async enrich(groups: Group[]): Promise<AdminGroup[]> {
    if (groups.length === 0) return [];
    const [authorizations, memberCounts, claimCounts, flagCounts] = await Promise.all([
      this.prisma.$queryRaw<{ provider: string; name: string }[]>`
        SELECT DISTINCT provider, provider_id AS name FROM threat_model_access WHERE principal_type = 'group'`,
      this.prisma.groupMember.groupBy({ by: ['groupId'], _count: { _all: true } }),
      this.prisma.$queryRaw<{ provider: string; name: string; count: number }[]>`
        SELECT u.provider, g.name, count(*)::int AS count
          FROM users u CROSS JOIN LATERAL unnest(u.groups) AS g(name) GROUP BY u.provider, g.name`,
      this.prisma.$queryRaw<{ users: number; admins: number; reviewers: number }[]>`
        SELECT count(*)::int AS users, (count(*) FILTER (WHERE is_admin))::int AS admins,
               (count(*) FILTER (WHERE is_security_reviewer))::int AS reviewers FROM users`,
    ]);
    const used = new Set(authorizations.map((row) => `${row.provider}\u0000${row.name}`));
    const members = new Map(memberCounts.map((row) => [row.groupId, row._count._all]));
    const claims = new Map(claimCounts.map((row) => [`${row.provider}\u0000${row.name}`, row.count]));
    const counts = flagCounts[0]!;
    return groups.map((group) => {
      const usedInAuthorizations =
        used.has(`${group.provider}\u0000${group.groupName}`) || used.has(`*\u0000${group.groupName}`);
      let memberCount: number;
      if (group.id === EVERYONE_GROUP_ID) memberCount = counts.users;
      else if (FLAG_GROUPS[group.id] === 'isAdmin') memberCount = counts.admins;
      else if (FLAG_GROUPS[group.id] === 'isSecurityReviewer') memberCount = counts.reviewers;
      else memberCount = (members.get(group.id) ?? 0) + (claims.get(`${group.provider}\u0000${group.groupName}`) ?? 0);
      return { group, usedInAuthorizations, usedInAdminGrants: FLAG_GROUPS[group.id] === 'isAdmin', memberCount };
    });
  }
}

function alreadyMember(group: Group): AppError {
  return new AppError('CONFLICT', `Already a member of ${group.groupName}`, { context: { group_id: group.id } });
}
