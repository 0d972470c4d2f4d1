/*
 * The rules for a task's fields that every way in applies (the HTTP schemas, the SDK, the coordinator's gRPC
 * handlers). A module of their own, so that the worker runtime and the coordinator can check them without
 * loading the HTTP schemas and their schema library.
 */

/** What a task's name and queue may look like. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,127}$/;

/** Longest command accepted; a task's command is a name and arguments, not a payload store. */
export const MAX_COMMAND_LENGTH = 4096;
