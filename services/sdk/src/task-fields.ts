/*
 * The rules for a task's fields that every way in applies (the HTTP schemas, the SDK, the coordinator's gRPC
 * handlers). A module of their own, so that the worker runtime and the coordinator can check them without
 * loading the HTTP schemas and their schema library.
 */

/** What a task's name and queue may look like. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,127}$/;

/** Longest command accepted; a task's command is a name and arguments, not a payload store. */
export const MAX_COMMAND_LENGTH = 4096;

/** The longest timeout a task may have: a week (migration 0013 checks it too). */
export const MAX_TIMEOUT_SECONDS = 7 * 86400;

export function isTimeoutSeconds(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_TIMEOUT_SECONDS;
}
