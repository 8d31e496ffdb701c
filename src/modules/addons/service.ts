import type { Addon as AddonRow, Prisma } from '../../generated/prisma/client.js';
import { requireAdmin, requirePrincipal, type ServiceContext } from '../../infra/context.js';
import type { Tx } from '../../infra/db.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { threatModelNotFound } from '../threat-models/access.js';
import { parseId } from '../threat-models/input.js';
import { can, threatModelsVisibleTo } from '../threat-models/policy.js';
import { loadThreatModelAccess } from '../threat-models/read.js';
import { insertDirectDelivery } from '../webhooks/fanout.js';
import {
  type AddonParameter,
  addonInputSchema,
  addonListSchema,
  invocationDataErrors,
  invokeAddonInputSchema,
  parametersFromStored,
  storedParameters,
} from './input.js';
import { reserveInvocation } from './quota.js';

export type Addon = AddonRow;
export type { AddonParameter };

/** Delivery statuses during which an invocation is active: its add-on cannot be deleted meanwhile. */
export const ACTIVE_INVOCATION_STATUSES = ['pending', 'in_progress'] as const;

export interface AddonInvocation {
  deliveryId: string;
  status: 'pending';
  createdAt: Date;
}

function addonNotFound(id: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Add-on not found', {
    context: { resource_type: 'addon', resource_id: id },
  });
}

function invalid(field: string, error: string): AppError {
  return new AppError('VALIDATION_FAILED', `Invalid input: ${field}: ${error}`, {
    context: { field_errors: [{ field, error }] },
    suggestion: 'Correct the validation errors and retry the request',
  });
}

/**
 * The add-ons the principal may see: administrators all of them; others the global ones and those scoped
 * to a threat model they can read (a scoped add-on of someone else's threat model does not exist for them).
 * Scoped add-ons are few (administrators register them), so their threat models are checked in one query.
 */
export async function addonsVisibleTo(ctx: ServiceContext): Promise<Prisma.AddonWhereInput> {
  const principal = requirePrincipal(ctx);
  if (principal.isAdmin) return {};
  const scoped = await ctx.db.prisma.addon.findMany({
    where: { threatModelId: { not: null } },
    distinct: ['threatModelId'],
    select: { threatModelId: true },
  });
  if (scoped.length === 0) return { threatModelId: null };
  const readable = await ctx.db.prisma.threatModel.findMany({
    where: { AND: [{ id: { in: scoped.map((addon) => addon.threatModelId!) } }, threatModelsVisibleTo(principal)] },
    select: { id: true },
  });
  return { OR: [{ threatModelId: null }, { threatModelId: { in: readable.map((tm) => tm.id) } }] };
}

/**
 * The list's filter: what the principal may see and, given a threat model, the add-ons scoped to it plus
 * the global ones (a threat model the caller cannot read has no visible scoped add-ons, so its filter
 * leaves the global ones: TMI's list documents no 403 or 404).
 */
export async function addonListWhere(
  ctx: ServiceContext,
  rawThreatModelId?: string | null,
): Promise<Prisma.AddonWhereInput> {
  const visible = await addonsVisibleTo(ctx);
  if (rawThreatModelId == null) return visible;
  const threatModelId = parseId(rawThreatModelId);
  return { AND: [visible, { OR: [{ threatModelId: null }, { threatModelId }] }] };
}

