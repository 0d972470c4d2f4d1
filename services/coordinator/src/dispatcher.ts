import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import type { TaskRequest, TaskResponse } from '../../common/src/grpc/contract';
import { claimDueTasks, gatesInUse, nextDueInMs, type ClaimedTask } from './db/claim-due-tasks';
import { handBackDispatches, type HandedBack } from './db/hand-back-tasks';
import type { WorkerRegistry, WorkerTransport } from './registry';

const HELD_TASKS_PER_CALL = 50;

/** How often a dispatcher asks again whether gates exist, should a NOTIFY have been lost. */
const GATES_RECHECK_MS = 30_000;

export interface DispatcherOptions {
  pool: Pool;
  registry: WorkerRegistry;
  logger: Logger;
  leaseMs: number;
  batchSize: number;
  /**
   * Tasks due within this many ms are claimed and sent ahead, for their worker to hold until due, so a
   * crowd of tasks due at the same instant is already at the workers when it falls due. 0 = off; also off
   * while any registered worker does not hold tasks (an original worker would start them early).
   */
  lookaheadMs: number;
  /** The slow fallback scan, in case a notification was lost. */
  pollIntervalMs: number;
  /** Deadline of one SubmitTask(s) call. */
  rpcTimeoutMs?: number;
  /** Observes every batch sent (metrics). */
  onDispatched?: (tasks: readonly ClaimedTask[]) => void;
  /** Observes the tasks a refused or failed dispatch put back to pending (metrics). */
  onHandedBack?: (tasks: readonly HandedBack[]) => void;
}

/**
 * Moves due tasks to workers. A pass claims as many due tasks as there are free slots (one statement,
 * committed), then sends each worker its share as one message on its StreamTasks stream (SubmitTask per task
 * for original workers) without waiting for the answers, and claims again until nothing due is left or no slot is free.
 *
 * Passes run one at a time. They are started by wake(): a NOTIFY on insert, retry or hand-back (LISTEN in
 * coordinator.ts); a slot freed or a worker joining, when the last pass ran out of slots (capacityChanged);
 * and by a timer set to the lookahead before the earliest pending task falls due, bounded by the fallback
 * poll interval. So an idle system makes one query per poll interval, and a task due in the
 * future is at its worker before it is due and starts within a timer's precision of its scheduled_at, never
 * before (claim-due-tasks.ts).
 */
export class Dispatcher {
  private running = false;
  private wakeRequested = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlightSends = new Set<Promise<void>>();
  /** The last pass stopped for want of a free slot, so freed slots are worth a pass. */
  private slotLimited = true;
  /**
   * Whether gates exist (migration 0017), so the claim needs its gated branches; undefined: ask before the next
   * claim. Asked again on a NOTIFY (gatesChanged) and every GATES_RECHECK_MS, in case one was lost. Wrong for a
   * moment, it only delays gated tasks: they are in no index the ungated claim reads.
   */
  private gates: { inUse: boolean; checkedAt: number } | undefined;

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

  /**
   * A slot was freed or a worker joined or beat: a pass only if the last one ran out of slots. Waking on
   * every finished task made 1.5 claims per task at 200 tasks/s, most of them finding nothing.
   */
  capacityChanged(): void {
    if (this.slotLimited) this.wake();
  }

