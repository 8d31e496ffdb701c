import { z } from 'zod';

// The administrators' inputs, as TMI's OpenAPI document bounds them.

const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;
const NO_CONTROL = /^[^\x00-\x1F]*$/;

export const pageSchema = z.strictObject({
  limit: z.number().int().min(0).max(1000),
  offset: z.number().int().min(0).max(1_000_000),
});

export const sortSchema = z.strictObject({
  sortBy: z.enum(['created_at', 'last_login', 'email', 'name']),
  sortOrder: z.enum(['asc', 'desc']),
});

export const userFilterSchema = z.strictObject({
  provider: z.string().max(256).nullish(),
  email: z.string().max(1024).nullish(),
  name: z.string().max(256).regex(NO_CONTROL).nullish(),
  createdAfter: z.date().nullish(),
  createdBefore: z.date().nullish(),
  lastLoginAfter: z.date().nullish(),
  lastLoginBefore: z.date().nullish(),
  automation: z.boolean().nullish(),
});
export type AdminUserFilter = z.infer<typeof userFilterSchema>;

export const updateUserSchema = z.strictObject({
  email: z.string().max(254).regex(EMAIL, 'must be an email address').nullish(),
  name: z.string().max(256).regex(NO_CONTROL).nullish(),
  emailVerified: z.boolean().nullish(),
});
export type UpdateAdminUserInput = z.infer<typeof updateUserSchema>;

export const groupFilterSchema = z.strictObject({
  provider: z.string().max(256).nullish(),
  groupName: z.string().max(1024).nullish(),
  usedInAuthorizations: z.boolean().nullish(),
  builtIn: z.boolean().nullish(),
});
export type AdminGroupFilter = z.infer<typeof groupFilterSchema>;

export const createGroupSchema = z.strictObject({
  groupName: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, hyphens and underscores only'),
  name: z.string().trim().min(1).max(128).regex(NO_CONTROL),
  description: z.string().max(2048).nullish(),
});
export type CreateGroupInput = z.infer<typeof createGroupSchema>;

export const updateGroupSchema = z.strictObject({
  name: z.string().trim().min(1).max(128).regex(NO_CONTROL).nullish(),
  description: z.string().max(2048).nullish(),
});
export type UpdateGroupInput = z.infer<typeof updateGroupSchema>;

export const addMemberSchema = z
  .strictObject({
    subjectType: z.enum(['user', 'group']).nullish(),
    userInternalUuid: z.uuid().nullish(),
    memberGroupInternalUuid: z.uuid().nullish(),
    notes: z.string().max(2048).nullish(),
  })
  .transform((input) => ({ ...input, subjectType: input.subjectType ?? 'user' }))
  .superRefine((input, issues) => {
    const id = input.subjectType === 'user' ? input.userInternalUuid : input.memberGroupInternalUuid;
    if (!id) {
      issues.addIssue({
        code: 'custom',
        path: [input.subjectType === 'user' ? 'userInternalUuid' : 'memberGroupInternalUuid'],
        message: `is required when subject_type is ${input.subjectType}`,
      });
    }
  });
export type AddMemberInput = z.input<typeof addMemberSchema>;

export const SETTING_TYPES = ['string', 'int', 'bool', 'json', 'float'] as const;
export type SettingType = (typeof SETTING_TYPES)[number];

export const settingKeySchema = z
  .string()
  .max(256)
  .regex(/^[a-z][a-z0-9_.]*$/, 'must match ^[a-z][a-z0-9_.]*$');

export const settingInputSchema = z
  .strictObject({
    value: z.string().max(4000),
    type: z.enum(SETTING_TYPES),
    description: z.string().max(2048).nullish(),
  })
  .superRefine((input, issues) => {
    if (!valueMatchesType(input.value, input.type)) {
      issues.addIssue({ code: 'custom', path: ['value'], message: `is not a valid ${input.type}` });
    }
  });
export type SettingInput = z.input<typeof settingInputSchema>;

/** A setting's value is always a string; its type says how it reads. */
export function valueMatchesType(value: string, type: SettingType): boolean {
  switch (type) {
    case 'string':
      return true;
    case 'int':
      return /^-?\d{1,18}$/.test(value);
    case 'float':
      return value.trim() !== '' && Number.isFinite(Number(value));
    case 'bool':
      return value === 'true' || value === 'false';
    case 'json':
      try {
        JSON.parse(value);
        return true;
      } catch {
        return false;
      }
  }
}

/** An identity provider's id as TMI's IdpPathParam bounds it. */
export const providerGroupsSchema = z.strictObject({
  idp: z
    .string()
    .max(100)
    .regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, 'must be an identity provider id'),
});
