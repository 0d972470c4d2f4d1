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
 * Returns the task's result text.
 */
export async function executeCommand(command: string, options: ExecutionOptions): Promise<string> {
  const [name, ...args] = command.trim().split(/\s+/);
  switch (name) {
    case 'noop':
      return 'ok';
    case 'sleep': {
      const seconds = Number(args[0]);
      if (!(seconds >= 0)) throw new TaskFailure(`sleep needs a number of seconds, got "${args[0] ?? ''}"`);
      await sleep(seconds * 1000, undefined, { signal: options.signal });
      return `slept ${seconds}s`;
    }
    case 'fail':
      throw new TaskFailure(args.length > 0 ? args.join(' ') : 'failed on purpose');
    default:
      await sleep(options.processTimeMs, undefined, { signal: options.signal });
      return `${name} done`;
  }
}
