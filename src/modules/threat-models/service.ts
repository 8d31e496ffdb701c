import type { Principal } from '../../auth/principal.js';
import type { Prisma, ThreatModel } from '../../generated/prisma/client.js';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import {
  type AuthorizationEntryInput,
  type MetadataEntryInput,
  parseId,
  patchableSchema,
  type ThreatModelInput,
  threatModelInputSchema,
} from './input.js';
import { parseInput } from '../../infra/errors/validation.js';
import { withEvents } from '../events/events.js';
import { threatModelNotFound } from './access.js';
import { applyJsonPatch, type JsonPatchOperation } from '../shared/json-patch.js';

export type { JsonPatchOperation };
import { assertCan, can, type Role, threatModelsVisibleTo } from './policy.js';
import { loadThreatModel, threatModelInclude, type ThreatModelRecord } from './read.js';
import { containsText } from '../shared/filters.js';

export type { ThreatModelRecord };

export interface ThreatModelFilter {
  name?: string | null;
  owner?: string | null;
  description?: string | null;
  issueUri?: string | null;
  status?: string[] | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  modifiedAfter?: Date | null;
  modifiedBefore?: Date | null;
}

/** The filter part of a list query, combined with what the principal may see. */
export function threatModelListWhere(
  principal: Principal,
  filter: ThreatModelFilter = {},
): Prisma.ThreatModelWhereInput {
  const and: Prisma.ThreatModelWhereInput[] = [threatModelsVisibleTo(principal)];
  if (filter.name) and.push({ name: containsText(filter.name) });
  if (filter.description) and.push({ description: containsText(filter.description) });
  if (filter.issueUri) and.push({ issueUri: containsText(filter.issueUri) });
  if (filter.owner)
    and.push({ owner: { OR: [{ name: containsText(filter.owner) }, { email: containsText(filter.owner) }] } });
  if (filter.status && filter.status.length > 0) and.push({ status: { in: filter.status } });
  if (filter.createdAfter || filter.createdBefore)
    and.push({ createdAt: { gte: filter.createdAfter ?? undefined, lte: filter.createdBefore ?? undefined } });
  if (filter.modifiedAfter || filter.modifiedBefore)
    and.push({ modifiedAt: { gte: filter.modifiedAfter ?? undefined, lte: filter.modifiedBefore ?? undefined } });
  return { AND: and };
}

function ownerEntry(owner: {
  provider: string;
  providerId: string;
  name: string;
  email: string;
}): AuthorizationEntryInput {
  return {
    principalType: 'user',
    provider: owner.provider,
    providerId: owner.providerId,
    displayName: owner.name,
    email: owner.email,
    role: 'owner',
  };
}

function principalKey(entry: { principalType: string; provider: string; providerId: string }): string {
  return `${entry.principalType}\u0000${entry.provider}\u0000${entry.providerId}`;
}

type Person = { provider: string; providerId: string; name: string; email: string };

/**
 * The owner is always in the list as owner, and so is the security reviewer while assigned;
 * the same principal may appear only once.
 */
function normaliseAuthorization(
  entries: AuthorizationEntryInput[],
  owner: Person,
  securityReviewer?: Person | null,
): AuthorizationEntryInput[] {
  const seen = new Set<string>();
  for (const entry of entries) {
    const key = principalKey(entry);
    if (seen.has(key)) {
      throw new AppError(
        'VALIDATION_FAILED',
        `Duplicate authorization entry for ${entry.principalType} ${entry.providerId}`,
        {
          context: { field_errors: [{ field: 'authorization', error: `duplicate principal ${entry.providerId}` }] },
        },
      );
    }
    seen.add(key);
  }
  const pinned =
    securityReviewer && securityReviewer.providerId !== owner.providerId ? [owner, securityReviewer] : [owner];
  const pinnedKeys = new Set(
    pinned.map((person) =>
      principalKey({ principalType: 'user', provider: person.provider, providerId: person.providerId }),
    ),
  );
  return [...pinned.map(ownerEntry), ...entries.filter((entry) => !pinnedKeys.has(principalKey(entry)))];
}

