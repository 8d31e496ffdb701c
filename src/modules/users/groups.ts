import type { Prisma } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { adminPageSchema } from '../credentials/input.js';
import { parseId } from '../threat-models/input.js';
import { builtInGroupMemberships, type GroupMembership } from './service.js';

// The caller's own groups (GET /me/groups): TMI-managed groups they are a direct member of — the built-in
// administrators and security reviewers by role, the others by membership (never `everyone`). And the
// members of one of their groups (GET /me/groups/{id}/members), for its effective members only (direct,
// through a nested group, or through the identity provider's groups), without the administrators' notes.

const EVERYONE_GROUP_ID = '00000000-0000-0000-0000-000000000000';
const FLAG_GROUPS: Record<string, 'isAdmin' | 'isSecurityReviewer'> = {
  '00000000-0000-0000-0000-000000000002': 'isAdmin',
  '00000000-0000-0000-0000-000000000001': 'isSecurityReviewer',
};

/** One member as a fellow member sees it (TMI's GroupMember without added_by and notes). */
export interface FellowMember {
  id: string;
  groupId: string;
  subjectType: 'user' | 'group';
  user: { id: string; email: string; name: string; provider: string; providerId: string } | null;
  memberGroup: { id: string; groupName: string; name: string | null } | null;
  addedBy: null;
  addedAt: Date;
  notes: null;
}

export interface FellowMemberPage {
  items: FellowMember[];
  total: number;
  limit: number;
  offset: number;
}

const userFields = { id: true, email: true, name: true, provider: true, providerId: true } as const;

export class MyGroupsService {
  constructor(private readonly ctx: ServiceContext) {}

  private get prisma() {
    return this.ctx.db.prisma;
  }

  async list(): Promise<GroupMembership[]> {
    const principal = requirePrincipal(this.ctx);
    const [user, rows] = await Promise.all([
      this.prisma.user.findUnique({
        where: { id: principal.userId },
        select: { isAdmin: true, isSecurityReviewer: true },
      }),
      this.prisma.groupMember.findMany({
        where: { userId: principal.userId, subjectType: 'user' },
        select: { group: { select: { id: true, groupName: true, name: true } } },
        orderBy: [{ addedAt: 'asc' }, { id: 'asc' }],
      }),
    ]);
    const builtIn = user ? builtInGroupMemberships(user) : [];
    const direct = rows
      .filter((row) => !builtIn.some((group) => group.internalUuid === row.group.id))
      .map((row) => ({
        internalUuid: row.group.id,
        groupName: row.group.groupName,
        name: row.group.name ?? row.group.groupName,
      }));
    return [...builtIn, ...direct];
  }

  async members(rawGroupId: string, page: { limit: number; offset: number }): Promise<FellowMemberPage> {
    const principal = requirePrincipal(this.ctx);
    const groupId = parseId(rawGroupId, 'group_id');
    const { limit, offset } = parseInput(adminPageSchema, page);
    const group = await this.prisma.group.findUnique({ where: { id: groupId } });
    if (!group) {
      throw new AppError('RESOURCE_NOT_FOUND', 'Group not found', {
        context: { resource_type: 'group', resource_id: groupId },
      });
    }
    if (!(await this.isEffectiveMember(principal.userId, groupId))) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'Only members of a group can list its members', {
        context: { group_id: groupId },
      });
    }
    const flag = FLAG_GROUPS[groupId];
    if (flag) {
      const where: Prisma.UserWhereInput = { [flag]: true };
      const [users, total] = await Promise.all([
        this.prisma.user.findMany({
          where,
          select: { ...userFields, createdAt: true },
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
          skip: offset,
          take: limit,
        }),
        this.prisma.user.count({ where }),
      ]);
      const items = users.map(({ createdAt, ...user }) => ({
        id: user.id,
        groupId,
        subjectType: 'user' as const,
        user,
        memberGroup: null,
        addedBy: null,
        addedAt: createdAt,
        notes: null,
      }));
      return { items, total, limit, offset };
    }
    const [rows, total] = await Promise.all([
      this.prisma.groupMember.findMany({
        where: { groupId },
        select: {
          id: true,
          subjectType: true,
          addedAt: true,
          user: { select: userFields },
          memberGroup: { select: { id: true, groupName: true, name: true } },
        },
        orderBy: [{ addedAt: 'asc' }, { id: 'asc' }],
        skip: offset,
        take: limit,
      }),
      this.prisma.groupMember.count({ where: { groupId } }),
    ]);
    const items = rows.map((row) => ({
      id: row.id,
      groupId,
      subjectType: row.subjectType === 'group' ? ('group' as const) : ('user' as const),
      user: row.user,
      memberGroup: row.memberGroup,
      addedBy: null,
      addedAt: row.addedAt,
      notes: null,
    }));
    return { items, total, limit, offset };
  }

  /**
   * Whether the user belongs to the group: by role (built-in groups), as a direct member, through the
   * identity provider's groups (a group row of their provider named in their claims), or through any
   * chain of nested groups from one of those.
   */
  private async isEffectiveMember(userId: string, groupId: string): Promise<boolean> {
    if (groupId === EVERYONE_GROUP_ID) return true;
    const rows = await this.prisma.$queryRaw<{ member: boolean }[]>`
      WITH RECURSIVE mine(group_id) AS (
        SELECT gm.group_id FROM group_members gm WHERE gm.user_id = ${userId}::uuid
        UNION SELECT '00000000-0000-0000-0000-000000000002'::uuid FROM users WHERE id = ${userId}::uuid AND is_admin
        UNION SELECT '00000000-0000-0000-0000-000000000001'::uuid FROM users WHERE id = ${userId}::uuid AND is_security_reviewer
        UNION SELECT g.id FROM groups g JOIN users u ON u.id = ${userId}::uuid
               WHERE g.provider = u.provider AND g.group_name = ANY(u.groups)
        UNION SELECT '00000000-0000-0000-0000-000000000000'::uuid
        UNION SELECT gm.group_id FROM group_members gm JOIN mine ON gm.member_group_id = mine.group_id
      )
      SELECT EXISTS (SELECT 1 FROM mine WHERE group_id = ${groupId}::uuid) AS member`;
    return rows[0]?.member === true;
  }
}
