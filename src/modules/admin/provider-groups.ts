import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseInput } from '../../infra/errors/validation.js';
import { providerGroupsSchema } from './input.js';

// The groups known for an identity provider (GET /oauth2/providers/{idp}/groups), for any signed-in user to
// pick from when authorizing a group: the `groups` rows of that provider and the groups its users carry,
// each saying whether a threat model's authorization names it (for that provider or for every one, `*`).

/** TMI's answer holds at most this many groups. */
export const PROVIDER_GROUPS_LIMIT = 1000;

export interface ProviderGroup {
  name: string;
  displayName: string | null;
  usedInAuthorizations: boolean;
}

export interface ProviderGroups {
  idp: string;
  groups: ProviderGroup[];
}

export class ProviderGroupService {
  constructor(private readonly ctx: ServiceContext) {}

  /** 400 for an id TMI would not accept, 404 for a provider users do not sign in with here. */
  async list(rawIdp: string): Promise<ProviderGroups> {
    requirePrincipal(this.ctx);
    const { idp } = parseInput(providerGroupsSchema, { idp: rawIdp });
    if (!this.ctx.identityProviders.includes(idp)) {
      throw new AppError('RESOURCE_NOT_FOUND', `Identity provider '${idp}' is not configured`, {
        context: { resource_type: 'identity_provider', resource_id: idp },
        suggestion: 'GET /oauth2/providers lists the configured providers',
      });
    }
    // Names TMI's schema cannot carry (empty, longer than 256, control characters) are left out; so is a
    // display name it cannot carry.
    const rows = await this.ctx.db.prisma.$queryRaw<ProviderGroup[]>`
      WITH known AS (
        SELECT group_name AS name, name AS display_name FROM groups WHERE provider = ${idp}
        UNION ALL
        SELECT DISTINCT g.name, NULL FROM users u CROSS JOIN LATERAL unnest(u.groups) AS g(name)
         WHERE u.provider = ${idp}
      )
      SELECT k.name,
             max(k.display_name) FILTER (
               WHERE char_length(k.display_name) <= 256 AND k.display_name !~ '[\\x01-\\x1f]'
             ) AS "displayName",
             EXISTS (
               SELECT 1 FROM threat_model_access a
                WHERE a.principal_type = 'group' AND a.provider_id = k.name AND a.provider IN (${idp}, '*')
             ) AS "usedInAuthorizations"
        FROM known k
       WHERE char_length(k.name) BETWEEN 1 AND 256 AND k.name !~ '[\\x01-\\x1f]'
       GROUP BY k.name
       ORDER BY k.name COLLATE "C"
       LIMIT ${PROVIDER_GROUPS_LIMIT}`;
    return { idp, groups: rows };
  }
}
