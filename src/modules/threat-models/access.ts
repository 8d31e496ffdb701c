import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { AppError } from '../../infra/errors/registry.js';
import { parseId } from './input.js';
import { assertCan, type ThreatModelAction } from './policy.js';
import { loadThreatModelAccess } from './read.js';

export function threatModelNotFound(id: string): AppError {
  return new AppError('RESOURCE_NOT_FOUND', 'Threat model not found', {
    context: { resource_type: 'threat_model', resource_id: id },
  });
}

/**
 * What everything under a threat model checks first: the threat model exists (404) and the caller
 * holds the role the action needs (403). Returns the normalised threat model id.
 */
export async function authorizeThreatModel(
  ctx: ServiceContext,
  rawThreatModelId: string,
  action: ThreatModelAction,
): Promise<string> {
  const principal = requirePrincipal(ctx);
  const id = parseId(rawThreatModelId);
  const threatModel = await loadThreatModelAccess(ctx.db, id);
  if (!threatModel) throw threatModelNotFound(id);
  assertCan(principal, action, threatModel);
  return id;
}
