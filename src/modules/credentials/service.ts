import { randomBytes } from 'node:crypto';
import { hashSecret, randomSecret } from '../../auth/tokens.js';
import type { Principal } from '../../auth/principal.js';
import { requireAdmin, requirePrincipal, type ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import type { User } from '../../generated/prisma/client.js';
import { parseId } from '../threat-models/input.js';
import {
  adminPageSchema,
  type AutomationAccountInput,
  automationAccountInputSchema,
  type CredentialInput,
  credentialInputSchema,
  normalizeAutomationName,
  ownPageSchema,
} from './input.js';
import { announceRevocations, credentialTokens, recordRevocations } from './revocation.js';

// Client credentials (OAuth 2.0 client_credentials grant, TMI's "CCG"): a user's own, which only
// administrators and security reviewers may create, and those of automation accounts, which
// administrators create and manage. The secret is shown once and kept as a SHA-256 hash (it is 256
// random bits, so a slow hash adds nothing). Deleting a credential revokes every token issued through it.

/** TMI's default per-user limit on client credentials. */
export const CLIENT_CREDENTIAL_QUOTA = 10;
/** TMI's built-in TMI Automation group, of which automation accounts are members. */
export const TMI_AUTOMATION_GROUP_ID = '00000000-0000-0000-0000-000000000004';

const CLIENT_ID_PREFIX = 'tmi_cc_';
const CLIENT_SECRET_PREFIX = 'tmi_cs_';

/** A credential as listed: never its secret (TMI's ClientCredentialInfo). */
export interface ClientCredentialInfo {
  id: string;
  clientId: string;
  name: string;
  description: string | null;
  isActive: boolean;
  lastUsedAt: Date | null;
  createdAt: Date;
  modifiedAt: Date;
  expiresAt: Date | null;
}

/** A credential just created, with the secret shown this once (TMI's ClientCredentialResponse). */
export interface CreatedClientCredential {
  id: string;
  clientId: string;
  clientSecret: string;
  name: string;
  description: string | null;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface ClientCredentialPage {
  credentials: ClientCredentialInfo[];
  total: number;
  limit: number;
  offset: number;
}

export interface AutomationAccount {
  user: User;
  clientCredential: CreatedClientCredential;
}

const infoSelect = {
  id: true,
  clientId: true,
  name: true,
  description: true,
  isActive: true,
  lastUsedAt: true,
  createdAt: true,
  modifiedAt: true,
  expiresAt: true,
} as const;

export class ClientCredentialService {
  constructor(private readonly ctx: ServiceContext) {}

  private get prisma() {
    return this.ctx.db.prisma;
  }

  /** POST /me/client_credentials: administrators and security reviewers, never a client credential's own token. */
  async createOwn(rawInput: CredentialInput): Promise<CreatedClientCredential> {
    const principal = requirePrincipal(this.ctx);
    if (await this.isClientCredentialToken(principal)) {
      throw new AppError(
        'INSUFFICIENT_PERMISSIONS',
        'A token from a client credential cannot create client credentials',
        {
          suggestion: 'Sign in interactively to manage client credentials',
        },
      );
    }
    if (!principal.isAdmin && !principal.isSecurityReviewer) {
      throw new AppError(
        'INSUFFICIENT_PERMISSIONS',
        'Only administrators and security reviewers can create client credentials',
        { context: { required_role: 'administrator or security reviewer' } },
      );
    }
    const input = this.checkedInput(rawInput);
    return this.prisma.$transaction(async (tx) => {
      // One creation at a time per user, so concurrent requests cannot overrun the quota.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`client_credentials:${principal.userId}`}, 0))`;
      const held = await tx.clientCredential.count({ where: { ownerId: principal.userId } });
      if (held >= CLIENT_CREDENTIAL_QUOTA) {
        throw new AppError('QUOTA_EXCEEDED', `Client credential quota exceeded: ${held}/${CLIENT_CREDENTIAL_QUOTA}`, {
          context: { quota: CLIENT_CREDENTIAL_QUOTA, current: held },
          suggestion: 'Delete a client credential you no longer use',
        });
      }
      return insertCredential(tx, principal.userId, input, this.ctx.now());
    });
  }

  /** GET /me/client_credentials: the caller's credentials, newest first, without secrets. */
  listOwn(page: { limit: number; offset: number }): Promise<ClientCredentialPage> {
    const principal = requirePrincipal(this.ctx);
    return this.page(principal.userId, parseInput(ownPageSchema, page));
  }

  /** DELETE /me/client_credentials/{id}: 404 when it is not one of the caller's. */
  async deleteOwn(rawId: string): Promise<void> {
    const principal = requirePrincipal(this.ctx);
    await this.deleteCredential(principal.userId, parseId(rawId, 'credential_id'));
  }

  /** GET /admin/users/{user_id}/client_credentials: automation accounts only. */
  async listFor(rawUserId: string, page: { limit: number; offset: number }): Promise<ClientCredentialPage> {
    requireAdmin(this.ctx);
    const user = await this.automationUser(rawUserId);
    return this.page(user.id, parseInput(adminPageSchema, page));
  }

  /** POST /admin/users/{user_id}/client_credentials: automation accounts only; administrators bypass the quota. */
  async createFor(rawUserId: string, rawInput: CredentialInput): Promise<CreatedClientCredential> {
    requireAdmin(this.ctx);
    const user = await this.automationUser(rawUserId);
    const input = this.checkedInput(rawInput);
    return this.prisma.$transaction((tx) => insertCredential(tx, user.id, input, this.ctx.now()));
  }

  async deleteFor(rawUserId: string, rawCredentialId: string): Promise<void> {
    requireAdmin(this.ctx);
    const user = await this.automationUser(rawUserId);
    await this.deleteCredential(user.id, parseId(rawCredentialId, 'credential_id'));
  }

  /**
   * POST /admin/users/automation: a `tmi` user flagged as automation, a member of TMI Automation, with a
   * first client credential; all or nothing. 409 when the provider id or the email is taken.
   */
  async createAutomationAccount(rawInput: AutomationAccountInput): Promise<AutomationAccount> {
    const admin = requireAdmin(this.ctx);
    const input = parseInput(automationAccountInputSchema, rawInput);
    const name = input.name.trim();
    const normalized = normalizeAutomationName(name);
    if (normalized.length < 2) {
      throw new AppError('VALIDATION_FAILED', 'Invalid input: name: must keep at least 2 letters or digits', {
        context: { field_errors: [{ field: 'name', error: 'must keep at least 2 letters or digits' }] },
      });
    }
    const providerId = `tmi-automation-${normalized}`;
    const email = input.email ?? `${providerId}@tmi.local`;
    const displayName = `TMI Automation: ${name}`;
    const now = this.ctx.now();
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('automation_accounts', 0))`;
      const taken = await tx.user.findFirst({
        where: { OR: [{ provider: 'tmi', providerId }, { email: { equals: email, mode: 'insensitive' } }] },
        select: { id: true },
      });
      if (taken) {
        throw new AppError('CONFLICT', 'An account with the same email or provider ID already exists', {
          context: { provider: 'tmi', provider_id: providerId, email },
        });
      }
      const user = await tx.user.create({
        data: {
          provider: 'tmi',
          providerId,
          email,
          name: displayName,
          automation: true,
          emailVerified: true,
          createdAt: now,
        },
      });
      await tx.groupMember.create({
        data: {
          groupId: TMI_AUTOMATION_GROUP_ID,
          subjectType: 'user',
          userId: user.id,
          addedById: admin.userId,
          notes: 'Added automatically when the automation account was created',
        },
      });
      const clientCredential = await insertCredential(
        tx,
        user.id,
        { name, description: `Auto-created for automation account ${displayName}`, expiresAt: null },
        now,
      );
      return { user, clientCredential };
    });
  }

  private checkedInput(rawInput: CredentialInput) {
    const input = parseInput(credentialInputSchema, rawInput);
    if (input.expiresAt && input.expiresAt <= this.ctx.now()) {
      throw new AppError('VALIDATION_FAILED', 'Invalid input: expiresAt: must be in the future', {
        context: { field_errors: [{ field: 'expiresAt', error: 'must be in the future' }] },
      });
    }
    return { name: input.name.trim(), description: input.description ?? null, expiresAt: input.expiresAt ?? null };
  }

  private async page(ownerId: string, page: { limit: number; offset: number }): Promise<ClientCredentialPage> {
    const [credentials, total] = await Promise.all([
      this.prisma.clientCredential.findMany({
        where: { ownerId },
        select: infoSelect,
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        skip: page.offset,
        take: page.limit,
      }),
      this.prisma.clientCredential.count({ where: { ownerId } }),
    ]);
    return { credentials, total, limit: page.limit, offset: page.offset };
  }

  /** Deletes the credential and revokes the unexpired tokens issued through it. */
  private async deleteCredential(ownerId: string, id: string): Promise<void> {
    const now = this.ctx.now();
    const revoked = await this.prisma.$transaction(async (tx) => {
      // Locked first: a token being issued through it meanwhile waits, then fails (see exchangeClientCredentials).
      const locked = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM client_credentials WHERE id = ${id}::uuid AND owner_id = ${ownerId}::uuid FOR UPDATE`;
      if (locked.length === 0) {
        throw new AppError('RESOURCE_NOT_FOUND', 'Client credential not found', {
          context: { credential_id: id },
        });
      }
      const tokens = await recordRevocations(tx, await credentialTokens(tx, { ownerId, credentialId: id }), now);
      await tx.clientCredential.delete({ where: { id } });
      return tokens;
    });
    await announceRevocations(this.ctx, revoked);
    this.ctx.log.info({ credentialId: id, ownerId, revokedTokens: revoked.length }, 'client credential deleted');
  }

  private async automationUser(rawUserId: string): Promise<User> {
    const id = parseId(rawUserId, 'user_id');
    const user = await this.prisma.user.findUnique({ where: { id } });
    if (!user) throw new AppError('RESOURCE_NOT_FOUND', 'User not found', { context: { user_id: id } });
    if (!user.automation) {
      throw new AppError('INSUFFICIENT_PERMISSIONS', 'The user is not an automation account', {
        context: { user_id: id },
        suggestion: 'Users manage their own client credentials under /me/client_credentials',
      });
    }
    return user;
  }

  private async isClientCredentialToken(principal: Principal): Promise<boolean> {
    const row = await this.prisma.clientCredentialToken.findUnique({
      where: { jti: principal.tokenId },
      select: { jti: true },
    });
    return row !== null;
  }
}

async function insertCredential(
  tx: Tx,
  ownerId: string,
  input: { name: string; description: string | null; expiresAt: Date | null },
  now: Date,
): Promise<CreatedClientCredential> {
  const clientSecret = `${CLIENT_SECRET_PREFIX}${randomSecret(32)}`;
  const created = await tx.clientCredential.create({
    data: {
      ownerId,
      clientId: `${CLIENT_ID_PREFIX}${randomBytes(16).toString('base64url')}`,
      secretHash: hashSecret(clientSecret),
      name: input.name,
      description: input.description,
      expiresAt: input.expiresAt,
      createdAt: now,
      modifiedAt: now,
    },
  });
  return {
    id: created.id,
    clientId: created.clientId,
    clientSecret,
    name: created.name,
    description: created.description,
    createdAt: created.createdAt,
    expiresAt: created.expiresAt,
  };
}
