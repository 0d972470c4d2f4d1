import type { HeldTask } from '../generated/grpcapi/HeldTask';
import type { TaskRequest__Output } from '../generated/grpcapi/TaskRequest';

/** One attempt held until due or running, keyed by (task_id, attempt). */
export class Holding {
  /** Dropped, replaced by a newer attempt, or stopped by the drain deadline: its outcome is never reported. */
  abandoned = false;
  /** Created on first use: most handlers never look at their signal, and a controller per task costs CPU. */
  private controller: AbortController | undefined;
  /** Set while the attempt runs with a timeout. */
  timeout: NodeJS.Timeout | undefined;

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

  /**
   * Its outcome will not be reported; ctx.signal fires with a DOMException named `kind`: AbortError when the
   * attempt was taken away, TimeoutError when it ran out of time (as AbortSignal.timeout() does).
   */
  abandon(reason: string, kind: 'AbortError' | 'TimeoutError' = 'AbortError'): void {
    this.abandoned = true;
    clearTimeout(this.timeout);
    this.controller?.abort(new DOMException(reason, kind));
  }
}

/**
 * Everything the worker holds: what its heartbeats list (HeartbeatRequest.held) and what its slots count.
 * A task has at most one attempt here: a newer attempt of a task replaces the older one (the database gave
 * the task a new attempt, so the old one is stale). A finished attempt stays listed, without using a slot,
 * until its final report is acknowledged, so the coordinator never hands back a task whose finish is still
 * on its way. It stays as its attempt number alone: that wait often outlasts a young-generation garbage
 * collection, and what is kept past one is copied, then moved to the old generation (docs/performance.md).
 */
export class Holdings {
  /** A live attempt (held until due, or running), or the attempt number of a finished one. */
  private readonly byTask = new Map<string, Holding | number>();
  private live = 0;

  /** Attempts held until due or running: the slots in use. */
  get busy(): number {
    return this.live;
  }

  /** The attempt of `taskId` held here, live or finished. */
  attemptOf(taskId: string): number | undefined {
    const held = this.byTask.get(taskId);
    return typeof held === 'number' ? held : held?.attempt;
  }

  add(task: TaskRequest__Output): Holding {
    const holding = new Holding(task);
    this.byTask.set(task.task_id, holding);
    this.live++;
    return holding;
  }

  /** The attempt ended; it stays listed until its final report is acknowledged. */
  finish(holding: Holding): void {
    if (holding.abandoned || this.byTask.get(holding.taskId) !== holding) return;
    if (holding.timeout !== undefined) clearTimeout(holding.timeout);
    this.retire(holding);
  }

  /**
   * The attempt ran out of time: it is stopped (ctx.signal fires with a TimeoutError) and, like a finished
   * one, stays listed until its failure report is acknowledged. False when it was no longer live.
   */
  expire(holding: Holding, reason: string): boolean {
    if (holding.abandoned || this.byTask.get(holding.taskId) !== holding) return false;
    holding.abandon(reason, 'TimeoutError');
    this.retire(holding);
    return true;
  }

  /** No longer live: listed as its attempt number until its report is acknowledged, its slot free. */
  private retire(holding: Holding): void {
    this.byTask.set(holding.taskId, holding.attempt);
    this.live--;
  }

  /** Its final report was answered: the attempt is no longer held. */
  acknowledge(taskId: string, attempt: number): void {
    if (this.byTask.get(taskId) === attempt) this.byTask.delete(taskId);
  }

  /**
   * Forgets the attempt, live or finished; a live one is stopped (its ctx.signal fires). Nothing will be
   * reported for it. Returns whether this worker held it.
   */
  drop(taskId: string, attempt: number, reason: string): boolean {
    const held = this.byTask.get(taskId);
    if (held === undefined || (typeof held === 'number' ? held : held.attempt) !== attempt) return false;
    if (typeof held !== 'number') {
      held.abandon(reason);
      this.live--;
    }
    this.byTask.delete(taskId);
    return true;
  }

  /** Attempts held until due or running. */
  liveHoldings(): Holding[] {
    const live: Holding[] = [];
    for (const held of this.byTask.values()) if (typeof held !== 'number') live.push(held);
    return live;
  }

  /** The `held` list of a heartbeat. */
  held(): HeldTask[] {
    const held: HeldTask[] = [];
    for (const [task_id, value] of this.byTask) held.push({ task_id, attempt: typeof value === 'number' ? value : value.attempt });
    return held;
  }
}
