import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { callUnary, type TaskRequest, type TaskResponse } from '../../common/src/grpc/contract';
import { claimDueTasks, nextDueInMs, type ClaimedTask } from './db/claim-due-tasks';
import { handBackDispatches } from './db/hand-back-tasks';
import type { WorkerRegistry, RegisteredWorker } from './registry';
import type { WorkerClients } from './worker-clients';

export interface DispatcherOptions {
  pool: Pool;
  registry: WorkerRegistry;
  clients: WorkerClients;
  logger: Logger;
  leaseMs: number;
  batchSize: number;
  /** The slow fallback scan, in case a notification was lost. */
  pollIntervalMs: number;
  /** Deadline of one SubmitTask(s) call. */
  rpcTimeoutMs?: number;
  /** Observes every batch sent (metrics). */
  onDispatched?: (tasks: readonly ClaimedTask[]) => void;
}

/**
 * Moves due tasks to workers. A pass claims as many due tasks as there are free slots (one statement,
 * committed), then sends each worker its share in one SubmitTasks call (SubmitTask per task for original
 * workers) without waiting for the answers, and claims again until nothing due is left or no slot is free.
 *
 * Passes run one at a time. They are started by wake(): a NOTIFY on insert (wakeup.ts), a slot freed, a
 * worker joining; and by a timer set to when the earliest pending task falls due, bounded by the fallback
 * poll interval. So an idle system makes one query per poll interval, and a task due in the future starts
 * within a timer's precision of its scheduled_at, never before (the claim compares with the database clock).
 */
export class Dispatcher {
  private running = false;
  private wakeRequested = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlightSends = new Set<Promise<void>>();

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Stops claiming; resolves when the current pass and the sends it started are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
    await Promise.allSettled([...this.inFlightSends]);
  }

  /** Asks for a pass as soon as the current one (if any) ends. Cheap to call often. */
  wake(): void {
    if (this.stopped) return;
    this.wakeRequested = true;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.wakeRequested && !this.stopped) {
        this.wakeRequested = false;
        clearTimeout(this.timer);
        let delay: number;
        try {
          delay = await this.pass();
        } catch (err) {
          this.options.logger.error({ err }, 'dispatch pass failed; retrying');
          delay = Math.min(1000, this.options.pollIntervalMs);
        }
        if (!this.stopped) this.timer = setTimeout(() => this.wake(), delay);
      }
    } finally {
      this.running = false;
    }
  }

  /** One pass; returns how long to wait before the next unless woken earlier. */
  private async pass(): Promise<number> {
    const { pool, registry, leaseMs, batchSize, pollIntervalMs } = this.options;
    for (;;) {
      const plan = registry.reserveSlots(batchSize);
      // No free slot: a report that frees one, or a worker joining, will wake us.
      if (plan.length === 0) return pollIntervalMs;
      const claimed = await claimDueTasks(pool, plan, leaseMs);
      this.releaseUnused(plan, claimed);
      if (claimed.length > 0) this.send(claimed);
      if (claimed.length < plan.length) break;
      if (this.stopped) return pollIntervalMs;
    }
    const dueIn = await nextDueInMs(pool);
    if (dueIn === null) return pollIntervalMs;
    // Due already but not claimable: another coordinator holds it locked right now; look again shortly.
    if (dueIn <= 0) return 50;
    return Math.min(Math.ceil(dueIn) + 1, pollIntervalMs);
  }

  private releaseUnused(plan: readonly number[], claimed: readonly ClaimedTask[]): void {
    const unused = new Map<number, number>();
    for (const id of plan) unused.set(id, (unused.get(id) ?? 0) + 1);
    for (const task of claimed) unused.set(task.worker_id, (unused.get(task.worker_id) ?? 1) - 1);
    for (const [workerId, count] of unused) if (count > 0) this.options.registry.release(workerId, count);
  }

  private send(claimed: readonly ClaimedTask[]): void {
    this.options.onDispatched?.(claimed);
    const byWorker = new Map<number, ClaimedTask[]>();
    for (const task of claimed) {
      const list = byWorker.get(task.worker_id) ?? [];
      list.push(task);
      byWorker.set(task.worker_id, list);
    }
    for (const [workerId, tasks] of byWorker) {
      const sending = this.sendToWorker(workerId, tasks).finally(() => this.inFlightSends.delete(sending));
      this.inFlightSends.add(sending);
    }
  }

  private async sendToWorker(workerId: number, tasks: ClaimedTask[]): Promise<void> {
    const { registry, clients, logger } = this.options;
    const worker = registry.get(workerId);
    let refused: ClaimedTask[];
    if (!worker) {
      refused = tasks;
    } else {
      try {
        const responses = await this.submit(worker, tasks);
        refused = tasks.filter((_, i) => !responses[i]?.success);
        if (refused.length > 0) {
          logger.warn({ worker_id: workerId, refused: refused.length, reason: responses.find((r) => !r.success)?.message }, 'worker refused tasks');
        }
      } catch (err) {
        logger.warn({ worker_id: workerId, address: worker.address, tasks: tasks.length, err: (err as Error).message }, 'dispatch to worker failed; handing its tasks back');
        clients.close(worker.address);
        refused = tasks;
      }
    }
    if (refused.length > 0) {
      registry.pause(workerId, 1000);
      await this.handBack(workerId, refused);
    }
  }

  private async submit(worker: RegisteredWorker, tasks: ClaimedTask[]): Promise<TaskResponse[]> {
    const client = this.options.clients.get(worker.address);
    const timeout = this.options.rpcTimeoutMs ?? 10_000;
    const requests: TaskRequest[] = tasks.map((task) => ({
      task_id: task.id,
      data: task.command,
      attempt: task.attempt,
      scheduled_at_ms: task.due_at_ms,
    }));
    if (worker.legacy) {
      return Promise.all(requests.map((request) => callUnary(client, client.SubmitTask, request, timeout)));
    }
    const response = await callUnary(client, client.SubmitTasks, { tasks: requests }, timeout);
    return response.results;
  }

  private async handBack(workerId: number, tasks: ClaimedTask[]): Promise<void> {
    try {
      await handBackDispatches(this.options.pool, tasks);
    } catch (err) {
      // The leases will expire and the lease sweep will hand them back instead.
      this.options.logger.error({ err, worker_id: workerId }, 'could not hand back undelivered tasks');
    }
    this.options.registry.release(workerId, tasks.length);
    this.wake();
  }
}
