/** The shipped worker's built-in `http` and `shell` task types: plain run functions, wired in by the worker. */
export { createHttpTask, parseHttpPayload, HttpStatusError, type HttpTaskOptions, type HttpTaskResult } from './http-task';
export { createShellTask, parseShellPayload, type ShellTaskOptions, type ShellTaskResult } from './shell-task';
export { ExecutableRefusedError } from './executable-allowlist';
