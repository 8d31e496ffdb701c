import type { Principal } from '../../auth/principal.js';
import { AppError } from '../../infra/errors/registry.js';
import type { Prisma } from '../../generated/prisma/client.js';

export type Role = 'reader' | 'writer' | 'owner';
export type ThreatModelAction =
  'threat_model:read' | 'threat_model:write' | 'threat_model:share' | 'threat_model:delete';

export const EVERYONE = { principalType: 'group', provider: '*', providerId: 'everyone' } as const;

export interface AccessEntry {
  principalType: 'user' | 'group';
  provider: string;
  providerId: string;
  email?: string | null;
  role: Role;
}

export interface AccessSubject {
  ownerId: string;
  authorization: AccessEntry[];
}

const rank: Record<Role, number> = { reader: 1, writer: 2, owner: 3 };
const required: Record<ThreatModelAction, Role> = {
  'threat_model:read': 'reader',
  'threat_model:write': 'writer',
  'threat_model:share': 'owner',
  'threat_model:delete': 'owner',
};

function providerMatches(entryProvider: string, principalProvider: string): boolean {
  return entryProvider === '*' || entryProvider === principalProvider;
}

export function entryMatches(entry: AccessEntry, principal: Principal): boolean {
  if (entry.principalType === 'group') {
    if (entry.providerId === EVERYONE.providerId) return true;
    return providerMatches(entry.provider, principal.provider) && principal.groups.includes(entry.providerId);
  }
  if (!providerMatches(entry.provider, principal.provider)) return false;
  return (
    entry.providerId === principal.providerId ||
    entry.providerId === principal.email ||
    (entry.email != null && entry.email.toLowerCase() === principal.email.toLowerCase())
  );
}

/** The strongest role any authorization entry gives the principal; the owner is always owner. */
export function roleOf(principal: Principal, subject: AccessSubject): Role | undefined {
  if (subject.ownerId === principal.userId) return 'owner';
  let best: Role | undefined;
  for (const entry of subject.authorization) {
    if (entryMatches(entry, principal) && (!best || rank[entry.role] > rank[best])) best = entry.role;
  }
  return best;
}

export function can(principal: Principal, action: ThreatModelAction, subject: AccessSubject): boolean {
  const role = roleOf(principal, subject);
  return role !== undefined && rank[role] >= rank[required[action]];
}

export function assertCan(
  principal: Principal,
  action: ThreatModelAction,
  subject: AccessSubject & { id: string },
): void {
  if (can(principal, action, subject)) return;
  const role = roleOf(principal, subject);
  throw new AppError('INSUFFICIENT_PERMISSIONS', undefined, {
    context: { threat_model_id: subject.id, required_role: required[action], ...(role ? { user_role: role } : {}) },
    suggestion: role ? `Ask an owner of the threat model for the ${required[action]} role` : undefined,
  });
}

/** The Prisma filter for "threat models this principal may read": list authorization stays in the domain. */
export function threatModelsVisibleTo(principal: Principal): Prisma.ThreatModelWhereInput {
  const providers = [principal.provider, '*'];
  return {
    OR: [
      { ownerId: principal.userId },
      {
        authorization: {
          some: {
            OR: [
              { principalType: 'group', providerId: EVERYONE.providerId },
              { principalType: 'group', provider: { in: providers }, providerId: { in: principal.groups } },
              {
                principalType: 'user',
                provider: { in: providers },
                providerId: { in: [principal.providerId, principal.email] },
              },
              {
                principalType: 'user',
                provider: { in: providers },
                email: { equals: principal.email, mode: 'insensitive' },
              },
            ],
          },
        },
      },
    ],
  };
}
