import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskContext } from '../define-task';
import type { HeartbeatRequest } from '../generated/grpcapi/HeartbeatRequest';
import type { HeldTask__Output } from '../generated/grpcapi/HeldTask';
import type { TaskRequest__Output } from '../generated/grpcapi/TaskRequest';
import type { TaskResponse } from '../generated/grpcapi/TaskResponse';
import { childLogger, type Logger } from '../logger';
import { UUID_PATTERN } from '../task-fields';
import { Connection, type ConnectionHandlers } from './connection';
import { DialledLink } from './dialled-link';
import { createCoordinatorClient as createClient } from './proto';
import { DueTimer, MAX_TIMER_MS } from './hold-until-due';
import { Holdings, type Holding } from './holdings';
import { createWorkerMetrics } from './metrics';
import { resolveOptions, type ResolvedOptions, type StartWorkerOptions } from './options';
import { Reporter } from './reporter';
import { runAttempt, type Outcome, type Runnable } from './runner';

/** How long a drain waits for its last reports, and for the coordinator to acknowledge the leaving heartbeat. */
const FLUSH_TIMEOUT_MS = 5000;
const LEAVING_TIMEOUT_MS = 2000;

export interface Worker {
  /** The worker id the coordinator knows this worker by. */
  readonly id: number;
  readonly name: string;
  /** Attempts running or held until due: the slots in use. */
  readonly busy: number;
  /** The stream to the coordinator is open and registered. */
  readonly connected: boolean;
  /**
   * Drains, as SIGTERM does for the shipped worker: takes no more work, lets running attempts finish within
   * drainTimeoutMs, then aborts the ctx.signal of what still runs (those attempts report nothing and are
   * handed to other workers), sends the last reports, says it is leaving and closes the stream.
   */
  stop(): Promise<void>;
}

/**
 * Starts a worker that dials the coordinator and runs the given task types. It resolves at once: the
 * connection is made, and re-made whenever it breaks, in the background (watch `connected`, or the logs).
 */
export async function startWorker(options: StartWorkerOptions): Promise<Worker> {
  const settings = resolveOptions(options);
  return new WorkerRuntime(settings);
}

