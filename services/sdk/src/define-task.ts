import type { RetryPolicy } from './http/schemas';
import { CATCH_UP, OVERLAP, cronProblem, timezoneProblem, type CatchUp, type Overlap } from './schedule-fields';
import { MAX_TIMEOUT_SECONDS, NAME_PATTERN as TASK_NAME_PATTERN, concurrencyProblem, isTimeoutSeconds, retryPolicyProblem } from './task-fields';
import type { Logger } from './logger';
import type { StandardSchemaV1 } from './standard-schema';

/** What a task's name and queue may look like: the API's rule. */
export { TASK_NAME_PATTERN };

/** What a running attempt knows about itself. */
export interface TaskContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly name: string;
  readonly queue: string;
  /**
   * Aborted when the attempt must stop, with a DOMException as its reason: a `TimeoutError` when the attempt
   * ran past its timeout (then it is reported failed at once), an `AbortError` when the task was cancelled,
   * at the end of the worker's drain grace (`drainTimeoutMs` after `worker.stop()` or SIGTERM), or when the
   * coordinator says the attempt is no longer this worker's. What a handler returns after that is not reported.
   */
  readonly signal: AbortSignal;
  /** True once the worker is draining: a long handler can stop at a checkpoint before `signal` fires. */
  readonly draining: boolean;
  /** The worker's logger, with task_id, attempt, worker_id and name on every line. */
  readonly log: Logger;
}

/**
 * A task type: a value the producer (enqueue) and the worker (startWorker) both import, so the payload type
 * flows from one place.
 */
export interface TaskDefinition<P, R> {
  readonly name: string;
  readonly queue?: string;
  /** Any Standard Schema (zod, valibot, ...): checked when enqueued and again in the worker before `run`. */
  readonly schema?: StandardSchemaV1<P>;
  /**
   * Seconds an attempt may run, 1 to 604800 (a week), for tasks that set no `timeout_seconds` of their own:
   * then ctx.signal fires with a TimeoutError and the attempt is reported failed (retried while attempts are
   * left). @defaultValue the worker's `defaultTimeoutSeconds`, else none
   */
  readonly timeoutSeconds?: number;
  /** Executions allowed, 1 to 100, for tasks enqueued with this definition that set none. @defaultValue 3 */
  readonly maxAttempts?: number;
  /**
   * How long a failed attempt waits before the next, for tasks enqueued with this definition that set none:
   * `{ backoff: 'exponential' | 'fixed', delay_seconds, max_delay_seconds, jitter }`, each part optional.
   * @defaultValue the coordinator's: exponential from 1 s, at most 60 s, with jitter
   */
  readonly retry?: RetryPolicy;
  /**
   * A recurring schedule for this task type: a cron pattern (5 fields, or 6 with seconds first) in UTC, or
   * `{ cron, timezone, payload, queue, overlap, catchUp }`. A worker that runs the type declares it to the
   * coordinator when it joins, as the schedule keyed `task:<name>` (docs/schedules.md).
   */
  readonly cron?: string | TaskSchedule;
  /** At most `limit` tasks in flight per value of the payload field `key`, declared by workers (docs/queues.md). */
  readonly concurrency?: TaskConcurrency;
  /** Runs one attempt. Its return value (JSON; undefined is stored as null) is the task's result; a throw fails the attempt. */
  readonly run: (payload: P, ctx: TaskContext) => Promise<R> | R;
}

/**
 * Marks the objects defineTask made, so `taskmaster worker` can pick a module's task definitions out of its
 * other exports. Symbol.for: a module that loaded its own copy of the SDK still carries the same mark.
 */
export const TASK_DEFINITION_BRAND: unique symbol = Symbol.for('taskmaster.taskDefinition') as never;

/** True for what defineTask returned (in any copy of the SDK). */
export function isTaskDefinition(value: unknown): value is TaskDefinition<unknown, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TASK_DEFINITION_BRAND] === true;
}

/**
 * Defines a task type. The name (and queue, if given) must match TASK_NAME_PATTERN; a bad one throws here,
 * at import time, rather than when the first task arrives.
 */
