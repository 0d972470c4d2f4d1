import { api } from '../../api/endpoints';
import { usePoll } from '../../hooks/use-poll';

/** Worker names change only when workers come and go, so the task views read them less often than tasks. */
const WORKER_NAMES_INTERVAL_MS = 10_000;

/** Names a task's worker_id: the worker's name, or "worker 7" once it has left the registry. */
export type WorkerNamer = (workerId: number | null | undefined) => string | undefined;

/**
 * Maps the coordinator's numeric worker ids to the names people see on the workers view (pod or process
 * names), from GET /api/workers. Until it answers, and for workers that are gone, the id is shown instead.
 */
export function useWorkerNames(): WorkerNamer {
  const workers = usePoll((signal) => api.workers(signal), { intervalMs: WORKER_NAMES_INTERVAL_MS, minGapMs: 2000 });
  const names = new Map<number, string>();
  for (const worker of workers.data?.workers ?? []) if (worker.worker_id !== undefined) names.set(worker.worker_id, worker.name);
  return (workerId) => (workerId === null || workerId === undefined ? undefined : names.get(workerId) ?? `worker ${workerId}`);
}
