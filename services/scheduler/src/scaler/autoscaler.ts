import { insertEvent } from '../../../common/src/db/events';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import { slotTotals, type CoordinatorView } from '../coordinator-view';
import { measureQueue } from '../../../common/src/db/measure-queue';
import { decideReplicas, type ScalingDecision, type ScalingInput, type ScalingPolicy } from './decide-replicas';
import type { LeaderElector } from './leader-election';
import type { Scaler } from './scaler';

export interface AutoscalerOptions {
  scaler: Scaler;
  pool: Pool;
  coordinator: CoordinatorView;
  elector: LeaderElector;
  policy: ScalingPolicy;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

/** What a decision listener gets: the decision, the measurements behind it, and whether it was applied. */
export interface DecisionRecord extends ScalingDecision {
  input: ScalingInput;
  identity: string;
  /** True when the backend accepted the new count (always false for a hold). */
  applied: boolean;
}

export type DecisionListener = (record: DecisionRecord) => void;

/**
 * The operator-style reconcile loop: every interval, if this replica holds the lease, measure the load
 * (due pending tasks, busy slots), decide with decideReplicas, and apply a change through the scaler. Changes
 * are logged and recorded as 'scale' events; holds are logged at debug. Listeners (metrics) see every decision.
 */
export class Autoscaler {
  private readonly listeners: DecisionListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastChangeAt: number | undefined;
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
    const { policy, intervalMs, elector, scaler } = this.options;
    this.options.logger.info({ ...policy, intervalMs, scaler: scaler.kind, identity: elector.identity }, 'autoscaler started');
    this.schedule(0);
  }

  /** Stops the loop, waits for a running tick, and gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.options.elector.release();
  }

  /** One reconcile pass, the loop's body. Returns the decision, undefined when not leading. */
  private async tick(): Promise<DecisionRecord | undefined> {
    const { elector, logger } = this.options;
    const leading = await elector.check();
    if (leading && !this.leading) {
      // A new leader does not know when the previous one last scaled: it waits one cooldown before changing.
      this.lastChangeAt = this.now();
    }
    this.leading = leading;
    if (!leading) return undefined;

    const input = await this.measure();
    const decision = decideReplicas(input, this.options.policy);
    const record: DecisionRecord = { ...decision, input, identity: elector.identity, applied: false };
    if (decision.action === 'hold') {
      logger.debug({ decision: summary(record) }, 'autoscaler holds');
    } else {
      await this.apply(record);
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

  private async measure(): Promise<ScalingInput> {
    const { scaler, pool, coordinator, policy } = this.options;
    // Counting stops past what the maximum could serve: a huge backlog costs no more than a full one.
    const cap = (policy.maxReplicas + 1) * policy.tasksPerWorker;
    const [current, queued, workers] = await Promise.all([
      // Compose keeps no count until one is set: then the workers that are up are the count.
      scaler.desired().then(async (desired) => desired ?? (await scaler.list()).filter((w) => w.ready).length),
      measureQueue(pool, cap).then((queue) => queue.depth),
      coordinator.listWorkers(),
    ]);
    const slots = workers ? slotTotals(workers) : null;
    return {
      current,
      queued,
      slotsBusy: slots?.busy ?? null,
      slotsTotal: slots?.total ?? null,
      now: this.now(),
      lastChangeAt: this.lastChangeAt,
    };
  }

  private async apply(record: DecisionRecord): Promise<void> {
    const { scaler, pool, logger, elector } = this.options;
    try {
      await scaler.scale(record.replicas);
    } catch (err) {
      logger.error({ err, decision: summary(record) }, 'autoscaler could not apply its decision');
      return;
    }
    record.applied = true;
    this.lastChangeAt = this.now();
    const message = `autoscaler scaled workers from ${record.current} to ${record.replicas} (${scaler.kind}, ${elector.identity}): ${record.reason}`;
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
  const { action, current, replicas, demand, reason, input } = record;
  return { action, current, replicas, demand, queued: input.queued, slotsBusy: input.slotsBusy, slotsTotal: input.slotsTotal, reason };
}