function accessRows(entries: AuthorizationEntryInput[]): Prisma.ThreatModelAccessCreateManyThreatModelInput[] {
  return entries.map((entry, position) => ({
    position,
    principalType: entry.principalType,
    provider: entry.provider,
    providerId: entry.providerId,
    displayName: entry.displayName ?? null,
    email: entry.email ?? null,
    role: entry.role,
  }));
}

function metadataRows(entries: MetadataEntryInput[]): Prisma.ThreatModelMetadataCreateManyThreatModelInput[] {
  const keys = new Set<string>();
  for (const entry of entries) {
    if (keys.has(entry.key)) {
      throw new AppError('VALIDATION_FAILED', `Duplicate metadata key ${entry.key}`, {
        context: { field_errors: [{ field: 'metadata', error: `duplicate key ${entry.key}` }] },
      });
    }
    keys.add(entry.key);
  }
  return entries.map(({ key, value }) => ({ key, value }));
}

function sameAuthorization(current: ThreatModelRecord['authorization'], next: AuthorizationEntryInput[]): boolean {
  if (current.length !== next.length) return false;
  return current.every((entry, index) => {
    const other = next[index];
    return (
      other !== undefined &&
      principalKey(entry) === principalKey(other) &&
      entry.role === other.role &&
      (entry.displayName ?? null) === (other.displayName ?? null) &&
      (entry.email ?? null) === (other.email ?? null)
    );
  });
}

/** The client-visible document a JSON Patch is applied to (read-only fields included, so `test` works). */
function patchDocument(record: ThreatModelRecord) {
  const user = (u: ThreatModelRecord['owner']) => ({
    principalType: 'user',
    provider: u.provider,
    providerId: u.providerId,
    displayName: u.name,
    email: u.email,
  });
  return {
    id: record.id,
    alias: record.alias,
    name: record.name,
    description: record.description,
    threatModelFramework: record.threatModelFramework,
    issueUri: record.issueUri,
    status: record.status,
    statusUpdated: record.statusUpdated?.toISOString() ?? null,
    isConfidential: record.isConfidential,
    projectId: record.projectId,
    version: record.version,
    createdAt: record.createdAt.toISOString(),
    modifiedAt: record.modifiedAt.toISOString(),
    createdBy: user(record.createdBy),
    owner: user(record.owner),
    securityReviewer: record.securityReviewer ? user(record.securityReviewer) : null,
    authorization: record.authorization.map((entry) => ({
      principalType: entry.principalType,
      provider: entry.provider,
      providerId: entry.providerId,
      ...(entry.displayName !== null ? { displayName: entry.displayName } : {}),
      ...(entry.email !== null ? { email: entry.email } : {}),
      role: entry.role,
    })),
    metadata: record.metadata.map(({ key, value }) => ({ key, value })),
  };
}

export class ThreatModelService {
  constructor(private readonly ctx: ServiceContext) {}

  private get db() {
    return this.ctx.db;
  }

  /** Reads one threat model the caller may see: 404 when it does not exist, 403 when it is not theirs. */
  async get(rawId: string): Promise<ThreatModelRecord> {
    const principal = requirePrincipal(this.ctx);
    const id = parseId(rawId);
    const record = await loadThreatModel(this.db, id);
    if (!record) throw notFound(id);
    assertCan(principal, 'threat_model:read', record);
    return record;
  }

  async list(filter: ThreatModelFilter, page: { limit: number; offset: number }) {
    const principal = requirePrincipal(this.ctx);
    const where = threatModelListWhere(principal, filter);
    const [items, total] = await Promise.all([
      this.db.prisma.threatModel.findMany({
        where,
        include: threatModelInclude,
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: page.limit,
        skip: page.offset,
      }),
      this.db.prisma.threatModel.count({ where }),
    ]);
    return { items, total, limit: page.limit, offset: page.offset };
  }

