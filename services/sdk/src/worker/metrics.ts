import { Histogram, type Registry } from 'prom-client';

/** The worker runtime's metrics; docs/sdk.md and docs/operations.md explain each. */
export interface WorkerMetrics {
  /** An attempt started; `scheduledAtMs` is when the task became due on the database's clock (0: not sent). */
  started(scheduledAtMs: number, startedAtMs: number): void;
  finished(outcome: 'succeeded' | 'failed', runMs: number): void;
}

/**
 * Registers the histograms on `registry`, or takes the ones already there (two workers in one process share
 * them, as a registry allows one metric per name).
 */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const scheduleToStart = existing(registry, 'taskmaster_schedule_to_start_seconds') ?? new Histogram({
    name: 'taskmaster_schedule_to_start_seconds',
    help: 'From when a task became due (the later of scheduled_at and creation, or its retry time) to the start of an attempt on a worker.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  let runDuration = existing(registry, 'taskmaster_task_run_duration_seconds');
  if (!runDuration) {
    runDuration = new Histogram({
      name: 'taskmaster_task_run_duration_seconds',
      help: 'How long an attempt ran on a worker, by outcome (succeeded, failed).',
      labelNames: ['outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    });
    for (const outcome of ['succeeded', 'failed']) runDuration.zero({ outcome });
  }
  // Children by outcome, looked up once: observe() with labels hashes them on every call.
  const duration = { succeeded: runDuration.labels({ outcome: 'succeeded' }), failed: runDuration.labels({ outcome: 'failed' }) };
  return {
    // A worker clock slightly behind the database's could make the wait negative: counted as 0.
    started(scheduledAtMs, startedAtMs) {
      if (scheduledAtMs > 0) scheduleToStart.observe(Math.max(0, startedAtMs - scheduledAtMs) / 1000);
    },
    finished(outcome, runMs) {
      duration[outcome].observe(runMs / 1000);
    },
  };
}

function existing(registry: Registry, name: string): Histogram | undefined {
  const metric = registry.getSingleMetric(name);
  return metric instanceof Histogram ? metric : undefined;
}
