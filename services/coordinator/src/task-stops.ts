import type { Logger } from '../../common/src/logger';
import type { WorkerRegistry } from './registry';

/** An attempt to stop on the worker it was sent to. */
export interface AttemptToStop {
  task_id: string;
  attempt: number;
  worker_id: number;
}

/**
 * Stops attempts that are no longer their workers' (cancelled, or timed out at the coordinator). A worker on a
 * Connect stream to this coordinator is told at once (CoordinatorMessage.drop), so its handler's ctx.signal
 * fires now, and the slot is free for the next dispatch, which the stream delivers after the drop. Any other
 * worker keeps the slot until its next heartbeat, whose answer drops the attempt anyway (heartbeats.ts).
 * Returns how many were sent to their workers.
 */
export function stopAttempts(registry: WorkerRegistry, stops: readonly AttemptToStop[], reason: string, logger: Logger): number {
  let told = 0;
  for (const stop of stops) {
    const worker = registry.get(stop.worker_id);
    const transport = worker?.transport;
    if (!transport?.drop || worker?.assigned.get(stop.task_id.toLowerCase())?.attempt !== stop.attempt) continue;
    transport.drop([{ task_id: stop.task_id, attempt: stop.attempt }], reason);
    registry.unassign(stop.worker_id, stop.task_id, stop.attempt);
    told++;
    logger.info({ task_id: stop.task_id, attempt: stop.attempt, worker_id: stop.worker_id, reason }, 'attempt stopped on its worker');
  }
  return told;
}

/**
 * A NOTIFY taskmaster_cancels payload (the scheduler's cancel statement): the cancelled attempt, or undefined
 * for anything else, which is ignored (the heartbeat path still drops the attempt).
 */
export function parseCancelNotice(payload: string | undefined): (AttemptToStop & { reason: string }) | undefined {
  if (!payload) return undefined;
  try {
    const notice = JSON.parse(payload) as Record<string, unknown>;
    const { task_id, attempt, worker_id, reason } = notice;
    if (typeof task_id !== 'string' || !Number.isInteger(attempt) || !Number.isInteger(worker_id)) return undefined;
    return { task_id, attempt: attempt as number, worker_id: worker_id as number, reason: typeof reason === 'string' ? reason : 'cancelled' };
  } catch {
    return undefined;
  }
}