  async create(rawInput: ThreatModelInput): Promise<ThreatModelRecord> {
    const principal = requirePrincipal(this.ctx);
    const input = parseInput(threatModelInputSchema, rawInput);
    const owner = {
      provider: principal.provider,
      providerId: principal.providerId,
      name: principal.name,
      email: principal.email,
    };
    const authorization = normaliseAuthorization(input.authorization ?? [], owner);
    const metadata = metadataRows(input.metadata ?? []);
    const now = this.ctx.now();
    return withEvents(this.ctx, async (tx, events) => {
      const record = await tx.threatModel.create({
        data: {
          name: input.name,
          description: input.description ?? null,
          threatModelFramework: input.threatModelFramework || 'STRIDE',
          issueUri: input.issueUri?.trim() || null,
          isConfidential: input.isConfidential ?? false,
          status: 'not_started',
          statusUpdated: now,
          createdAt: now,
          modifiedAt: now,
          ownerId: principal.userId,
          createdById: principal.userId,
          authorization: { createMany: { data: accessRows(authorization) } },
          metadata: { createMany: { data: metadata } },
        },
        include: threatModelInclude,
      });
      await events.record(threatModelEvent('created', record));
      return record;
    });
  }

  /** Replaces the client-writable fields (PUT). Omitted authorization and metadata are kept. */
  async update(rawId: string, rawInput: ThreatModelInput, expectedVersion?: number | null): Promise<ThreatModelRecord> {
    const id = parseId(rawId);
    const input = parseInput(threatModelInputSchema, rawInput);
    return this.change(id, expectedVersion, (current) => {
      if (input.isConfidential != null && input.isConfidential !== current.isConfidential) {
        throw new AppError('VALIDATION_FAILED', 'is_confidential can only be set when the threat model is created', {
          context: { field_errors: [{ field: 'isConfidential', error: 'read-only after creation' }] },
        });
      }
      return {
        name: input.name,
        description: input.description ?? null,
        threatModelFramework: input.threatModelFramework || current.threatModelFramework,
        issueUri: input.issueUri?.trim() || null,
        status: current.status,
        authorization: input.authorization ?? undefined,
        metadata: input.metadata ?? undefined,
      };
    });
  }

  /** Applies RFC 6902 operations to the threat model's document; read-only fields may be tested, not changed. */
  async patch(
    rawId: string,
    operations: JsonPatchOperation[],
    expectedVersion?: number | null,
  ): Promise<ThreatModelRecord> {
    const id = parseId(rawId);
    return this.change(id, expectedVersion, (current) => {
      const next = applyJsonPatch(patchDocument(current), operations, patchableSchema);
      return {
        name: next.name,
        description: next.description ?? null,
        threatModelFramework: next.threatModelFramework,
        issueUri: next.issueUri?.trim() || null,
        status: next.status ?? current.status,
        authorization: next.authorization,
        metadata: next.metadata,
        owner: next.owner,
        securityReviewer: next.securityReviewer,
      };
    });
  }

  async delete(rawId: string): Promise<void> {
    const principal = requirePrincipal(this.ctx);
    const id = parseId(rawId);
    const record = await loadThreatModel(this.db, id);
    if (!record) throw notFound(id);
    assertCan(principal, 'threat_model:delete', record);
    await withEvents(this.ctx, async (tx, events) => {
      const { count } = await tx.threatModel.deleteMany({ where: { id } });
      if (count === 0) throw notFound(id);
      await events.record(threatModelEvent('deleted', record));
    });
  }

