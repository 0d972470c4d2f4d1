import { insertEvent } from '../../../common/src/db/events';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import type { WorkerInfo } from '../../../common/src/grpc/contract';
import { slotTotals, type CoordinatorView } from '../coordinator-view';
import { measurePoolQueue } from '../../../common/src/db/measure-queue';
import { DEFAULT_POOL } from '../../../common/src/worker-pools';
import { decideReplicas, type ScalingDecision, type ScalingInput, type ScalingPolicy } from './decide-replicas';
import type { LeaderElector } from './leader-election';
import type { Scaler } from './scaler';

/** One worker pool the autoscaler sizes: its scaler, its bounds, and the queues and task names it takes. */
export interface AutoscaledPool {
  name: string;
  scaler: Scaler;
  policy: ScalingPolicy;
  /** Its queues; empty or absent: every queue. */
  queues?: readonly string[];
  /** Its task names; empty or absent: every name and command tasks. */
  tasks?: readonly string[];
  /**
   * Its busy slots are those of the registered workers named like its pods; true counts every registered
   * worker instead, for a single pool whose worker names need not match (local processes, compose).
   */
  allWorkers?: boolean;
}

export interface AutoscalerOptions {
  /** The pools to size, each on its own queues. */
  pools: readonly AutoscaledPool[];
  pool: Pool;
  coordinator: CoordinatorView;
  elector: LeaderElector;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

/** One pool made of a scaler and a policy, counting every worker: the autoscaler before pools existed. */
export function defaultPoolOnly(scaler: Scaler, policy: ScalingPolicy): AutoscaledPool[] {
  return [{ name: DEFAULT_POOL, scaler, policy, allWorkers: true }];
}

/** What a decision listener gets: the decision, the measurements behind it, and whether it was applied. */
export interface DecisionRecord extends ScalingDecision {
  /** The worker pool decided for. */
  pool: string;
  input: ScalingInput;
  identity: string;
  /** True when the backend accepted the new count (always false for a hold). */
  applied: boolean;
}

export type DecisionListener = (record: DecisionRecord) => void;

/**
 * The operator-style reconcile loop: every interval, if this replica holds the lease, for each pool measure
 * the load (its queues' due tasks and the age of the oldest, its workers' busy slots), decide with
 * decideReplicas, and apply a change through the pool's scaler. One Lease covers every pool. Changes are
 * logged and recorded as 'scale' events; holds are logged at debug. Listeners (metrics) see every decision.
 */
export class Autoscaler {
  private readonly listeners: DecisionListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Per pool: when this autoscaler last changed its count. */
  private readonly lastChangeAt = new Map<string, number>();
  private leading = false;

  constructor(private readonly options: AutoscalerOptions) {}

  /** Registers a listener for every decision, holds included; returns its remover. */
  onDecision(listener: DecisionListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  start(): void {
    const { pools, intervalMs, elector } = this.options;
    for (const { name, policy, scaler, queues } of pools) {
      this.options.logger.info({ pool: name, ...policy, queues, intervalMs, scaler: scaler.kind, identity: elector.identity }, 'autoscaler started');
    }
    this.schedule(0);
  }

  /** Stops the loop, waits for a running tick, and gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.options.elector.release();
  }

  /** One reconcile pass, the loop's body: every pool in turn, when leading. */
  private async tick(): Promise<void> {
    const { elector, logger, pools } = this.options;
    const leading = await elector.check();
    if (leading && !this.leading) {
      // A new leader does not know when the previous one last scaled: it waits one cooldown before changing.
      for (const { name } of pools) this.lastChangeAt.set(name, this.now());
    }
    this.leading = leading;
    if (!leading) return;
    // One registry answer for every pool of the pass: the pools' busy slots then add up to the whole.
    const workers = await this.options.coordinator.listWorkers();
    for (const pool of pools) {
      try {
        await this.reconcile(pool, workers);
      } catch (err) {
        logger.error({ err, pool: pool.name }, 'autoscaler pass failed for a worker pool');
      }
    }
  }

  private async reconcile(workerPool: AutoscaledPool, workers: WorkerInfo[] | null): Promise<DecisionRecord> {
    const { elector, logger } = this.options;
    const input = await this.measure(workerPool, workers);
    const decision = decideReplicas(input, workerPool.policy);
    const record: DecisionRecord = { ...decision, pool: workerPool.name, input, identity: elector.identity, applied: false };
    if (decision.action === 'hold') {
      logger.debug({ decision: summary(record) }, 'autoscaler holds');
    } else {
      await this.apply(workerPool, record);
    }
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (err) {
        logger.warn({ err }, 'autoscaler decision listener failed');
      }
    }
    return record;
  }

  private async measure(workerPool: AutoscaledPool, workers: WorkerInfo[] | null): Promise<ScalingInput> {
    const { scaler, policy, queues = [], tasks = [] } = workerPool;
    // Counting stops past what the maximum could serve: a huge backlog costs no more than a full one.
    const cap = (policy.maxReplicas + 1) * policy.tasksPerWorker;
    const [current, queue, members] = await Promise.all([
      // Compose keeps no count until one is set: then the workers that are up are the count.
      scaler.desired().then(async (desired) => desired ?? (await scaler.list()).filter((w) => w.ready).length),
      measurePoolQueue(this.options.pool, cap, { queues, names: tasks }),
      workerPool.allWorkers || !workers ? undefined : scaler.list().then((pods) => new Set(pods.map((pod) => pod.name))),
    ]);
    const own = workers && members ? workers.filter((worker) => members.has(worker.name)) : workers;
    const slots = own ? slotTotals(own) : null;
    return {
      current,
      queued: queue.depth,
      oldestDueAgeMs: queue.oldest_due_age_seconds * 1000,
      slotsBusy: slots?.busy ?? null,
      slotsTotal: slots?.total ?? null,
      now: this.now(),
      lastChangeAt: this.lastChangeAt.get(workerPool.name),
    };
  }

  private async apply(workerPool: AutoscaledPool, record: DecisionRecord): Promise<void> {
    const { pool, logger, elector } = this.options;
    const { scaler } = workerPool;
    try {
      await scaler.scale(record.replicas);
    } catch (err) {
      logger.error({ err, decision: summary(record) }, 'autoscaler could not apply its decision');
      return;
    }
    record.applied = true;
    this.lastChangeAt.set(workerPool.name, this.now());
    const which = workerPool.name === DEFAULT_POOL ? 'workers' : `workers of pool ${workerPool.name}`;
    const message = `autoscaler scaled ${which} from ${record.current} to ${record.replicas} (${scaler.kind}, ${elector.identity}): ${record.reason}`;
    logger.info({ decision: summary(record) }, message);
    await insertEvent(pool, { type: 'scale', message }).catch((err: unknown) => {
      logger.warn({ err }, 'could not record the scale event');
    });
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined, (err: unknown) => this.options.logger.error({ err }, 'autoscaler pass failed'))
        .finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function summary(record: DecisionRecord): Record<string, unknown> {
  const { pool, action, current, replicas, demand, reason, input } = record;
  return { pool, action, current, replicas, demand, queued: input.queued, oldestDueAgeMs: input.oldestDueAgeMs, slotsBusy: input.slotsBusy, slotsTotal: input.slotsTotal, reason };
}
