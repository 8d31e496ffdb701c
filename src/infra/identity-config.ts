import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

// Identity providers and administrators: from the YAML configuration file (TMI_CONFIG_FILE) and from
// environment variables, which win over the file field by field. config.ts hands this module the
// environment it parsed; nothing here reads process.env.

export type IdentityProviderType = 'oidc' | 'github';

export interface IdentityProviderConfig {
  /** The `idp` clients name: lower-case letters, digits, `-` and `_`. */
  id: string;
  type: IdentityProviderType;
  name: string;
  icon: string;
  clientId: string;
  clientSecret: string | undefined;
  /** OIDC: the issuer, whose `/.well-known/openid-configuration` is discovered. */
  issuer: string | undefined;
  scopes: string[];
  /** Dot path of the claim holding the user's groups (ID token or userinfo), e.g. `groups` or `realm_access.roles`. */
  groupsClaim: string;
  /** GitHub (or GitHub Enterprise): the OAuth endpoints and the REST API base. */
  authorizationUrl: string | undefined;
  tokenUrl: string | undefined;
  apiUrl: string | undefined;
  /** Plain http to the provider (a provider on a development machine); https otherwise. */
  allowHttp: boolean;
  /** Seconds to wait for each request to the provider. */
  timeoutSeconds: number;
}

/** One administrator entry (seed 003's `administrators:` list): a user by provider id or e-mail, or a group. */
export type AdministratorRule =
  | { subjectType: 'user'; provider: string; providerId: string | undefined; email: string | undefined }
  | { subjectType: 'group'; provider: string; groupName: string };

export interface IdentityConfig {
  /** Where providers send users back (registered at each provider); default `<public base URL>/oauth2/callback`. */
  callbackUrl: string | undefined;
  /** How the client callback receives a login when /oauth2/authorize does not say (`response_type`). */
  tokenDelivery: 'code' | 'fragment';
  providers: IdentityProviderConfig[];
  administrators: AdministratorRule[];
}

interface Preset {
  type: IdentityProviderType;
  name: string;
  icon: string;
  issuer?: (settings: ProviderSettings) => string;
  scopes: string[];
  authorizationUrl?: string;
  tokenUrl?: string;
  apiUrl?: string;
}

const PRESETS: Record<string, Preset> = {
  google: {
    type: 'oidc',
    name: 'Google',
    icon: 'fa-brands fa-google',
    issuer: () => 'https://accounts.google.com',
    scopes: ['openid', 'email', 'profile'],
  },
  microsoft: {
    type: 'oidc',
    name: 'Microsoft',
    icon: 'fa-brands fa-microsoft',
    // openid-client resolves the `{tenantid}` issuer template of the multi-tenant endpoints.
    issuer: (settings) => `https://login.microsoftonline.com/${settings.tenant_id ?? 'common'}/v2.0`,
    scopes: ['openid', 'email', 'profile'],
  },
  github: {
    type: 'github',
    name: 'GitHub',
    icon: 'fa-brands fa-github',
    scopes: ['read:user', 'user:email'],
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    apiUrl: 'https://api.github.com',
  },
};

const TYPE_DEFAULTS: Record<IdentityProviderType, Omit<Preset, 'name'>> = {
  oidc: { type: 'oidc', icon: 'fa-solid fa-right-to-bracket', scopes: ['openid', 'email', 'profile'] },
  github: { ...PRESETS.github!, type: 'github' },
};

const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,49}$/;

const scopeList = z
  .union([z.array(z.string().min(1)), z.string()])
  .transform((value) => (Array.isArray(value) ? value : value.split(/[\s,]+/).filter((scope) => scope.length > 0)));

const booleanLike = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => ['true', '1', 'yes'].includes(value)),
]);

const httpUrl = z.url({ protocol: /^https?$/ });

