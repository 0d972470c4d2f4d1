/*
 * The rules for a task's fields that every way in applies (the HTTP schemas, the SDK, the coordinator's gRPC
 * handlers). A module of their own, so that the worker runtime and the coordinator can check them without
 * loading the HTTP schemas and their schema library.
 */

/** What a task's name and queue may look like. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,127}$/;

/** A concurrency key's field: a dot path into the payload such as customer.id (migration 0017 checks it too). */
export const KEY_FIELD_PATTERN = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/;

/** The largest limit a queue or a concurrency key takes (migration 0017). */
export const MAX_LIMIT = 1_000_000;

/** Why a concurrency limit per key is not one the coordinator takes, or undefined (defineTask, declared limits). */
export function concurrencyProblem(key: unknown, limit: unknown): string | undefined {
  if (typeof key !== 'string' || !KEY_FIELD_PATTERN.test(key)) return `key must be a payload field such as "customer.id" (${KEY_FIELD_PATTERN.source})`;
  if (!(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_LIMIT)) return `limit must be a whole number from 1 to ${MAX_LIMIT}`;
  return undefined;
}

/** Longest command accepted; a task's command is a name and arguments, not a payload store. */
export const MAX_COMMAND_LENGTH = 4096;

/** The longest timeout a task may have: a week (migration 0013 checks it too). */
export const MAX_TIMEOUT_SECONDS = 7 * 86400;

/** Why a retry policy is not one the API takes (schemas.ts RetryPolicy), or undefined when it is. */
export function retryPolicyProblem(policy: unknown): string | undefined {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) return 'must be an object';
  const known = new Set(['backoff', 'delay_seconds', 'max_delay_seconds', 'jitter']);
  const { backoff, delay_seconds, max_delay_seconds, jitter } = policy as Record<string, unknown>;
  const unknown = Object.keys(policy).filter((key) => !known.has(key));
  if (unknown.length > 0) return `has unknown keys (${unknown.join(', ')}); known: ${[...known].join(', ')}`;
  if (backoff !== undefined && backoff !== 'exponential' && backoff !== 'fixed') return 'backoff must be exponential or fixed';
  for (const [key, value] of [['delay_seconds', delay_seconds], ['max_delay_seconds', max_delay_seconds]] as const) {
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 86400)) return `${key} must be a number of seconds from 0 to 86400`;
  }
  if (jitter !== undefined && typeof jitter !== 'boolean') return 'jitter must be true or false';
  return undefined;
}

export function isTimeoutSeconds(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_TIMEOUT_SECONDS;
}

/** A task id as the database makes them: a UUID, in either case. Anything else names no task. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Characters no command, reason or idempotency key may hold: C0 controls (NUL, newlines, escapes) and DEL. */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
