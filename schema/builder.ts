import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type PrismaTypes from '../src/generated/pothos-types.js';
import { getDatamodel } from '../src/generated/pothos-types.js';
import type { PrismaClient } from '../src/infra/db.js';
import { AppError } from '../src/infra/errors/registry.js';
import type { GraphQLContext } from './context.js';

export const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: GraphQLContext;
  AuthScopes: { authenticated: boolean; admin: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      authenticated: ctx.service.principal !== undefined,
      admin: ctx.service.principal?.isAdmin === true,
    }),
    // A missing or bad token is the caller's problem (401), not a permission problem.
    unauthorizedError: (_parent, context) =>
      new AppError(context.service.principal ? 'ADMIN_REQUIRED' : 'UNAUTHENTICATED'),
  },
  prisma: {
    client: (ctx) => ctx.service.db.prisma as PrismaClient,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** The builder's types, for helpers that declare fields outside a builder call (shared input fields). */
export type AppSchemaTypes = typeof builder.$inferSchemaTypes;
