import type { Tx } from '../../infra/db.js';

/**
 * Reserves `count` aliases for children of one kind under a threat model and returns the first.
 * The counter row is updated atomically (and locked until the transaction ends), so concurrent
 * creations get distinct aliases and a deleted child's alias is never handed out again.
 */
export async function reserveAliases(tx: Tx, threatModelId: string, kind: string, count: number): Promise<number> {
  const [row] = await tx.$queryRaw<{ last_value: number }[]>`
    INSERT INTO threat_model_alias_counters (threat_model_id, kind, last_value)
    VALUES (${threatModelId}::uuid, ${kind}, ${count})
    ON CONFLICT (threat_model_id, kind) DO UPDATE
      SET last_value = threat_model_alias_counters.last_value + ${count}
    RETURNING last_value`;
  return row!.last_value - count + 1;
}