export function defineTask<P = unknown, R = unknown>(definition: TaskDefinition<P, R>): TaskDefinition<P, R> {
  if (typeof definition.name !== 'string' || !TASK_NAME_PATTERN.test(definition.name)) {
    throw new TypeError(`task name ${JSON.stringify(definition.name)} must match ${TASK_NAME_PATTERN.source}`);
  }
  if (definition.queue !== undefined && !TASK_NAME_PATTERN.test(definition.queue)) {
    throw new TypeError(`queue ${JSON.stringify(definition.queue)} of task "${definition.name}" must match ${TASK_NAME_PATTERN.source}`);
  }
  if (typeof definition.run !== 'function') throw new TypeError(`task "${definition.name}" needs a run function`);
  if (definition.maxAttempts !== undefined && !(Number.isInteger(definition.maxAttempts) && definition.maxAttempts >= 1 && definition.maxAttempts <= 100)) {
    throw new TypeError(`maxAttempts of task "${definition.name}" must be a whole number from 1 to 100`);
  }
  const retryProblem = definition.retry === undefined ? undefined : retryPolicyProblem(definition.retry);
  if (retryProblem) throw new TypeError(`retry of task "${definition.name}" ${retryProblem}`);
  const scheduleProblem = definition.cron === undefined ? undefined : taskScheduleProblem(definition.cron);
  if (scheduleProblem) throw new TypeError(`cron of task "${definition.name}": ${scheduleProblem}`);
  const concurrency = definition.concurrency;
  const limitProblem = concurrency === undefined ? undefined
    : typeof concurrency !== 'object' || concurrency === null ? 'must be { key, limit }' : concurrencyProblem(concurrency.key, concurrency.limit);
  if (limitProblem) throw new TypeError(`concurrency of task "${definition.name}": ${limitProblem}`);
  if (definition.timeoutSeconds !== undefined && !isTimeoutSeconds(definition.timeoutSeconds)) {
    throw new TypeError(`timeoutSeconds of task "${definition.name}" must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  // The brand is not enumerable, so spreading or serialising a definition shows only what the user wrote.
  return Object.freeze(Object.defineProperty({ ...definition }, TASK_DEFINITION_BRAND, { value: true }));
}

/** A task type's concurrency limit per key, as defineTask({ concurrency }) takes it. */
export interface TaskConcurrency {
  /** The payload field (or dot path) whose value is the key, such as "customer_id". */
  readonly key: string;
  /** Tasks of one key in flight at once, 1 to 1,000,000. */
  readonly limit: number;
}

/** A task type's recurring schedule, as defineTask({ cron }) takes it. */
export interface TaskSchedule {
  /** 5 fields (minute hour day month weekday) or 6 (seconds first). */
  readonly cron: string;
  /** An IANA zone. @defaultValue "UTC" */
  readonly timezone?: string;
  /** The payload of each occurrence's task (JSON). */
  readonly payload?: unknown;
  /** @defaultValue the definition's queue, else "default" */
  readonly queue?: string;
  /** skip: no new task while the previous one has not finished. @defaultValue "allow" */
  readonly overlap?: Overlap;
  /** Occurrences missed while no coordinator ran: none, the last, or all. @defaultValue "last" */
  readonly catchUp?: CatchUp;
}

function taskScheduleProblem(value: string | TaskSchedule): string | undefined {
  const schedule = typeof value === 'string' ? { cron: value } : value;
  if (typeof schedule !== 'object' || schedule === null || typeof schedule.cron !== 'string') return 'must be a cron pattern or { cron, ... }';
  const cron = cronProblem(schedule.cron);
  if (cron) return `the pattern ${cron}`;
  if (schedule.timezone !== undefined) {
    const zone = timezoneProblem(schedule.timezone);
    if (zone) return `timezone ${zone}`;
  }
  if (schedule.overlap !== undefined && !OVERLAP.includes(schedule.overlap)) return `overlap must be ${OVERLAP.join(' or ')}`;
  if (schedule.catchUp !== undefined && !CATCH_UP.includes(schedule.catchUp)) return `catchUp must be ${CATCH_UP.join(', ')}`;
  if (schedule.queue !== undefined && !TASK_NAME_PATTERN.test(schedule.queue)) return `queue must match ${TASK_NAME_PATTERN.source}`;
  return undefined;
}
