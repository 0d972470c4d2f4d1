import type { HeldTask } from '../generated/grpcapi/HeldTask';
import type { TaskRequest__Output } from '../generated/grpcapi/TaskRequest';

/** Held until due, running, or finished with its final report not yet acknowledged. */
export type HoldingState = 'held' | 'running' | 'finished';

/** One attempt this worker holds, keyed by (task_id, attempt). */
export class Holding {
  state: HoldingState = 'held';
  /** Dropped, replaced by a newer attempt, or stopped by the drain deadline: its outcome is never reported. */
  abandoned = false;
  /** Created on first use: most handlers never look at their signal, and a controller per task costs CPU. */
  private controller: AbortController | undefined;

  constructor(readonly task: TaskRequest__Output) {}

  get taskId(): string {
    return this.task.task_id;
  }

  get attempt(): number {
    return this.task.attempt;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abandon(reason: string): void {
    this.abandoned = true;
    this.controller?.abort(new Error(reason));
  }
}

/**
 * Everything the worker holds: what its heartbeats list (HeartbeatRequest.held) and what its slots count.
 * A task has at most one attempt here: a newer attempt of a task replaces the older one (the database gave
 * the task a new attempt, so the old one is stale). A finished attempt stays listed, without using a slot,
 * until its final report is acknowledged, so the coordinator never hands back a task whose finish is still
 * on its way.
 */
export class Holdings {
  private readonly byTask = new Map<string, Holding>();
  private liveCount = 0;

  /** Attempts held until due or running: the slots in use. */
  get live(): number {
    return this.liveCount;
  }

  get(taskId: string): Holding | undefined {
    return this.byTask.get(taskId);
  }

  find(taskId: string, attempt: number): Holding | undefined {
    const holding = this.byTask.get(taskId);
    return holding?.attempt === attempt ? holding : undefined;
  }

  add(task: TaskRequest__Output): Holding {
    const holding = new Holding(task);
    this.byTask.set(task.task_id, holding);
    this.liveCount++;
    return holding;
  }

  /** The attempt ended; it stays listed until its final report is acknowledged. */
  finish(holding: Holding): void {
    if (holding.state === 'finished' || holding.abandoned) return;
    holding.state = 'finished';
    this.liveCount--;
  }

  /** Its final report was answered: the attempt is no longer held. */
  acknowledge(taskId: string, attempt: number): void {
    const holding = this.find(taskId, attempt);
    if (holding?.state === 'finished') this.byTask.delete(taskId);
  }

  /** Stops the attempt (its ctx.signal fires) and forgets it; nothing will be reported for it. */
  abandon(holding: Holding, reason: string): void {
    if (holding.abandoned) return;
    if (holding.state !== 'finished') this.liveCount--;
    holding.abandon(reason);
    if (this.byTask.get(holding.taskId) === holding) this.byTask.delete(holding.taskId);
  }

  /** Attempts held until due or running. */
  liveHoldings(): Holding[] {
    return [...this.byTask.values()].filter((holding) => holding.state !== 'finished');
  }

  /** The `held` list of a heartbeat. */
  held(): HeldTask[] {
    return [...this.byTask.values()].map((holding) => ({ task_id: holding.taskId, attempt: holding.attempt }));
  }
}