/** One provider's settings, as the file spells them (snake_case); environment variables use the same names. */
const providerSettings = z
  .object({
    enabled: booleanLike.optional(),
    type: z.enum(['oidc', 'github']).optional(),
    name: z.string().min(1).max(256).optional(),
    icon: z.string().min(1).max(1000).optional(),
    client_id: z.string().min(1).max(1000).optional(),
    client_secret: z.string().min(1).optional(),
    issuer: httpUrl.optional(),
    tenant_id: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/)
      .optional(),
    scopes: scopeList.optional(),
    groups_claim: z.string().min(1).max(200).optional(),
    authorization_url: httpUrl.optional(),
    token_url: httpUrl.optional(),
    api_url: httpUrl.optional(),
    allow_http: booleanLike.optional(),
    timeout_seconds: z.coerce.number().int().min(1).max(120).optional(),
  })
  .strict();

type ProviderSettings = z.output<typeof providerSettings>;

const SETTING_NAMES = Object.keys(providerSettings.shape) as (keyof ProviderSettings)[];

const administratorEntry = z
  .object({
    provider: z.string().min(1).max(100),
    provider_id: z.coerce.string().min(1).max(500).optional(),
    email: z.string().min(3).max(320).optional(),
    group_name: z.string().min(1).max(500).optional(),
    subject_type: z.enum(['user', 'group']).default('user'),
    notes: z.string().optional(),
  })
  .strict()
  .superRefine((entry, context) => {
    if (entry.subject_type === 'group' && !entry.group_name) {
      context.addIssue({ code: 'custom', message: 'a group administrator needs group_name' });
    }
    if (entry.subject_type === 'user' && !entry.provider_id && !entry.email) {
      context.addIssue({ code: 'custom', message: 'a user administrator needs provider_id or email' });
    }
  });

