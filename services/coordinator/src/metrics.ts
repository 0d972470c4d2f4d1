import { Counter, Gauge, Histogram } from 'prom-client';
import type { Pool } from '../../common/src/db/pool';
import type { UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import type { Logger } from '../../common/src/logger';
import { registry } from '../../common/src/metrics';
import type { ClaimedTask } from './db/claim-due-tasks';
import type { HandedBack } from './db/hand-back-tasks';
import { measureQueue } from '../../common/src/db/measure-queue';
import type { WorkerRegistry } from './registry';
import type { RecordedOutcome } from './status-recorder';

/**
 * The coordinator's metrics: task transitions as it records them, dispatch, the queue and the workers.
 * Transitions are counted after their write committed and only when it applied, so a duplicate or stale
 * report counts nothing and each counter matches the events table. docs/operations.md explains each.
 */

/** Why tasks went back to pending without a reported failure. */
export type ReassignReason = 'evicted' | 'left' | 'lease_expired' | 'undelivered';
const REASSIGN_REASONS: readonly ReassignReason[] = ['evicted', 'left', 'lease_expired', 'undelivered'];

const tasksDispatched = new Counter({
  name: 'taskmaster_tasks_dispatched_total',
  help: 'Tasks claimed and sent to a worker (every attempt counts).',
  registers: [registry],
});
const dispatchBatchSize = new Histogram({
  name: 'taskmaster_dispatch_batch_size_tasks',
  help: 'Tasks claimed by one dispatch query (DISPATCH_BATCH_SIZE at most).',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000],
  registers: [registry],
});
const tasksStarted = new Counter({
  name: 'taskmaster_tasks_started_total',
  help: 'Attempts that began running on a worker, as reported by STARTED or folded into the finish report.',
  registers: [registry],
});
const tasksSucceeded = new Counter({
  name: 'taskmaster_tasks_succeeded_total',
  help: 'Tasks that completed successfully.',
  registers: [registry],
});
const tasksFailed = new Counter({
  name: 'taskmaster_tasks_failed_total',
  help: 'Tasks that failed on their last attempt (final failures).',
  registers: [registry],
});
const tasksRetried = new Counter({
  name: 'taskmaster_tasks_retried_total',
  help: 'Failed attempts with attempts left: the task goes back to pending after a backoff.',
  registers: [registry],
});
const tasksReassigned = new Counter({
  name: 'taskmaster_tasks_reassigned_total',
  help: 'Unfinished tasks handed back to pending, by reason (evicted, left, lease_expired, undelivered).',
  labelNames: ['reason'],
  registers: [registry],
});
const heartbeatsReceived = new Counter({
  name: 'taskmaster_heartbeats_received_total',
  help: 'Worker heartbeats accepted (a leaving worker\'s last one included).',
  registers: [registry],
});
const workerEvictions = new Counter({
  name: 'taskmaster_worker_evictions_total',
  help: 'Workers evicted after MAX_MISSED_HEARTBEATS silent heartbeat intervals.',
  registers: [registry],
});
const queueDepth = new Gauge({
  name: 'taskmaster_queue_depth_tasks',
  help: 'Pending tasks that are due now, counted up to 100000 (sampled every POLL_INTERVAL; every coordinator reports the same queue).',
  registers: [registry],
});
const queueOldestDueAge = new Gauge({
  name: 'taskmaster_queue_oldest_due_age_seconds',
  help: 'How long the next task to be claimed has been due, 0 when none is (sampled every POLL_INTERVAL).',
  registers: [registry],
});

const tasksStuckDispatched = new Gauge({
  name: 'taskmaster_tasks_stuck_dispatched',
  help: 'Tasks dispatched over a minute ago that no worker has reported started (sampled every POLL_INTERVAL).',
  registers: [registry],
});
const databaseUp = new Gauge({
  name: 'taskmaster_database_up',
  help: '1 when the last queue sample reached PostgreSQL, 0 when it failed (sampled every POLL_INTERVAL).',
  registers: [registry],
});

