import type { TaskView } from '../../../services/scheduler/src/api-types';

interface Sample {
  startedSec: number;
  latencyMs: number;
}

/**
 * Schedule-to-start latency of recently started tasks: from scheduled_at (or creation, when the task was
 * created after its scheduled time) to started_at, the same definition as the coordinator's histogram. The
 * event stream does not carry scheduled_at, so samples come from GET /api/tasks pages of started tasks;
 * each task counts once.
 */
export class LatencySamples {
  private readonly byTask = new Map<string, Sample>();

  constructor(private readonly windowSeconds: number) {}

  add(tasks: readonly TaskView[]): void {
    for (const task of tasks) {
      if (!task.started_at || this.byTask.has(task.task_id)) continue;
      const started = Date.parse(task.started_at);
      const due = Math.max(Date.parse(task.scheduled_at), Date.parse(task.created_at));
      this.byTask.set(task.task_id, { startedSec: started / 1000, latencyMs: Math.max(0, started - due) });
    }
  }

  prune(nowMs: number): void {
    const oldest = nowMs / 1000 - this.windowSeconds;
    for (const [id, sample] of this.byTask) if (sample.startedSec < oldest) this.byTask.delete(id);
  }

  /** Median and 95th percentile per bucket ending at nowMs; null where no task started. */
  percentiles(nowMs: number, bucketSeconds: number): { x: number[]; p50: (number | null)[]; p95: (number | null)[] } {
    const end = Math.ceil(nowMs / 1000 / bucketSeconds) * bucketSeconds;
    const start = end - this.windowSeconds;
    const buckets = new Map<number, number[]>();
    for (const sample of this.byTask.values()) {
      const bucket = Math.floor(sample.startedSec / bucketSeconds) * bucketSeconds;
      if (bucket < start) continue;
      let list = buckets.get(bucket);
      if (!list) buckets.set(bucket, (list = []));
      list.push(sample.latencyMs);
    }
    const x: number[] = [];
    const p50: (number | null)[] = [];
    const p95: (number | null)[] = [];
    for (let bucket = start; bucket < end; bucket += bucketSeconds) {
      const list = buckets.get(bucket)?.sort((a, b) => a - b);
      x.push(bucket);
      p50.push(list ? quantile(list, 0.5) : null);
      p95.push(list ? quantile(list, 0.95) : null);
    }
    return { x, p50, p95 };
  }

  /** The median over every sample still in the window, or undefined without samples. */
  median(): number | undefined {
    const all = [...this.byTask.values()].map((s) => s.latencyMs).sort((a, b) => a - b);
    return all.length > 0 ? quantile(all, 0.5) : undefined;
  }
}

/** The q-quantile of sorted values (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
