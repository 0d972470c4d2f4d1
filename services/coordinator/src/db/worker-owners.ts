import type { Pool, PoolClient } from '../../../common/src/db/pool';
import { ForbiddenError } from '../../../common/src/errors';

/** A coordinator's claim on one worker: valid while the database still has this generation for it. */
export interface Ownership {
  coordinatorId: string;
  workerId: number;
  generation: number;
}

/*
 * Claims a worker for this coordinator: a new owner row, or the next generation of an existing one (the
 * worker moved here, or reconnected), only for the identity the id is bound to (migration 0019): no row
 * comes back when another identity holds it. $1 worker id, $2 coordinator id, $3 identity (NULL: plaintext).
 */
const CLAIM_WORKER = `
  INSERT INTO worker_owners (worker_id, coordinator_id, generation, identity) VALUES ($1, $2, 1, $3)
  ON CONFLICT (worker_id) DO UPDATE
  SET coordinator_id = EXCLUDED.coordinator_id, generation = worker_owners.generation + 1, claimed_at = now()
  WHERE worker_owners.identity IS NOT DISTINCT FROM EXCLUDED.identity
  RETURNING generation`;

/** Claims the worker, or throws PERMISSION_DENIED when its id is bound to another identity. */
export async function claimWorker(pool: Pool, workerId: number, coordinatorId: string, identity: string | null): Promise<Ownership> {
  const { rows: [row] } = await pool.query<{ generation: number }>({ name: 'claim-worker', text: CLAIM_WORKER, values: [workerId, coordinatorId, identity] });
  if (!row) throw new ForbiddenError(`workerId ${workerId} belongs to another identity`, 'workerId');
  return { coordinatorId, workerId, generation: row.generation };
}

/*
 * Locks the owner row while it still has this coordinator and generation: a claim by another coordinator
 * waits until the work done under the lock has committed, so ownership cannot change half-way through a
 * hand-back. $1 worker id, $2 coordinator id, $3 generation.
 */
const LOCK_OWNERSHIP = `
  SELECT 1 FROM worker_owners WHERE worker_id = $1 AND coordinator_id = $2 AND generation = $3 FOR UPDATE`;

/* Forgets a worker that left or was evicted, if this coordinator still owns it. Same parameters. */
const RELEASE_WORKER = `DELETE FROM worker_owners WHERE worker_id = $1 AND coordinator_id = $2 AND generation = $3`;

/**
 * Runs `work` in one transaction while the coordinator owns the worker; returns undefined, without running
 * it, when another coordinator has claimed the worker since (then the worker and its tasks are that one's).
 * `release` also drops the owner row in the same transaction (the worker is gone).
 */
export async function whileOwned<T>(
  pool: Pool, owner: Ownership, work: (db: PoolClient) => Promise<T>, options: { release?: boolean } = {},
): Promise<T | undefined> {
  const client = await pool.connect();
  const values = [owner.workerId, owner.coordinatorId, owner.generation];
  try {
    await client.query('BEGIN');
    const { rowCount } = await client.query(LOCK_OWNERSHIP, values);
    if (!rowCount) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const result = await work(client);
    if (options.release) await client.query(RELEASE_WORKER, values);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
