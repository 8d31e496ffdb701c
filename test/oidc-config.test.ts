import { describe, expect, it } from 'vitest';
import { groupsFrom } from '../src/auth/identity-providers.js';
import { ConfigError, loadConfig } from '../src/infra/config.js';
import { configFile } from './helpers/oidc-provider.js';

// Identity providers and administrators as configured: the YAML file (TMI_CONFIG_FILE), the
// TMI_OAUTH_PROVIDERS_<ID>_<SETTING> variables that override it, presets, and problems reported together.

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('identity configuration', () => {
  it('reads providers and administrators from the file, secrets from the environment', () => {
    const file = configFile(`
server:
  port: 8080            # sections the identity settings do not use are left alone
auth:
  oauth:
    callback_url: https://api.tmi.example/oauth2/callback/
    token_delivery: fragment
    providers:
      google:
        enabled: true
        client_id: google-client
      microsoft:
        client_id: ms-client
        tenant_id: contoso.onmicrosoft.com
        groups_claim: roles
      github:
        enabled: true
        client_id: gh-client
      keycloak:
        name: Keycloak
        issuer: https://sso.example/realms/tmi
        client_id: tmi
        scopes: openid email profile
        groups_claim: realm_access.roles
      okta:
        enabled: false
        client_id: unused
      gitlab: {}
administrators:
  - provider: google
    provider_id: "101155414856250184779"
    email: admin@example.com
    subject_type: user
  - provider: github
    email: security-lead@example.com
  - provider: microsoft
    group_name: platform-admins
    subject_type: group
`);
    const config = loadConfig({
      TMI_CONFIG_FILE: file,
      TMI_OAUTH_PROVIDERS_GOOGLE_CLIENT_SECRET: 'google-secret',
      // TMI's own variable names work too; the TMI_-prefixed one wins where both are set.
      OAUTH_PROVIDERS_GITHUB_CLIENT_SECRET: 'from-tmi-name',
      TMI_OAUTH_PROVIDERS_KEYCLOAK_CLIENT_SECRET: 'kc-secret',
      OAUTH_PROVIDERS_KEYCLOAK_CLIENT_SECRET: 'loses',
    });
    const identity = config.auth.identity;

    expect(identity.callbackUrl).toBe('https://api.tmi.example/oauth2/callback');
    expect(identity.tokenDelivery).toBe('fragment');
    expect(identity.providers.map((provider) => provider.id)).toEqual(['google', 'microsoft', 'github', 'keycloak']);
    const [google, microsoft, github, keycloak] = identity.providers;
    expect(google).toMatchObject({
      type: 'oidc',
      name: 'Google',
      icon: 'fa-brands fa-google',
      issuer: 'https://accounts.google.com',
      clientId: 'google-client',
      clientSecret: 'google-secret',
      scopes: ['openid', 'email', 'profile'],
      groupsClaim: 'groups',
    });
    expect(microsoft).toMatchObject({
      issuer: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0',
      groupsClaim: 'roles',
    });
    expect(github).toMatchObject({
      type: 'github',
      clientSecret: 'from-tmi-name',
      authorizationUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      apiUrl: 'https://api.github.com',
      scopes: ['read:user', 'user:email'],
    });
    expect(keycloak).toMatchObject({
      type: 'oidc',
      name: 'Keycloak',
      clientSecret: 'kc-secret',
      scopes: ['openid', 'email', 'profile'],
      groupsClaim: 'realm_access.roles',
    });
    expect(identity.administrators).toEqual([
      { subjectType: 'user', provider: 'google', providerId: '101155414856250184779', email: 'admin@example.com' },
      { subjectType: 'user', provider: 'github', providerId: undefined, email: 'security-lead@example.com' },
      { subjectType: 'group', provider: 'microsoft', groupName: 'platform-admins' },
    ]);
  });

  it('configures a provider by environment alone', () => {
    const config = loadConfig({
      TMI_OAUTH_PROVIDERS_CORP_SSO_ISSUER: 'https://login.corp.example',
      TMI_OAUTH_PROVIDERS_CORP_SSO_CLIENT_ID: 'tmi',
      TMI_OAUTH_PROVIDERS_CORP_SSO_SCOPES: 'openid,email,profile,groups',
      TMI_OAUTH_PROVIDERS_CORP_SSO_TIMEOUT_SECONDS: '5',
    });

    expect(config.auth.identity.providers).toEqual([
      expect.objectContaining({
        id: 'corp_sso',
        type: 'oidc',
        name: 'corp_sso',
        issuer: 'https://login.corp.example',
        scopes: ['openid', 'email', 'profile', 'groups'],
        timeoutSeconds: 5,
        allowHttp: false,
      }),
    ]);
    expect(config.auth.identity.tokenDelivery).toBe('code');
  });

  it('reports every problem at once', () => {
    const file = configFile(`
auth:
  oauth:
    providers:
      corp:
        client_id: tmi
      plain:
        issuer: http://sso.internal
        client_id: tmi
      typo:
        client_id: tmi
        issuer: https://sso.example
        clientsecret: oops
      github:
        enabled: true
administrators:
  - provider: corp
    subject_type: group
  - provider: corp
  - email: someone@example.com
`);

    const problems = problemsOf({ TMI_CONFIG_FILE: file, TMI_OAUTH_TOKEN_DELIVERY: 'implicit' });

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/administrators\.0.*group_name/),
        expect.stringMatching(/administrators\.1.*provider_id or email/),
        expect.stringMatching(/administrators\.2\.provider/),
      ]),
    );
    // A file with errors is refused as a whole; the provider problems show once it is fixed.
    const providers = configFile(`
auth:
  oauth:
    providers:
      corp:
        client_id: tmi
      plain:
        issuer: http://sso.internal
        client_id: tmi
      typo:
        client_id: tmi
        issuer: https://sso.example
        clientsecret: oops
      github:
        enabled: true
`);
    expect(problemsOf({ TMI_CONFIG_FILE: providers, TMI_OAUTH_TOKEN_DELIVERY: 'implicit' })).toEqual([
      expect.stringMatching(/provider 'corp'.*issuer is required/),
      expect.stringMatching(/provider 'plain'.*issuer must be https/),
      expect.stringMatching(/provider 'typo'.*clientsecret/),
      expect.stringMatching(/provider 'github'.*client_id is required/),
      expect.stringMatching(/TMI_OAUTH_TOKEN_DELIVERY/),
    ]);
  });

  it('refuses a missing or malformed file and the test provider id', () => {
    expect(problemsOf({ TMI_CONFIG_FILE: '/nonexistent/tmi.yml' })).toEqual([
      expect.stringMatching(/cannot read \/nonexistent\/tmi\.yml/),
    ]);
    expect(problemsOf({ TMI_CONFIG_FILE: configFile('auth: [unclosed') })).toEqual([
      expect.stringMatching(/not valid YAML/),
    ]);
    expect(
      problemsOf({ TMI_OAUTH_PROVIDERS_TMI_CLIENT_ID: 'x', TMI_OAUTH_PROVIDERS_TMI_ISSUER: 'https://x.example' }),
    ).toEqual([expect.stringMatching(/'tmi' is the built-in test provider/)]);
  });

  it('reads groups from a claim by name or by dot path', () => {
    const claims = {
      groups: ['eng', 'eng', 7, 'ops'],
      realm_access: { roles: ['tmi-admin'] },
      'https://example.com/groups': ['auth0-group'],
      role: 'single',
    };

    expect(groupsFrom(claims, 'groups')).toEqual(['eng', 'ops']);
    expect(groupsFrom(claims, 'realm_access.roles')).toEqual(['tmi-admin']);
    expect(groupsFrom(claims, 'https://example.com/groups')).toEqual(['auth0-group']);
    expect(groupsFrom(claims, 'role')).toEqual(['single']);
    expect(groupsFrom(claims, 'missing.path')).toEqual([]);
  });
});
