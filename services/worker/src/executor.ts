import { setTimeout as sleep } from 'node:timers/promises';

export interface ExecutionOptions {
  /** How long simulated work takes (TASK_PROCESS_TIME). */
  processTimeMs: number;
  signal?: AbortSignal;
}

/** A task that ran and failed; its message is stored as the task's last_error. */
export class TaskFailure extends Error {}

/**
 * Runs a task's command. Commands are names, not shell lines: TaskMaster never hands task input to a shell.
 *   noop                 succeeds at once (benchmarks)
 *   sleep <seconds>      works for that long
 *   fail [message]       fails with the message (exercises retries and the failed state)
 *   anything else        simulated work for TASK_PROCESS_TIME, as the original demo-job
 * Returns the task's result text: at once for noop (a no-op costs nothing more), else as a promise, which
 * fail rejects.
 */
export function executeCommand(command: string, options: ExecutionOptions): string | Promise<string> {
  const [name, ...args] = command.trim().split(/\s+/);
  switch (name) {
    case 'noop':
      return 'ok';
    case 'sleep':
      return sleepFor(args[0], options.signal);
    case 'fail':
      return Promise.reject(new TaskFailure(args.length > 0 ? args.join(' ') : 'failed on purpose'));
    default:
      return sleep(options.processTimeMs, undefined, { signal: options.signal }).then(() => `${name} done`);
  }
}

async function sleepFor(secondsText: string | undefined, signal: AbortSignal | undefined): Promise<string> {
  const seconds = Number(secondsText);
  if (!(seconds >= 0)) throw new TaskFailure(`sleep needs a number of seconds, got "${secondsText ?? ''}"`);
  await sleep(seconds * 1000, undefined, { signal });
  return `slept ${seconds}s`;
}