  /** A queue control or concurrency limit was made or removed: find out whether gates exist, and claim. */
  gatesChanged(): void {
    this.gates = undefined;
    this.wake();
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
    const lookaheadMs = registry.allDelayedStart() ? this.options.lookaheadMs : 0;
    if (!this.gates || Date.now() - this.gates.checkedAt > GATES_RECHECK_MS) {
      this.gates = { inUse: await gatesInUse(pool), checkedAt: Date.now() };
    }
    const gates = this.gates.inUse;
    for (;;) {
      const plan = registry.reserveSlots(batchSize);
      // No free slot: a report that frees one, or a worker joining, will wake us.
      if (plan.length === 0) {
        this.slotLimited = true;
        return pollIntervalMs;
      }
      // One claim per kind of worker (the task names they run); usually there is one kind.
      let filled = false;
      for (const { capabilities, slots } of registry.groupByCapabilities(plan).values()) {
        let claimed: ClaimedTask[] = [];
        try {
          claimed = await claimDueTasks(pool, slots, capabilities, leaseMs, lookaheadMs, gates);
        } finally {
          // Also when the claim failed: reserved slots must not leak.
          registry.settleReservations(slots, claimed);
        }
        if (claimed.length > 0) this.send(claimed);
        filled ||= claimed.length === slots.length;
      }
      if (!filled) break;
      if (this.stopped) return pollIntervalMs;
    }
    this.slotLimited = false;
    // Woken meanwhile (a task was inserted): the next pass claims again at once, and a query for the timer
    // would only delay it (at 200 tasks/s it ran after nearly every claim).
    if (this.wakeRequested) return pollIntervalMs;
    const dueIn = await nextDueInMs(pool, gates);
    if (dueIn === null) return pollIntervalMs;
    // Claimable already but not claimed: another coordinator holds it locked right now; look again shortly.
    if (dueIn <= lookaheadMs) return 50;
    return Math.min(Math.ceil(dueIn - lookaheadMs) + 1, pollIntervalMs);
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
    const { registry, logger } = this.options;
    const worker = registry.get(workerId);
    const transport = worker?.transport;
    let refused: ClaimedTask[];
    if (!worker || !transport) {
      refused = tasks;
    } else {
      try {
        const responses = await this.submit(transport, tasks);
        refused = tasks.filter((_, i) => !responses[i]?.success);
        if (refused.length > 0) {
          logger.warn({ worker_id: workerId, refused: refused.length, reason: responses.find((r) => !r.success)?.message }, 'worker refused tasks');
        }
      } catch (err) {
        registry.pause(workerId, 1000);
        if (worker.reportsHeld) {
          // The call failed, but the worker may have taken the tasks before it did: its next heartbeat says
          // what it holds, and what it does not is handed back then (heartbeats.ts).
          logger.warn({ worker_id: workerId, tasks: tasks.length, err: (err as Error).message }, 'dispatch to worker failed; its next heartbeat settles what it holds');
          return;
        }
        logger.warn({ worker_id: workerId, address: worker.address, tasks: tasks.length, err: (err as Error).message }, 'dispatch to worker failed; handing its tasks back');
        // A dialled channel reconnects on its next call.
        transport.close();
        refused = tasks;
      }
    }
    if (refused.length > 0) {
      registry.pause(workerId, 1000);
      await this.handBack(workerId, refused);
    }
  }

  private async submit(transport: WorkerTransport, tasks: ClaimedTask[]): Promise<TaskResponse[]> {
    const timeout = this.options.rpcTimeoutMs ?? 10_000;
    // A held task's wait is counted from when its request is built; the worker counts it from when the
    // request arrives, later still, so it never starts early.
    const toRequest = (task: ClaimedTask): TaskRequest => ({
      task_id: task.id,
      data: task.command ?? task.name ?? '',
      attempt: task.attempt,
      scheduled_at_ms: task.due_at_ms,
      start_after_ms: task.hold_until > 0 ? Math.max(0, Math.ceil(task.hold_until - performance.now())) : 0,
      name: task.name ?? '',
      payload: task.payload ?? '',
      queue: task.queue,
      timeout_ms: (task.timeout_seconds ?? 0) * 1000,
    });
    // Held tasks go in small calls, one after another: a task starts late by the time from building its
    // call to the worker decoding it, 7-30 ms for one call of 333 tasks, about 1 ms for 50. Others go in one.
    const perCall = tasks.some((task) => task.hold_until > 0) ? HELD_TASKS_PER_CALL : tasks.length;
    const results: TaskResponse[] = [];
    for (let i = 0; i < tasks.length; i += perCall) {
      results.push(...(await transport.submit(tasks.slice(i, i + perCall).map(toRequest), timeout)));
    }
    return results;
  }

  private async handBack(workerId: number, tasks: ClaimedTask[]): Promise<void> {
    try {
      this.options.onHandedBack?.(await handBackDispatches(this.options.pool, tasks));
    } catch (err) {
      // The leases will expire and the lease sweep will hand them back instead.
      this.options.logger.error({ err, worker_id: workerId }, 'could not hand back undelivered tasks');
    }
    for (const task of tasks) this.options.registry.unassign(workerId, task.id, task.attempt);
    this.wake();
  }
}
