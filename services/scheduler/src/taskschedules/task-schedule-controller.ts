import type { Logger } from '../../../common/src/logger';
import { apiStatus, errorSummary } from '../scaler/kube-client';
import type { LeaderElector } from '../scaler/leader-election';
import type { TaskSchedule } from './task-schedule';
import type { TaskScheduleApi, TaskScheduleWatch } from './task-schedule-client';
import type { TaskScheduleReconciler } from './task-schedule-reconciler';

export interface TaskScheduleControllerOptions {
  api: TaskScheduleApi;
  reconciler: TaskScheduleReconciler;
  /** The Lease of TASK_SCHEDULES_LEASE_NAME: one replica reconciles, the others wait. */
  elector: LeaderElector;
  /** How often leadership is checked (renewed); well within the lease's duration. */
  leaseCheckMs: number;
  /** TASK_SCHEDULES_RESYNC: a fresh list, every resource reconciled, orphaned schedules deleted. */
  resyncMs: number;
  /** TASK_SCHEDULES_STATUS_INTERVAL: every watched resource's status refreshed from the database. */
  statusIntervalMs: number;
  /** How long a failed watch waits before it lists and watches again; default 5 s. */
  watchRetryMs?: number;
  logger: Logger;
}

/**
 * The TaskSchedule operator loop. While this replica holds the Lease it watches the namespace's resources
 * (each change reconciled at once), resyncs from a full list on a timer (which also deletes the schedules of
 * resources deleted while nobody watched: there is no finalizer, see docs/schedules.md) and refreshes the
 * statuses from the database. All work runs one piece at a time, in order, so two passes never race on a row.
 */
export class TaskScheduleController {
  private leaseTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private watchRetry: NodeJS.Timeout | undefined;
  private watching: TaskScheduleWatch | undefined;
  /** Counts watches started; a failure reported by an older one is ignored. */
  private watchAttempt = 0;
  private leading = false;
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();
  private checking: Promise<void> | undefined;

  constructor(private readonly options: TaskScheduleControllerOptions) {}

  /** Starts checking for leadership; returns after the first check (and, when leading, the first resync). */
  async start(): Promise<void> {
    await this.checkLeadership();
    await this.idle();
    this.leaseTimer = setInterval(() => void this.checkLeadership(), this.options.leaseCheckMs);
    this.leaseTimer.unref();
  }

  /** Stops watching and the timers, waits for the work in hand, and gives the Lease up for another replica. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    await this.checking;
    await this.follow();
    await this.idle();
    await this.options.elector.release();
  }

  /** Resolves when the work queued so far is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  get isLeading(): boolean {
    return this.leading;
  }

  private checkLeadership(): Promise<void> {
    if (this.checking) return this.checking;
    this.checking = (async () => {
      try {
        const leading = !this.stopped && (await this.options.elector.check());
        if (leading && !this.leading) await this.lead();
        else if (!leading && this.leading) await this.follow();
      } catch (err) {
        this.options.logger.error({ err }, 'TaskSchedule leadership check failed');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async lead(): Promise<void> {
    this.leading = true;
    const { resyncMs, statusIntervalMs } = this.options;
    this.enqueue('resync', () => this.resync());
    await this.startWatch();
    this.resyncTimer = setInterval(() => this.enqueue('resync', () => this.resync()), resyncMs);
    this.statusTimer = setInterval(() => this.enqueue('status refresh', () => this.refresh()), statusIntervalMs);
    this.resyncTimer.unref();
    this.statusTimer.unref();
  }

  private async follow(): Promise<void> {
    this.leading = false;
    this.watchAttempt++;
    clearInterval(this.resyncTimer);
    clearInterval(this.statusTimer);
    clearTimeout(this.watchRetry);
    const watching = this.watching;
    this.watching = undefined;
    await watching?.stop();
  }

  private async startWatch(): Promise<void> {
    if (!this.leading || this.watching) return;
    const attempt = ++this.watchAttempt;
    // The informer reports a failed first list while it is still starting, before this watch is kept.
    let failed = false;
    const onFailure = (err: unknown) => {
      failed = true;
      if (attempt === this.watchAttempt) this.watchFailed(err);
    };
    try {
      const watching = await this.options.api.watch({
        changed: (resource) => this.enqueue('reconcile', () => this.options.reconciler.reconcile(resource)),
        deleted: (resource) => this.enqueue('delete', () => this.options.reconciler.remove(resource)),
        failed: onFailure,
      });
      if (failed || attempt !== this.watchAttempt) await watching.stop();
      else this.watching = watching;
    } catch (err) {
      onFailure(err);
    }
  }

  /** client-node's informer stops on an error; it is started again after a pause while this replica leads. */
  private watchFailed(err: unknown): void {
    const retryMs = this.options.watchRetryMs ?? 5000;
    this.options.logger.warn({ err: errorSummary(err) }, `the TaskSchedule watch failed; watching again in ${retryMs / 1000} s`);
    const watching = this.watching;
    this.watching = undefined;
    void watching?.stop();
    clearTimeout(this.watchRetry);
    this.watchRetry = setTimeout(() => void this.startWatch(), retryMs);
    this.watchRetry.unref();
  }

  private async resync(): Promise<void> {
    let resources: TaskSchedule[];
    try {
      resources = await this.options.api.list();
    } catch (err) {
      const hint = apiStatus(err) === 404 ? ': is the CRD installed? kubectl apply -f charts/taskmaster/crds/taskschedules.yaml' : '';
      this.options.logger.warn({ err: errorSummary(err) }, `cannot list TaskSchedules${hint}`);
      return;
    }
    await this.options.reconciler.resync(resources);
  }

  private async refresh(): Promise<void> {
    if (this.watching) await this.options.reconciler.refresh(this.watching.cached());
  }

  /** Runs after the work queued before it; dropped when this replica no longer leads by the time it runs. */
  private enqueue(what: string, work: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (!this.leading) return;
      try {
        await work();
      } catch (err) {
        this.options.logger.warn({ err: errorSummary(err) }, `TaskSchedule ${what} failed; the next resync retries`);
      }
    });
  }
}