class WorkerRuntime implements Worker {
  private readonly holdings = new Holdings();
  /** Connect; or, once the coordinator answered Connect with UNIMPLEMENTED, the dialled mode for good. */
  private connection: Connection | DialledLink;
  private readonly reporter: Reporter;
  private readonly dueTimer = new DueTimer<Holding>((holding) => {
    if (!holding.abandoned) this.run(holding);
  });
  private readonly metrics;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly debug: boolean;
  private draining = false;
  private leaving = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly settings: ResolvedOptions) {
    const { logger } = settings;
    this.metrics = createWorkerMetrics(settings.metrics);
    this.debug = (logger as { isLevelEnabled?(level: string): boolean }).isLevelEnabled?.('debug') ?? true;
    const client = createClient(settings.coordinator, settings.tls);
    const requestTimeoutMs = Math.max(10_000, 2 * settings.heartbeatIntervalMs);
    const handlers: ConnectionHandlers = {
      heartbeat: () => this.heartbeat(),
      onHeartbeatAnswer: (answer) => this.drop(answer.drop, 'the coordinator gave this attempt up'),
      onDrop: (drop) => this.drop(drop.tasks, drop.reason || 'the coordinator stopped this attempt'),
      onTasks: (batch) => ({ results: batch.tasks.map((task) => this.accept(task)) }),
      onConnectUnimplemented: () => {
        this.connection = new DialledLink(client, handlers, settings.listen, logger, settings.coordinator, requestTimeoutMs);
        void this.connection.beat();
      },
    };
    this.connection = new Connection(client, handlers, logger, settings.coordinator, requestTimeoutMs);
    this.reporter = new Reporter(
      (request) => this.connection.sendReports(request),
      (update) => this.holdings.acknowledge(update.task_id, update.attempt),
      logger,
    );
    (this.connection as Connection).start();
    this.heartbeatTimer = setInterval(() => void this.connection.beat(), settings.heartbeatIntervalMs);
    logger.info(
      { worker_id: settings.workerId, name: settings.name, slots: settings.slots, coordinator: settings.coordinator, handles: [...settings.definitions.keys()], queues: settings.queues },
      'worker started',
    );
  }

  get id(): number {
    return this.settings.workerId;
  }

  get name(): string {
    return this.settings.name;
  }

  get busy(): number {
    return this.holdings.busy;
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private heartbeat(): HeartbeatRequest {
    const { settings } = this;
    return {
      workerId: settings.workerId,
      address: '',
      name: settings.name,
      slots_total: settings.slots,
      slots_free: Math.max(0, settings.slots - this.holdings.busy),
      draining: this.draining,
      leaving: this.leaving,
      delayed_start: true,
      held: this.holdings.held(),
      reports_held: true,
      handles: [...settings.definitions.keys()],
      command_tasks: settings.commandTask !== undefined,
      queues: settings.queues,
      schedules: settings.schedules,
      concurrency_limits: settings.concurrencyLimits,
    };
  }

  /** The coordinator no longer gives these attempts to this worker: stop them and report nothing. */
  private drop(attempts: readonly HeldTask__Output[], reason: string): void {
    for (const { task_id, attempt } of attempts) {
      if (!this.holdings.drop(task_id, attempt, reason)) continue;
      this.reporter.discard(task_id, attempt);
      this.settings.logger.info({ task_id, attempt, reason }, 'attempt dropped at the coordinator\'s request');
    }
  }

  /** One task sent by the coordinator: accepted into a free slot, or refused with the reason. */
  private accept(task: TaskRequest__Output): TaskResponse {
    const refuse = (message: string): TaskResponse => ({ task_id: task.task_id, success: false, message });
    const current = this.holdings.attemptOf(task.task_id);
    if (current === task.attempt) return { task_id: task.task_id, success: true, message: 'already running' };
    // Held ids go into every heartbeat, where the coordinator refuses a non-UUID: one would cut the worker off.
    if (!UUID_PATTERN.test(task.task_id)) return refuse('task_id must be a UUID');
    if (this.draining) return refuse('worker is draining');
    if (task.name === '' ? !this.settings.commandTask : !this.settings.definitions.has(task.name)) {
      return refuse(task.name === '' ? 'this worker runs no command tasks' : `this worker does not handle "${task.name}"`);
    }
    if (current !== undefined) {
      if (current > task.attempt) return refuse(`this worker holds a newer attempt (${current})`);
      // The database gave the task a new attempt: the one held here is stale.
      this.holdings.drop(task.task_id, current, 'replaced by a newer attempt');
      this.reporter.discard(task.task_id, current);
    }
    if (this.holdings.busy >= this.settings.slots) return refuse('no free slot');
    const holding = this.holdings.add(task);
    if (task.start_after_ms > 0) this.dueTimer.hold(holding, task.start_after_ms);
    else this.run(holding);
    return { task_id: task.task_id, success: true, message: 'accepted' };
  }

  private run(holding: Holding): void {
    const { task } = holding;
    const { workerId } = this.settings;
    const startedAt = Date.now();
    this.metrics.started(task.scheduled_at_ms, startedAt);
    this.reporter.report({ task_id: task.task_id, status: 'STARTED', attempt: task.attempt, worker_id: workerId, at_ms: startedAt, started_at: Math.floor(startedAt / 1000) });
    if (this.debug) this.settings.logger.debug({ task_id: task.task_id, attempt: task.attempt, worker_id: workerId, name: task.name }, 'task started');
    const runnable = this.runnableFor(task);
    const timeoutMs = task.timeout_ms || (runnable.timeoutSeconds ?? 0) * 1000 || this.settings.defaultTimeoutMs;
    // A timer holds at most 2^31-1 ms (24.8 days; a longer one fires at once): beyond it, that long.
    if (timeoutMs > 0) holding.timeout = setTimeout(() => this.timeOut(holding, timeoutMs, startedAt), Math.min(timeoutMs, MAX_TIMER_MS));
    const outcome = runAttempt(runnable, task.payload, new AttemptContext(holding, this.settings, () => this.draining));
    if (outcome instanceof Promise) void outcome.then((settled) => this.finish(holding, settled, startedAt));
    else this.finish(holding, outcome, startedAt);
  }

  /**
   * The attempt ran past its timeout (the task's, else its type's, else the worker's default): its ctx.signal
   * fires and it is reported failed now, even if its handler ignores the signal and runs on; what that
   * handler returns later is not reported. The failure is retried while the task has executions left.
   */
  private timeOut(holding: Holding, timeoutMs: number, startedAt: number): void {
    const error = `timed out after ${timeoutMs / 1000} s`;
    if (!this.holdings.expire(holding, error)) return;
    this.finish(holding, { ok: false, error }, startedAt, true);
  }

  private finish(holding: Holding, outcome: Outcome, startedAt: number, expired = false): void {
    // Dropped, replaced by a newer attempt, or stopped at the drain deadline: someone else owns the outcome.
    // An attempt that timed out was abandoned too; its failure is reported once, by timeOut().
    if (holding.abandoned && !expired) return;
    const { task } = holding;
    const { workerId } = this.settings;
    if (!expired) this.holdings.finish(holding);
    const at = Date.now();
    this.metrics.finished(outcome.ok ? 'succeeded' : 'failed', at - startedAt);
    if (outcome.ok) {
      this.reporter.report({ task_id: task.task_id, status: 'COMPLETE', attempt: task.attempt, worker_id: workerId, at_ms: at, completed_at: Math.floor(at / 1000), result: outcome.result });
      if (this.debug) this.settings.logger.debug({ task_id: task.task_id, attempt: task.attempt, worker_id: workerId, name: task.name }, 'task completed');
    } else {
      this.reporter.report({
        task_id: task.task_id, status: 'FAILED', attempt: task.attempt, worker_id: workerId, at_ms: at, failed_at: Math.floor(at / 1000), error: outcome.error,
        no_retry: outcome.noRetry === true,
      });
      this.settings.logger.info({ task_id: task.task_id, attempt: task.attempt, worker_id: workerId, name: task.name, error: outcome.error }, 'task failed');
    }
  }

  private runnableFor(task: TaskRequest__Output): Runnable {
    const definition = this.settings.definitions.get(task.name);
    if (task.name !== '' && definition) return definition;
    const commandTask = this.settings.commandTask!;
    return { run: (payload, ctx) => commandTask(task.data, ctx, payload) };
  }

  private async drain(): Promise<void> {
    const { logger, drainTimeoutMs } = this.settings;
    this.draining = true;
    void this.connection.beat();
    const deadline = performance.now() + drainTimeoutMs;
    while (this.holdings.busy > 0 && performance.now() < deadline) await sleep(20);
    const unfinished = this.holdings.liveHoldings();
    if (unfinished.length > 0) {
      logger.warn({ unfinished: unfinished.length }, 'drain timeout: aborting unfinished tasks; the coordinator hands them to other workers');
      for (const holding of unfinished) {
        this.holdings.drop(holding.taskId, holding.attempt, 'the worker is stopping (drain timeout)');
        this.reporter.discard(holding.taskId, holding.attempt);
      }
    }
    this.dueTimer.clear();
    clearInterval(this.heartbeatTimer);
    if (!(await this.reporter.flush(FLUSH_TIMEOUT_MS))) logger.warn({ unsent: this.reporter.pending }, 'stopping with status reports not acknowledged');
    this.leaving = true;
    const leavingTimeout = new AbortController();
    await Promise.race([this.connection.beat(), sleep(LEAVING_TIMEOUT_MS, undefined, { signal: leavingTimeout.signal }).catch(() => {})]);
    leavingTimeout.abort();
    await this.connection.close();
    logger.info({ worker_id: this.settings.workerId }, 'worker stopped');
  }
}

/** The ctx of one attempt; its signal and logger are made only if the handler uses them. */
class AttemptContext implements TaskContext {
  private logger: Logger | undefined;

  constructor(
    private readonly holding: Holding,
    private readonly settings: ResolvedOptions,
    private readonly isDraining: () => boolean,
  ) {}

  get taskId(): string {
    return this.holding.taskId;
  }

  get attempt(): number {
    return this.holding.attempt;
  }

  get name(): string {
    return this.holding.task.name;
  }

  get queue(): string {
    return this.holding.task.queue || 'default';
  }

  get signal(): AbortSignal {
    return this.holding.signal;
  }

  get draining(): boolean {
    return this.isDraining();
  }

  get log(): Logger {
    this.logger ??= childLogger(this.settings.logger, { task_id: this.taskId, attempt: this.attempt, worker_id: this.settings.workerId, name: this.name });
    return this.logger;
  }
}
