import { type AdminUser, AdminUserService } from '../src/modules/admin/users.js';
import {
  type ClientCredentialInfo,
  type ClientCredentialPage,
  ClientCredentialService,
  type CreatedClientCredential,
} from '../src/modules/credentials/service.js';
import { AdminUserRef } from './admin.js';
import { builder } from './builder.js';

// Client credentials (OAuth 2.0 client_credentials grant): the caller's own, and administrators'
// management of automation accounts' credentials. REST: /me/client_credentials and
// /admin/users/{user_id}/client_credentials; the token endpoint itself is POST /oauth2/token.

const ClientCredentialRef = builder.objectRef<ClientCredentialInfo>('ClientCredential').implement({
  description: 'A client credential as listed: never its secret',
  fields: (t) => ({
    id: t.exposeID('id'),
    clientId: t.exposeString('clientId', { description: 'The OAuth 2.0 client_id (tmi_cc_…)' }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    isActive: t.exposeBoolean('isActive'),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a token was last issued',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
  }),
});

export const CreatedClientCredentialRef = builder
  .objectRef<CreatedClientCredential>('CreatedClientCredential')
  .implement({
    description: 'A client credential just created: its secret is shown this once and cannot be read again',
    fields: (t) => ({
      id: t.exposeID('id'),
      clientId: t.exposeString('clientId'),
      clientSecret: t.exposeString('clientSecret'),
      name: t.exposeString('name'),
      description: t.exposeString('description', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    }),
  });

const ClientCredentialPageRef = builder.objectRef<ClientCredentialPage>('ClientCredentialPage').implement({
  description: 'A page of client credentials, newest first',
  fields: (t) => ({
    credentials: t.field({ type: [ClientCredentialRef], resolve: (page) => page.credentials }),
    total: t.exposeInt('total'),
    limit: t.exposeInt('limit'),
    offset: t.exposeInt('offset'),
  }),
});

const ClientCredentialInput = builder.inputType('ClientCredentialInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1 to 100 characters' }),
    description: t.string({ description: 'Up to 500 characters' }),
    expiresAt: t.field({ type: 'DateTime', description: 'In the future; no expiry when omitted' }),
  }),
});

const AutomationAccountRef = builder
  .objectRef<{ user: AdminUser; clientCredential: CreatedClientCredential }>('AutomationAccount')
  .implement({
    description: 'An automation (service) account and its first client credential, whose secret is shown this once',
    fields: (t) => ({
      user: t.field({ type: AdminUserRef, resolve: (account) => account.user }),
      clientCredential: t.field({ type: CreatedClientCredentialRef, resolve: (account) => account.clientCredential }),
    }),
  });

const AutomationAccountInput = builder.inputType('AutomationAccountInput', {
  fields: (t) => ({
    name: t.string({
      required: true,
      description: '2-64 characters: a letter first, a letter or digit last; letters, digits, spaces, _ . @ - between',
    }),
    email: t.string({ description: 'Defaults to tmi-automation-{name}@tmi.local' }),
  }),
});

builder.queryFields((t) => ({
  myClientCredentials: t.field({
    type: ClientCredentialPageRef,
    description: "The caller's client credentials, without secrets",
    authScopes: { authenticated: true },
    args: { limit: t.arg.int({ defaultValue: 20 }), offset: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { limit, offset }, ctx) =>
      new ClientCredentialService(ctx.service).listOwn({ limit: limit ?? 20, offset: offset ?? 0 }),
  }),
  userClientCredentials: t.field({
    type: ClientCredentialPageRef,
    description: "Administrators: an automation account's client credentials, without secrets",
    authScopes: { admin: true },
    args: {
      userId: t.arg.id({ required: true }),
      limit: t.arg.int({ defaultValue: 50 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { userId, limit, offset }, ctx) =>
      new ClientCredentialService(ctx.service).listFor(String(userId), { limit: limit ?? 50, offset: offset ?? 0 }),
  }),
}));

builder.mutationFields((t) => ({
  createMyClientCredential: t.field({
    type: CreatedClientCredentialRef,
    description: 'Administrators and security reviewers: a client credential acting as themselves (10 at most)',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: ClientCredentialInput, required: true }) },
    resolve: (_root, { input }, ctx) => new ClientCredentialService(ctx.service).createOwn(input),
  }),
  deleteMyClientCredential: t.id({
    description: "Deletes one of the caller's client credentials and revokes its tokens; returns its id",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await new ClientCredentialService(ctx.service).deleteOwn(String(id));
      return String(id).toLowerCase();
    },
  }),
  createUserClientCredential: t.field({
    type: CreatedClientCredentialRef,
    description: 'Administrators: a client credential for an automation account',
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }), input: t.arg({ type: ClientCredentialInput, required: true }) },
    resolve: (_root, { userId, input }, ctx) =>
      new ClientCredentialService(ctx.service).createFor(String(userId), input),
  }),
  deleteUserClientCredential: t.id({
    description: "Administrators: deletes an automation account's client credential and revokes its tokens",
    authScopes: { admin: true },
    args: { userId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: async (_root, { userId, id }, ctx) => {
      await new ClientCredentialService(ctx.service).deleteFor(String(userId), String(id));
      return String(id).toLowerCase();
    },
  }),
  createAutomationAccount: t.field({
    type: AutomationAccountRef,
    description:
      'Administrators: a `tmi` user flagged automation, a member of TMI Automation, with a first client credential',
    authScopes: { admin: true },
    args: { input: t.arg({ type: AutomationAccountInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const created = await new ClientCredentialService(ctx.service).createAutomationAccount(input);
      const user = await new AdminUserService(ctx.service).get(created.user.id);
      return { user, clientCredential: created.clientCredential };
    },
  }),
}));
