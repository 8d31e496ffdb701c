import type { PrismaClient } from '../generated/prisma/client.js';
import type { Config } from '../infra/config.js';
import type { AdministratorRule } from '../infra/identity-config.js';
import { type IssuedToken, recordRevocations } from '../modules/credentials/revocation.js';
import { everyTokenIssuedUpTo } from './tokens.js';

// Who is an administrator by configuration: the TMI_ADMIN_* variables and the configuration file's
// `administrators:` list (seed 003: a user by provider + provider_id, or by e-mail, or every member of an
// identity provider group). Decided when a user signs in, from what the provider said about them, and
// checked again when the server starts, from what the provider said at their last sign-in: someone taken
// off the configuration is no longer an administrator even if they only ever refresh their tokens.

export interface SignedInIdentity {
  provider: string;
  providerId: string;
  email: string;
  /** Only an address the provider vouches for can match an e-mail entry. */
  emailVerified: boolean;
  groups: string[];
}

export function isConfiguredAdministrator(auth: Config['auth'], identity: SignedInIdentity): boolean {
  return (
    matchesEnvironmentAdmin(auth.admin, identity) ||
    auth.identity.administrators.some((rule) => matchesRule(rule, identity))
  );
}

function matchesEnvironmentAdmin(admin: Config['auth']['admin'], identity: SignedInIdentity): boolean {
  const providerMatches = admin.provider === identity.provider;
  if (providerMatches && admin.providerId !== undefined && admin.providerId === identity.providerId) return true;
  return (
    admin.email !== undefined &&
    identity.emailVerified &&
    sameEmail(admin.email, identity.email) &&
    (admin.provider === undefined || providerMatches)
  );
}

function matchesRule(rule: AdministratorRule, identity: SignedInIdentity): boolean {
  if (rule.provider !== '*' && rule.provider !== identity.provider) return false;
  if (rule.subjectType === 'group') return identity.groups.includes(rule.groupName);
  // The provider id identifies the user when given; the e-mail address is then only a note (seed 003).
  if (rule.providerId !== undefined) return rule.providerId === identity.providerId;
  return rule.email !== undefined && identity.emailVerified && sameEmail(rule.email, identity.email);
}

function sameEmail(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Takes administrator rights back from users who had them by configuration and whom the configuration no
 * longer names, judged on their last sign-in (provider, id, verified e-mail, groups), and revokes the access
 * tokens they were issued until now (they carry the role). Returns those revocations, recorded, to announce.
 */
export async function demoteFormerConfiguredAdministrators(
  prisma: PrismaClient,
  auth: Config['auth'],
  now: Date,
): Promise<IssuedToken[]> {
  const configured = await prisma.user.findMany({
    where: { adminByConfiguration: true },
    select: { id: true, provider: true, providerId: true, email: true, emailVerified: true, groups: true },
  });
  const former = configured.filter((user) => !isConfiguredAdministrator(auth, user)).map((user) => user.id);
  if (former.length === 0) return [];
  return prisma.$transaction(async (tx) => {
    const demoted = await tx.user.updateManyAndReturn({
      where: { id: { in: former }, adminByConfiguration: true },
      data: { isAdmin: false, adminByConfiguration: false },
      select: { id: true },
    });
    return recordRevocations(
      tx,
      demoted.map((user) => everyTokenIssuedUpTo(user.id, now.getTime())),
      now,
    );
  });
}
