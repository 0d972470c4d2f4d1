import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Readable } from 'node:stream';
import { ValidationError } from '../../../common/src/errors';
import { resolveAllowedExecutable } from './executable-allowlist';
import { payloadObject, stringRecordField, timeoutField } from './payload-fields';
import { killGroup, trackGroup } from './process-group';

/**
 * The built-in `shell` task type: starts one executable from an allowlist, without a shell, in a process group
 * of its own, as docs/builtin-tasks.md describes. Exit code 0 is the result; anything else fails the attempt.
 * On timeout or abort (drain) the whole group is killed, and whatever the task left running in its group when
 * it exited is killed too, so a task never leaves processes behind.
 */

export interface ShellTaskOptions {
  /** SHELL_ALLOWLIST: executable names or absolute paths; empty disables the task type. */
  allowlist: readonly string[];
  /** TASK_OUTPUT_MAX_BYTES: the most bytes kept of stdout and of stderr, each. */
  maxOutputBytes: number;
  /** SHELL_TIMEOUT: the time limit when the payload sets none. */
  defaultTimeoutMs: number;
  /** SHELL_KILL_GRACE: time between SIGTERM and SIGKILL to the process group. */
  killGraceMs: number;
}

export interface ShellTaskPayload {
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
  timeoutMs: number;
}

export interface ShellTaskResult {
  exit_code: 0;
  stdout: string;
  stderr: string;
  /** Present when stdout or stderr was longer than maxOutputBytes and was cut (the first bytes are kept). */
  truncated?: true;
}

/** How much of the end of stderr a failure quotes. */
const STDERR_TAIL_BYTES = 500;
/** Where executables are looked up when the worker itself has no PATH. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Checks a `shell` payload; throws a ValidationError naming the field. */
export function parseShellPayload(payload: unknown, defaultTimeoutMs: number): ShellTaskPayload {
  const fields = payloadObject(payload, 'shell');
  const argv = fields.argv;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((arg) => typeof arg === 'string')) {
    throw new ValidationError('argv must be a non-empty array of strings', 'payload.argv');
  }
  if (argv[0] === '' || argv.some((arg: string) => arg.includes('\0'))) {
    throw new ValidationError('argv must not hold an empty executable or NUL characters', 'payload.argv');
  }
  let cwd: string | undefined;
  if (fields.cwd !== undefined && fields.cwd !== null) {
    if (typeof fields.cwd !== 'string' || !isAbsolute(fields.cwd) || fields.cwd.includes('\0')) {
      throw new ValidationError('cwd must be an absolute path', 'payload.cwd');
    }
    cwd = fields.cwd;
  }
  const env = stringRecordField(fields.env, 'env', (key, value) => {
    if (key === '' || key.includes('=') || key.includes('\0')) return `"${key}" is not a valid variable name`;
    if (value.includes('\0')) return `the value of "${key}" must not contain NUL`;
    return undefined;
  });
  return { argv: argv as string[], cwd, env, timeoutMs: timeoutField(fields.timeout_ms, defaultTimeoutMs) };
}

/** Builds the `shell` task's run function. */
export function createShellTask(options: ShellTaskOptions): (payload: unknown, ctx: { signal: AbortSignal }) => Promise<ShellTaskResult> {
  return async (payload, ctx) => {
    const request = parseShellPayload(payload, options.defaultTimeoutMs);
    const workerPath = process.env.PATH ?? FALLBACK_PATH;
    const [command, ...args] = request.argv;
    const executable = await resolveAllowedExecutable(command, options.allowlist, workerPath);
    if (request.cwd !== undefined && !(await isDirectory(request.cwd))) {
      throw new Error(`cwd "${request.cwd}" is not a directory`);
    }
    if (ctx.signal.aborted) throw new Error(`${command} was aborted before it started: ${reasonText(ctx.signal.reason)}`);

    // Only PATH is passed on: the worker's environment holds its database password and tokens.
    const child = spawn(executable, args, {
      argv0: command,
      cwd: request.cwd,
      env: { PATH: workerPath, ...request.env },
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout = new BoundedCapture(options.maxOutputBytes, 0);
    const stderr = new BoundedCapture(options.maxOutputBytes, STDERR_TAIL_BYTES);
    const closed = captureUntilClosed(child.stdout, stdout, child.stderr, stderr);

    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stopped?: string }>((resolve, reject) => {
      let stopped: string | undefined;
      let terminating: Promise<void> | undefined;
      const stop = (why: string): void => {
        if (child.pid === undefined) return; // never started; its 'error' event rejects
        stopped ??= why;
        terminating ??= killGroup(child.pid!, options.killGraceMs);
      };
      const timer = setTimeout(() => stop(`timed out after ${request.timeoutMs} ms`), request.timeoutMs);
      const onAbort = (): void => stop(`was aborted: ${reasonText(ctx.signal.reason)}`);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (error) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new Error(`${command} could not be started: ${error.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        // What the task left behind in its group goes too; then its pipes close.
        (terminating ?? killGroup(child.pid!, options.killGraceMs)).then(
          () => resolve({ code, signal, stopped }),
          reject,
        );
      });
      if (child.pid !== undefined) trackGroup(child.pid);
    });

    // A process that left the group (setsid) can hold the pipes open forever; stop reading after the grace.
    await waitAtMost(closed, options.killGraceMs, () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    });

    if (exit.stopped !== undefined) {
      throw new Error(`${command} ${exit.stopped} (process group killed)${stderrSuffix(stderr)}`);
    }
    if (exit.code !== 0) {
      const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      throw new Error(`${command} ${how}${stderrSuffix(stderr)}`);
    }
    const result: ShellTaskResult = { exit_code: 0, stdout: stdout.text(), stderr: stderr.text() };
    if (stdout.truncated || stderr.truncated) result.truncated = true;
    return result;
  };
}

/** Keeps the first `limit` bytes of a stream (and the last `tailBytes`), reading on so the child never blocks. */
class BoundedCapture {
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private tail = Buffer.alloc(0);
  truncated = false;

  constructor(private readonly limit: number, private readonly tailBytes: number) {}

  push(chunk: Buffer): void {
    if (this.headSize < this.limit) {
      const kept = chunk.subarray(0, this.limit - this.headSize);
      this.head.push(kept);
      this.headSize += kept.length;
      if (kept.length < chunk.length) this.truncated = true;
    } else if (chunk.length > 0) {
      this.truncated = true;
    }
    if (this.tailBytes > 0) {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = joined.subarray(Math.max(0, joined.length - this.tailBytes));
    }
  }

  text(): string {
    return Buffer.concat(this.head, this.headSize).toString('utf8');
  }

  tailText(): string {
    return this.tail.toString('utf8').trim();
  }
}

function captureUntilClosed(out: Readable, outCapture: BoundedCapture, err: Readable, errCapture: BoundedCapture): Promise<void> {
  const drain = (stream: Readable, capture: BoundedCapture) =>
    new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => capture.push(chunk));
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
  return Promise.all([drain(out, outCapture), drain(err, errCapture)]).then(() => undefined);
}

async function waitAtMost(promise: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  const timedOut = await Promise.race([promise.then(() => false), expired]);
  clearTimeout(timer);
  if (timedOut) onTimeout();
}

function stderrSuffix(stderr: BoundedCapture): string {
  const tail = stderr.tailText();
  return tail === '' ? '' : `: ${tail}`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function reasonText(reason: unknown): string {
  const message = (reason as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(reason);
}