  private async change(
    id: string,
    expectedVersion: number | null | undefined,
    compute: (current: ThreatModelRecord) => {
      name: string;
      description: string | null;
      threatModelFramework: string;
      issueUri: string | null;
      status: string;
      authorization?: AuthorizationEntryInput[];
      metadata?: MetadataEntryInput[];
      owner?: { principalType: string; provider: string; providerId: string };
      /** undefined keeps the current reviewer; null unassigns. */
      securityReviewer?: { principalType: string; provider: string; providerId: string } | null;
    },
  ): Promise<ThreatModelRecord> {
    const principal = requirePrincipal(this.ctx);
    return withEvents(this.ctx, async (tx, events) => {
      const locked = await tx.$queryRaw<
        { version: number }[]
      >`SELECT version FROM threat_models WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) throw notFound(id);
      const current = await tx.threatModel.findUniqueOrThrow({ where: { id }, include: threatModelInclude });
      assertCan(principal, 'threat_model:write', current);
      if (expectedVersion != null && expectedVersion !== current.version) {
        throw new AppError('VERSION_CONFLICT', undefined, {
          context: { threat_model_id: id, expected_version: expectedVersion, current_version: current.version },
        });
      }
      const next = compute(current);
      const newOwner = next.owner ? await this.resolveUser(tx, current.owner, next.owner, 'owner') : current.owner;
      const ownerChanged = newOwner.id !== current.ownerId;
      const reviewer =
        next.securityReviewer === undefined
          ? current.securityReviewer
          : next.securityReviewer === null
            ? null
            : await this.resolveUser(tx, current.securityReviewer, next.securityReviewer, 'securityReviewer');
      const reviewerChanged = (reviewer?.id ?? null) !== current.securityReviewerId;
      const authorization = normaliseAuthorization(
        next.authorization ?? current.authorization.map((entry) => ({ ...entry })),
        newOwner,
        reviewer,
      );
      const authorizationChanged =
        ownerChanged || reviewerChanged || !sameAuthorization(current.authorization, authorization);
      if (authorizationChanged && !can(principal, 'threat_model:share', current)) {
        throw new AppError(
          'INSUFFICIENT_PERMISSIONS',
          'Only owners can change the owner, the security reviewer or the authorization list',
          { context: { threat_model_id: id, required_role: 'owner' as Role } },
        );
      }
      const now = this.ctx.now();
      const updated = await tx.threatModel.update({
        where: { id },
        data: {
          name: next.name,
          description: next.description,
          threatModelFramework: next.threatModelFramework,
          issueUri: next.issueUri,
          status: next.status,
          statusUpdated: next.status !== current.status ? now : undefined,
          ownerId: newOwner.id,
          securityReviewerId: reviewer?.id ?? null,
          modifiedAt: now,
          version: { increment: 1 },
        },
      });
      await events.record(threatModelEvent('updated', updated));
      if (authorizationChanged) {
        await tx.threatModelAccess.deleteMany({ where: { threatModelId: id } });
        await tx.threatModelAccess.createMany({
          data: accessRows(authorization).map((row) => ({ ...row, threatModelId: id })),
        });
      }
      if (next.metadata) {
        await tx.threatModelMetadata.deleteMany({ where: { threatModelId: id } });
        await tx.threatModelMetadata.createMany({
          data: metadataRows(next.metadata).map((row) => ({ ...row, threatModelId: id })),
        });
      }
      return tx.threatModel.findUniqueOrThrow({ where: { id }, include: threatModelInclude });
    });
  }

  /** The user a principal in the patch names (owner, security reviewer); they must have signed in before. */
  private async resolveUser(
    tx: Tx,
    current: ThreatModelRecord['owner'] | null,
    person: { principalType: string; provider: string; providerId: string },
    field: 'owner' | 'securityReviewer',
  ): Promise<ThreatModelRecord['owner']> {
    if (current && person.provider === current.provider && person.providerId === current.providerId) return current;
    const user =
      person.principalType === 'user'
        ? await tx.user.findFirst({
            where: { provider: person.provider, OR: [{ providerId: person.providerId }, { email: person.providerId }] },
          })
        : null;
    if (!user) {
      throw new AppError('VALIDATION_FAILED', `The ${field} must be an existing user`, {
        context: { field_errors: [{ field, error: 'unknown user' }] },
      });
    }
    return user;
  }
}

/** The event snapshot: the threat model's own fields, without the people and lists it links to. */
function threatModelEvent(action: 'created' | 'updated' | 'deleted', record: ThreatModel) {
  return {
    resource: 'threat_model' as const,
    action,
    threatModelId: record.id,
    objectId: record.id,
    data: {
      id: record.id,
      alias: record.alias,
      name: record.name,
      description: record.description,
      threatModelFramework: record.threatModelFramework,
      issueUri: record.issueUri,
      status: record.status,
      isConfidential: record.isConfidential,
      version: record.version,
      ownerId: record.ownerId,
      createdAt: record.createdAt.toISOString(),
      modifiedAt: record.modifiedAt.toISOString(),
    },
  };
}

const notFound = threatModelNotFound;