const fileSchema = z
  .object({
    auth: z
      .object({
        oauth: z
          .object({
            callback_url: httpUrl.optional(),
            token_delivery: z.enum(['code', 'fragment']).optional(),
            // Each provider is checked on its own (after the environment's overrides), naming it in problems.
            providers: z.record(z.string(), z.record(z.string(), z.unknown()).nullable()).optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
    administrators: z.array(administratorEntry).nullable().optional(),
  })
  // The file may carry sections other parts of the server (or TMI itself) read.
  .passthrough();

const ENV_PROVIDER = new RegExp(
  `^(TMI_)?OAUTH_PROVIDERS_([A-Z0-9_]+?)_(${SETTING_NAMES.map((name) => name.toUpperCase()).join('|')})$`,
);

/**
 * Reads the file (when given) and the provider variables of `source`; every problem is pushed to
 * `problems` so the caller reports them together.
 */
export function loadIdentityConfig(
  source: Record<string, string | undefined>,
  options: { file: string | undefined; callbackUrl: string | undefined; tokenDelivery: string | undefined },
  problems: string[],
): IdentityConfig {
  const file = readConfigFile(options.file, problems);
  const oauth = file.auth?.oauth;

  const settingsById = new Map<string, Record<string, unknown>>();
  for (const [id, settings] of Object.entries(oauth?.providers ?? {})) settingsById.set(id, { ...settings });
  for (const [id, overrides] of providerEnvironment(source)) {
    settingsById.set(id, { ...settingsById.get(id), ...overrides });
  }

  const providers: IdentityProviderConfig[] = [];
  for (const [id, raw] of settingsById) {
    const where = `provider '${id}'`;
    if (!PROVIDER_ID.test(id)) {
      problems.push(`${where}: the id must be lower-case letters, digits, '-' or '_'`);
      continue;
    }
    if (id === 'tmi') {
      problems.push(`${where}: 'tmi' is the built-in test provider (TMI_TEST_PROVIDER_ENABLED)`);
      continue;
    }
    const parsed = providerSettings.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${where}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      }
      continue;
    }
    const provider = resolveProvider(id, parsed.data, problems);
    if (provider) providers.push(provider);
  }

  const callbackUrl = options.callbackUrl ?? oauth?.callback_url;
  if (options.callbackUrl !== undefined && !httpUrl.safeParse(options.callbackUrl).success) {
    problems.push('TMI_OAUTH_CALLBACK_URL: must be an http(s) URL');
  }
  const tokenDelivery = options.tokenDelivery ?? oauth?.token_delivery ?? 'code';
  if (tokenDelivery !== 'code' && tokenDelivery !== 'fragment') {
    problems.push("TMI_OAUTH_TOKEN_DELIVERY: must be 'code' or 'fragment'");
  }

  return {
    callbackUrl: callbackUrl?.replace(/\/$/, ''),
    tokenDelivery: tokenDelivery === 'fragment' ? 'fragment' : 'code',
    providers,
    administrators: (file.administrators ?? []).map((entry): AdministratorRule =>
      entry.subject_type === 'group'
        ? { subjectType: 'group', provider: entry.provider, groupName: entry.group_name! }
        : { subjectType: 'user', provider: entry.provider, providerId: entry.provider_id, email: entry.email },
    ),
  };
}

function readConfigFile(path: string | undefined, problems: string[]): z.output<typeof fileSchema> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`TMI_CONFIG_FILE: cannot read ${path}: ${(error as Error).message}`);
    return {};
  }
  let document: unknown;
  try {
    document = parseYaml(text) ?? {};
  } catch (error) {
    problems.push(`TMI_CONFIG_FILE: ${path} is not valid YAML: ${(error as Error).message}`);
    return {};
  }
  const parsed = fileSchema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${path}: ${issue.path.join('.')}: ${issue.message}`);
    return {};
  }
  return parsed.data;
}

/** `TMI_OAUTH_PROVIDERS_<ID>_<SETTING>` (or TMI's own `OAUTH_PROVIDERS_<ID>_<SETTING>`); the TMI_ form wins. */
function providerEnvironment(source: Record<string, string | undefined>): Map<string, Record<string, string>> {
  const found = new Map<string, Record<string, string>>();
  const entries = Object.entries(source)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    // The unprefixed names first, so the prefixed ones overwrite them.
    .sort(([a], [b]) => Number(a.startsWith('TMI_')) - Number(b.startsWith('TMI_')));
  for (const [name, value] of entries) {
    const match = ENV_PROVIDER.exec(name);
    if (!match) continue;
    const id = match[2]!.toLowerCase();
    const setting = match[3]!.toLowerCase();
    found.set(id, { ...found.get(id), [setting]: value });
  }
  return found;
}

function resolveProvider(
  id: string,
  settings: ProviderSettings,
  problems: string[],
): IdentityProviderConfig | undefined {
  const where = `provider '${id}'`;
  const preset = PRESETS[id];
  const type = settings.type ?? preset?.type ?? 'oidc';
  const defaults: Omit<Preset, 'name'> & { name?: string } = preset?.type === type ? preset : TYPE_DEFAULTS[type];
  if (settings.enabled === false) return undefined;
  if (!settings.client_id) {
    // Listed without credentials (as TMI's sample files do): not offered, unless it was explicitly enabled.
    if (settings.enabled === true) problems.push(`${where}: client_id is required`);
    return undefined;
  }
  const issuer = settings.issuer ?? defaults.issuer?.(settings);
  if (type === 'oidc' && !issuer) problems.push(`${where}: issuer is required for an OIDC provider`);
  const allowHttp = settings.allow_http ?? false;
  const urls = {
    issuer,
    authorizationUrl: settings.authorization_url ?? defaults.authorizationUrl,
    tokenUrl: settings.token_url ?? defaults.tokenUrl,
    apiUrl: settings.api_url ?? defaults.apiUrl,
  };
  if (!allowHttp) {
    for (const [name, url] of Object.entries(urls)) {
      if (url?.startsWith('http:')) problems.push(`${where}: ${name} must be https (or set allow_http)`);
    }
  }
  return {
    id,
    type,
    name: settings.name ?? defaults.name ?? id,
    icon: settings.icon ?? defaults.icon,
    clientId: settings.client_id,
    clientSecret: settings.client_secret,
    issuer: type === 'oidc' ? issuer : undefined,
    scopes: settings.scopes ?? defaults.scopes,
    groupsClaim: settings.groups_claim ?? 'groups',
    authorizationUrl: type === 'github' ? urls.authorizationUrl : undefined,
    tokenUrl: type === 'github' ? urls.tokenUrl : undefined,
    apiUrl: type === 'github' ? urls.apiUrl?.replace(/\/$/, '') : undefined,
    allowHttp,
    timeoutSeconds: settings.timeout_seconds ?? 10,
  };
}