/** Add-ons: actions administrators register on a webhook subscription and users invoke on TMI objects. */
export class AddonService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Registers an add-on (admin only); its webhook subscription and threat model must exist (404). */
  async create(rawInput: unknown): Promise<Addon> {
    const principal = requireAdmin(this.ctx);
    const input = parseInput(addonInputSchema, rawInput);
    const { prisma } = this.ctx.db;
    const [webhook, threatModel] = await Promise.all([
      prisma.webhookSubscription.findUnique({ where: { id: input.webhookId }, select: { id: true } }),
      input.threatModelId
        ? prisma.threatModel.findUnique({ where: { id: input.threatModelId }, select: { id: true } })
        : undefined,
    ]);
    if (!webhook) {
      throw new AppError('RESOURCE_NOT_FOUND', 'Webhook subscription not found', {
        context: { resource_type: 'webhook_subscription', resource_id: input.webhookId },
      });
    }
    if (input.threatModelId && !threatModel) throw threatModelNotFound(input.threatModelId);
    // The subscription may be deleted meanwhile: the foreign key then fails, reported as the same 404.
    const addon = await prisma.addon
      .create({
        data: {
          name: input.name,
          webhookId: input.webhookId,
          description: input.description ?? null,
          icon: input.icon ?? null,
          objects: input.objects,
          threatModelId: input.threatModelId ?? null,
          parameters: storedParameters(input.parameters) as Prisma.InputJsonArray,
          createdById: principal.userId,
          createdAt: this.ctx.now(),
        },
      })
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === 'P2003') {
          throw new AppError('RESOURCE_NOT_FOUND', 'Webhook subscription not found', {
            context: { resource_type: 'webhook_subscription', resource_id: input.webhookId },
          });
        }
        throw error;
      });
    this.ctx.log.info({ addonId: addon.id, webhookId: addon.webhookId }, 'add-on created');
    return addon;
  }

  async get(rawId: string): Promise<Addon> {
    const id = parseId(rawId, 'id');
    const addon = await this.ctx.db.prisma.addon.findFirst({
      where: { AND: [{ id }, await addonsVisibleTo(this.ctx)] },
    });
    if (!addon) throw addonNotFound(id);
    return addon;
  }

  /** An offset page, newest first; with a threat model, its add-ons and the global ones. */
  async list(page: { limit: number; offset: number; threatModelId?: string | null }) {
    requirePrincipal(this.ctx);
    const { limit, offset, threatModelId } = parseInput(addonListSchema, page);
    const where = await addonListWhere(this.ctx, threatModelId);
    const [items, total] = await Promise.all([
      this.ctx.db.prisma.addon.findMany({
        where,
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: limit,
        skip: offset,
      }),
      this.ctx.db.prisma.addon.count({ where }),
    ]);
    return { items, total, limit, offset };
  }

  /**
   * Deletes an add-on (admin only); refused (409) while any of its invocations is pending or in progress.
   * The add-on row is locked first, so an invocation cannot slip in between the check and the delete.
   */
  async delete(rawId: string): Promise<string> {
    requireAdmin(this.ctx);
    const id = parseId(rawId, 'id');
    await this.ctx.db.prisma.$transaction(async (tx) => {
      const locked = await tx.$queryRaw<
        { id: string }[]
      >`SELECT id::text FROM addons WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) throw addonNotFound(id);
      const active = await tx.webhookDelivery.count({
        where: { addonId: id, status: { in: [...ACTIVE_INVOCATION_STATUSES] } },
      });
      if (active > 0) {
        throw new AppError('CONFLICT', `The add-on has ${active} active invocation(s); retry once they finish`, {
          context: { addon_id: id, active_invocations: active },
        });
      }
      await tx.addon.delete({ where: { id } });
    });
    this.ctx.log.info({ addonId: id }, 'add-on deleted');
    return id;
  }

  /**
   * Invokes an add-on: one `addon.invoked` delivery to its webhook, carrying `{addon_id, user_data}`.
   * The caller needs read access to the threat model. The quota check and the delivery are one
   * transaction under a per-user lock, so concurrent invocations cannot overrun the quota.
   */
  async invoke(rawId: string, rawInput: unknown): Promise<AddonInvocation> {
    const principal = requirePrincipal(this.ctx);
    const id = parseId(rawId, 'id');
    const input = parseInput(invokeAddonInputSchema, rawInput);
    const addon = await this.get(id);
    // Reader access at least; TMI documents no 403 here, so a threat model the caller cannot read does not exist.
    const threatModelId = input.threatModelId;
    const access = await loadThreatModelAccess(this.ctx.db, threatModelId);
    if (!access || !can(principal, 'threat_model:read', access)) throw threatModelNotFound(threatModelId);
    if (addon.threatModelId && addon.threatModelId !== threatModelId) {
      throw invalid('threatModelId', 'this add-on is scoped to another threat model');
    }
    if (input.objectType && addon.objects.length > 0 && !addon.objects.includes(input.objectType)) {
      throw invalid('objectType', `this add-on acts on: ${addon.objects.join(', ')}`);
    }
    const dataErrors = invocationDataErrors(parametersFromStored(addon.parameters), input.data);
    if (dataErrors.length > 0) {
      throw new AppError(
        'VALIDATION_FAILED',
        `Invalid input: ${dataErrors.map((e) => `${e.field}: ${e.error}`).join('; ')}`,
        {
          context: { field_errors: dataErrors },
          suggestion: "Provide the data the add-on's parameters declare",
        },
      );
    }

    const invocation = await this.ctx.db.prisma.$transaction(async (tx) => {
      await this.lockInvocable(tx, id);
      await reserveInvocation(this.ctx, tx, principal.userId);
      return insertDirectDelivery(this.ctx, tx, {
        subscriptionId: addon.webhookId,
        eventType: 'addon.invoked',
        threatModelId,
        objectType: input.objectType ?? null,
        objectId: input.objectId ?? null,
        data: { addon_id: addon.id, user_data: input.data },
        addonId: addon.id,
        invokedById: principal.userId,
      });
    });
    this.ctx.log.info({ addonId: id, deliveryId: invocation.id }, 'add-on invoked');
    return { deliveryId: invocation.id, status: invocation.status, createdAt: invocation.createdAt };
  }

  /**
   * In the invocation's transaction: the add-on still exists (its deletion waits for this transaction)
   * and its webhook is active. A subscription not active (awaiting verification, or marked after
   * repeated failures) would never receive the invocation, so it is refused as a conflict with the
   * subscription's state (409) rather than accepted and left pending.
   */
  private async lockInvocable(tx: Tx, id: string): Promise<void> {
    const rows = await tx.$queryRaw<{ status: string }[]>`
      SELECT s.status FROM addons a JOIN webhook_subscriptions s ON s.id = a.webhook_id
      WHERE a.id = ${id}::uuid FOR KEY SHARE OF a, s`;
    if (rows.length === 0) throw addonNotFound(id);
    if (rows[0]!.status !== 'active') {
      throw new AppError('CONFLICT', "The add-on's webhook subscription is not active", {
        context: { addon_id: id, webhook_status: rows[0]!.status },
        suggestion: 'Ask an administrator to check the webhook subscription',
      });
    }
  }
}
