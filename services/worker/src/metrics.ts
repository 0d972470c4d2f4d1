import { Histogram } from 'prom-client';
import type { TaskRequest } from '../../common/src/grpc/contract';
import { registry } from '../../common/src/metrics';

/**
 * The worker's metrics: how long tasks waited to start and how long they ran, observed where both happen.
 * Each attempt is observed once. docs/operations.md explains each.
 */

const scheduleToStart = new Histogram({
  name: 'taskmaster_schedule_to_start_seconds',
  help: 'From when a task became due (the later of scheduled_at and creation, or its retry time) to the start of an attempt on a worker.',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

const runDuration = new Histogram({
  name: 'taskmaster_task_run_duration_seconds',
  help: 'How long an attempt ran on a worker, by outcome (succeeded, failed).',
  labelNames: ['outcome'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [registry],
});
for (const outcome of ['succeeded', 'failed']) runDuration.zero({ outcome });

/**
 * An attempt started. The coordinator sends when the task became due, on the database's clock; a worker
 * clock slightly behind it could make the difference negative, which is counted as 0. An original
 * coordinator sends no due time (0), and nothing is observed.
 */
export function observeStarted(task: TaskRequest, startedAtMs: number): void {
  if (task.scheduled_at_ms > 0) scheduleToStart.observe(Math.max(0, startedAtMs - task.scheduled_at_ms) / 1000);
}

export function observeFinished(_task: TaskRequest, outcome: 'succeeded' | 'failed', runMs: number): void {
  runDuration.observe({ outcome }, runMs / 1000);
}
