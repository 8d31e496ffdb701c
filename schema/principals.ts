import { builder } from './builder.js';

export const PrincipalTypeEnum = builder.enumType('PrincipalType', {
  values: { USER: { value: 'user' }, GROUP: { value: 'group' } } as const,
});

export const RoleEnum = builder.enumType('Role', {
  values: { READER: { value: 'reader' }, WRITER: { value: 'writer' }, OWNER: { value: 'owner' } } as const,
});

/** A person as TMI shows them on a threat model (owner, creator, reviewer). */
export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    principalType: t.field({ type: PrincipalTypeEnum, resolve: () => 'user' as const }),
    provider: t.exposeString('provider'),
    providerId: t.exposeString('providerId'),
    displayName: t.exposeString('name'),
    email: t.exposeString('email'),
  }),
});

export const AuthorizationEntryInput = builder.inputType('AuthorizationEntryInput', {
  fields: (t) => ({
    principalType: t.field({ type: PrincipalTypeEnum, required: true }),
    provider: t.string({ required: true }),
    providerId: t.string({ required: true }),
    displayName: t.string(),
    email: t.string(),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

export const MetadataEntryInput = builder.inputType('MetadataEntryInput', {
  fields: (t) => ({
    key: t.string({ required: true }),
    value: t.string({ required: true }),
  }),
});

export const MetadataEntry = builder.objectRef<{ key: string; value: string }>('MetadataEntry').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    value: t.exposeString('value'),
  }),
});
