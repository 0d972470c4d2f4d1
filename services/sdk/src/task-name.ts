/**
 * What a task's name and queue may look like. Its own module, so that the worker runtime and the coordinator
 * can check names without loading the HTTP schemas and their schema library.
 */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,127}$/;
