import { ValidationError } from '../../../common/src/errors';

/**
 * Field readers shared by the built-in task types' payload parsers. Each throws a ValidationError whose
 * message starts with the field's name and whose `field` is "payload.<name>", so a failed attempt says what
 * to fix.
 */

/** The longest timeout_ms a payload may ask for: one day; longer work belongs in a task of its own kind. */
const MAX_TIMEOUT_MS = 86_400_000;

export function payloadObject(payload: unknown, taskType: string): Record<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new ValidationError(`the ${taskType} task needs a JSON object as its payload`, 'payload');
  }
  return payload as Record<string, unknown>;
}

/** timeout_ms: absent means the default; else a whole number of milliseconds from 1 to MAX_TIMEOUT_MS. */
export function timeoutField(value: unknown, fallbackMs: number): number {
  if (value === undefined || value === null) return fallbackMs;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new ValidationError(`timeout_ms must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`, 'payload.timeout_ms');
  }
  return value;
}

/** An optional object of string values (headers, env); `check` rejects a bad key with a reason. */
export function stringRecordField(
  value: unknown,
  name: string,
  check: (key: string, entry: string) => string | undefined,
): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(`${name} must be an object of strings`, `payload.${name}`);
  }
  const record = new Map<string, string>();
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new ValidationError(`${name}.${key} must be a string`, `payload.${name}`);
    const problem = check(key, entry);
    if (problem !== undefined) throw new ValidationError(`${name}: ${problem}`, `payload.${name}`);
    record.set(key, entry);
  }
  return Object.fromEntries(record);
}
