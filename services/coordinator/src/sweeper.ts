import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { insertEvent } from '../../common/src/db/events';
import { handBackExpiredLeases, handBackWorkerTasks, type HandedBack } from './db/hand-back-tasks';
import { pruneEvents } from './db/prune-events';
import { pruneTasks, type FinishedStatus } from './db/prune-tasks';
import type { RetentionConfig } from '../../common/src/config';
import { claimWorker, whileOwned } from './db/worker-owners';
import type { WorkerRegistry } from './registry';

export interface SweeperOptions {
  pool: Pool;
  registry: WorkerRegistry;
  logger: Logger;
  /** This coordinator's id in worker_owners. */
  coordinatorId: string;
  /** How often silent workers are looked for (in memory, no query). */
  evictionCheckMs: number;
  /** How often expired leases are looked for (one query). */
  leaseCheckMs: number;
  /** Finished tasks (with their events) and events older than these are pruned, once a minute; 0 keeps them. */
  retention: RetentionConfig;
  /** Called after tasks went back to pending, so the dispatcher claims them again. */
  onHandedBack: (tasks: readonly HandedBack[], reason: 'evicted' | 'left' | 'lease_expired') => void;
  onEvicted?: () => void;
}

/**
 * The two ways tasks held by a dead worker come back (DESIGN.md §2): the worker is evicted after
 * maxMissedHeartbeats silent intervals and everything it held goes back to pending at once; and, as a
 * safety net for workers no coordinator is watching (say after a coordinator restart), any lease that ran
 * out is handed back by a periodic, bounded sweep.
 */
export class Sweeper {
  private timers: NodeJS.Timeout[] = [];
  private busy = Promise.resolve();

  constructor(private readonly options: SweeperOptions) {}

  start(): void {
    const { evictionCheckMs, leaseCheckMs } = this.options;
    this.timers.push(setInterval(() => this.serialize(() => this.evictSilentWorkers()), evictionCheckMs));
    this.timers.push(setInterval(() => this.serialize(() => this.expireLeases()), leaseCheckMs));
    this.timers.push(setInterval(() => this.serialize(() => this.prune()), 60_000));
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.busy;
  }

  /**
   * Removes a worker and hands back what it held; used for eviction and for a worker that says it leaves.
   * Only while this coordinator still owns the worker: one that moved to another coordinator is that
   * one's, with its tasks (db/worker-owners.ts). A worker leaving that this coordinator never saw (it
   * restarted) is claimed first: it is talking to this one.
   */
  /** `identity`: of the worker's leaving heartbeat, which may only end a worker of that identity. */
  async removeWorker(workerId: number, reason: 'evicted' | 'left', identity: string | null = null): Promise<void> {
    const { pool, registry, logger, coordinatorId } = this.options;
    const worker = registry.remove(workerId);
    // A worker that leaves ends its own Connect stream once its leaving heartbeat is answered; ending it
    // here first would look like a lost connection to the worker.
    if (reason === 'evicted' || worker?.transport?.kind === 'dialled') worker?.transport?.close();
    const ownership = worker?.ownership ?? (reason === 'left' ? await claimWorker(pool, workerId, coordinatorId, identity) : undefined);
    const owned = ownership && await whileOwned(pool, ownership, (db) => handBackWorkerTasks(db, workerId, 1000, reason === 'left' ? 'worker left' : 'worker evicted'), { release: true });
    if (!owned) {
      logger.info({ worker_id: workerId, reason }, 'worker removed; another coordinator owns it now, so its tasks are left to that one');
      return;
    }
    const tasks = owned;
    const name = worker?.name ?? `worker-${workerId}`;
    await insertEvent(pool, {
      type: reason === 'evicted' ? 'worker_evicted' : 'worker_left',
      workerId,
      message: reason === 'evicted'
        ? `${name} evicted after missing heartbeats; ${tasks.length} task(s) handed back`
        : `${name} left; ${tasks.length} unfinished task(s) handed back`,
    });
    logger.info({ worker_id: workerId, name, handed_back: tasks.length, reason }, `worker ${reason}`);
    if (reason === 'evicted') this.options.onEvicted?.();
    this.options.onHandedBack(tasks, reason);
  }

  private serialize(job: () => Promise<void>): void {
    this.busy = this.busy.then(job).catch((err) => this.options.logger.error({ err }, 'sweep failed'));
  }

  private async evictSilentWorkers(): Promise<void> {
    for (const worker of this.options.registry.silent()) await this.removeWorker(worker.id, 'evicted');
  }

  /** Retention: finished tasks past their state's age (with their events), then events past theirs. */
  async prune(): Promise<void> {
    const { pool, logger, retention } = this.options;
    const ages = { succeeded: retention.succeededMs, failed: retention.failedMs, cancelled: retention.cancelledMs };
    for (const [status, age] of Object.entries(ages) as Array<[FinishedStatus, number]>) {
      if (age <= 0) continue;
      const deleted = await pruneTasks(pool, status, age);
      if (deleted > 0) logger.info({ deleted, status }, 'pruned finished tasks past their retention');
    }
    if (retention.eventsMs > 0) {
      const deleted = await pruneEvents(pool, retention.eventsMs);
      if (deleted > 0) logger.info({ deleted }, 'pruned old events');
    }
  }

  private async expireLeases(): Promise<void> {
    const tasks = await handBackExpiredLeases(this.options.pool);
    if (tasks.length === 0) return;
    for (const task of tasks) if (task.worker_id !== null) this.options.registry.unassign(task.worker_id, task.id);
    this.options.logger.warn({ handed_back: tasks.length }, 'leases expired; tasks handed back');
    this.options.onHandedBack(tasks, 'lease_expired');
  }
}
