import type { RetryPolicy } from './http/schemas';
import { MAX_TIMEOUT_SECONDS, NAME_PATTERN as TASK_NAME_PATTERN, isTimeoutSeconds, retryPolicyProblem } from './task-fields';
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
  if (definition.timeoutSeconds !== undefined && !isTimeoutSeconds(definition.timeoutSeconds)) {
    throw new TypeError(`timeoutSeconds of task "${definition.name}" must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  // The brand is not enumerable, so spreading or serialising a definition shows only what the user wrote.
  return Object.freeze(Object.defineProperty({ ...definition }, TASK_DEFINITION_BRAND, { value: true }));
}