// A series that exists at 0 from the start, rather than appearing at the first increment, makes rate() and
// the dashboard's panels correct from the first scrape.
for (const reason of REASSIGN_REASONS) tasksReassigned.inc({ reason }, 0);

// The worker gauges are read from the registries at scrape time: in memory, cheap, and never stale.
const watched = new Set<WorkerRegistry>();
const sumOverWorkers = (value: (registry: WorkerRegistry) => number) => {
  let sum = 0;
  for (const workers of watched) sum += value(workers);
  return sum;
};
new Gauge({
  name: 'taskmaster_workers_alive',
  help: 'Workers registered with this coordinator (heartbeating, draining ones included).',
  registers: [registry],
  collect() {
    this.set(sumOverWorkers((workers) => workers.size));
  },
});
new Gauge({
  name: 'taskmaster_worker_slots',
  help: 'Task slots of the registered workers.',
  registers: [registry],
  collect() {
    this.set(sumOverWorkers((workers) => workers.list().reduce((sum, w) => sum + w.slots_total, 0)));
  },
});
new Gauge({
  name: 'taskmaster_worker_slots_busy',
  help: 'Task slots holding a dispatched or running task.',
  registers: [registry],
  collect() {
    this.set(sumOverWorkers((workers) => workers.list().reduce((sum, w) => sum + w.slots_busy, 0)));
  },
});

const tasksUnhandled = new Gauge({
  name: 'taskmaster_tasks_unhandled',
  help: 'Pending tasks whose name no worker connected to this coordinator runs, by name: they wait until such a worker joins.',
  labelNames: ['name'],
  registers: [registry],
});

/** Reports a registry's workers and slots until the returned function is called. */
export function watchWorkers(workers: WorkerRegistry): () => void {
  watched.add(workers);
  return () => watched.delete(workers);
}

export function observeDispatched(tasks: readonly ClaimedTask[]): void {
  tasksDispatched.inc(tasks.length);
  dispatchBatchSize.observe(tasks.length);
}

/** Counts one worker report once its write committed; reports that did not apply count nothing. */
export function observeReport(update: UpdateTaskStatusRequest, outcome: RecordedOutcome): void {
  if (!outcome.applied) return;
  // A task that finished before its STARTED was sent has the start folded into its finish (started_at_ms).
  if (update.status === 'STARTED' || update.started_at_ms > 0) tasksStarted.inc();
  if (update.status === 'COMPLETE') tasksSucceeded.inc();
  else if (update.status === 'FAILED') (outcome.final ? tasksFailed : tasksRetried).inc();
}

/** Tasks handed back: back to pending (reassigned), or failed when a running one had no executions left. */
export function observeReassigned(tasks: readonly HandedBack[], reason: ReassignReason): void {
  const failed = tasks.filter((task) => task.failed).length;
  if (tasks.length > failed) tasksReassigned.inc({ reason }, tasks.length - failed);
  if (failed > 0) tasksFailed.inc(failed);
}

export function observeHeartbeat(): void {
  heartbeatsReceived.inc();
}

export function observeEviction(): void {
  workerEvictions.inc();
}

/**
 * Samples the queue gauges every intervalMs, off the scrape path: a scrape reads the last sample and never
 * waits on the database. A sample still running when the next is due is not doubled.
 */
export function sampleQueue(options: { pool: Pool; logger: Logger; intervalMs: number; workers: WorkerRegistry }): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const sample = () => {
    running ??= measureQueue(options.pool)
      .then((measure) => {
        queueDepth.set(measure.depth);
        queueOldestDueAge.set(measure.oldest_due_age_seconds);
        tasksStuckDispatched.set(measure.stuck_dispatched);
        databaseUp.set(1);
        const handled = options.workers.handledNames().names;
        tasksUnhandled.reset();
        for (const { name, pending } of measure.pending_names) if (!handled.has(name)) tasksUnhandled.set({ name }, pending);
      })
      .catch((err: Error) => {
        databaseUp.set(0);
        options.logger.warn({ err: err.message }, 'measuring the queue failed');
      })
      .finally(() => {
        running = undefined;
      });
  };
  sample();
  const timer = setInterval(sample, options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
