import type { StandardSchemaV1 } from '../standard-schema';
import type { TaskContext } from '../define-task';

/** How an attempt ended: a result as JSON text, or an error message and whether retrying could help. */
export type Outcome = { ok: true; result: string } | { ok: false; error: string; noRetry?: boolean };

/**
 * Thrown by a handler to fail its task for good: no retry, whatever attempts are left (a bad request, a
 * deleted record). Recognised by name as well, so a copy of the SDK loaded twice still counts.
 */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
}

const isNonRetryable = (err: unknown) => err instanceof NonRetryableError || (err as Error | null)?.name === 'NonRetryableError';
const failure = (err: unknown): Outcome => ({ ok: false, error: errorMessage(err), noRetry: isNonRetryable(err) });

/** What runs an attempt: a task definition's run, or the command-task handler. */
export interface Runnable {
  readonly schema?: StandardSchemaV1<unknown>;
  /** The task type's timeout, used when the task sets none. */
  readonly timeoutSeconds?: number;
  run(payload: unknown, ctx: TaskContext): unknown;
}

/**
 * Runs one attempt: parses the payload (JSON text; '' is no payload), checks it against the task's schema,
 * calls the handler and turns its return value into JSON. Every failure becomes a failed attempt with a
 * message that says what went wrong; nothing here throws. A handler (and schema) that answers synchronously
 * gets its outcome synchronously, without the promises and event-loop turns of an async path
 * (docs/performance.md).
 */
export function runAttempt(runnable: Runnable, payloadText: string, ctx: TaskContext): Outcome | Promise<Outcome> {
  let payload: unknown;
  try {
    payload = payloadText === '' ? undefined : JSON.parse(payloadText);
  } catch (err) {
    return { ok: false, error: `the payload is not JSON: ${(err as Error).message}`, noRetry: true };
  }
  if (!runnable.schema) return runHandler(runnable, payload, ctx);
  let checked: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    checked = runnable.schema['~standard'].validate(payload);
  } catch (err) {
    return { ok: false, error: `the payload could not be checked against the schema of "${ctx.name}": ${errorMessage(err)}` };
  }
  const afterCheck = (result: StandardSchemaV1.Result<unknown>): Outcome | Promise<Outcome> => {
    // The same payload would fail the same check again: no retry.
    if (result.issues) return { ok: false, error: `the payload does not match the schema of "${ctx.name}": ${describeIssues(result.issues)}`, noRetry: true };
    return runHandler(runnable, result.value, ctx);
  };
  if (!isThenable(checked)) return afterCheck(checked);
  return Promise.resolve(checked).then(afterCheck, (err: unknown) => ({
    ok: false as const,
    error: `the payload could not be checked against the schema of "${ctx.name}": ${errorMessage(err)}`,
  }));
}

function runHandler(runnable: Runnable, payload: unknown, ctx: TaskContext): Outcome | Promise<Outcome> {
  let value: unknown;
  try {
    value = runnable.run(payload, ctx);
  } catch (err) {
    return failure(err);
  }
  if (!isThenable(value)) return resultOutcome(value);
  return Promise.resolve(value).then(resultOutcome, failure);
}

function resultOutcome(value: unknown): Outcome {
  try {
    return { ok: true, result: toJson(value) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}

/** A thrown value's message: an Error's message, anything else as text. */
function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
}

/**
 * A handler's return value as JSON text: undefined is null. What JSON cannot represent (a BigInt, a function,
 * a symbol, a cycle) throws, rather than being silently dropped or changed as JSON.stringify would.
 */
function toJson(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  // A string, number or boolean needs no replacer (one call of it per result showed in the worker's profile).
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return JSON.stringify(value);
  try {
    return JSON.stringify(value, (key, item: unknown) => {
      const type = typeof item;
      if (type === 'bigint' || type === 'function' || type === 'symbol') {
        throw new TypeError(`a ${type} ${key === '' ? 'as the whole result' : `at key "${key}"`}`);
      }
      return item;
    });
  } catch (err) {
    throw new TypeError(`the task's result is not JSON: ${(err as Error).message}`);
  }
}

function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): string {
  return issues
    .map((issue) => {
      const path = (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
