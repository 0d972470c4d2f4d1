import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { serviceEntry } from '../../services/common/src/paths';
import { freePort } from './ports';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };
export type ServiceKind = 'scheduler' | 'coordinator' | 'worker';

export interface ServiceProcess {
  readonly kind: ServiceKind;
  readonly name: string;
  readonly child: ChildProcess;
  /** Its log lines, parsed; only the newest `keepLines` when that option is set. */
  readonly logs: LogLine[];
  /** The first 20 lines at warn level or above, or not JSON (a crash trace), however many lines are kept. */
  readonly warnings: LogLine[];
  /** The process id while it runs; undefined once it exited. */
  readonly pid: number | undefined;
  /** Resolves with the first log line (past or future) matching `predicate`; rejects on timeout or exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartServiceOptions {
  /** Node flags before the entry point (the bench's --cpu-prof). */
  nodeFlags?: readonly string[];
  /** Keep only this many of the newest log lines, so a long run costs no memory (the bench). */
  keepLines?: number;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Runs a compiled service (`npm run build` output) as a real process with its JSON log lines collected. IPC
 * ties it to this process: if this one dies, the service stops (service-runner.ts). Used by the tests and
 * the bench.
 */
export function startService(service: ServiceKind, env: Record<string, string>, label: string = service, options: StartServiceOptions = {}): ServiceProcess {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), serviceEntry(service)], {
    // METRICS_PORT 0: test processes share one host, so none may take the fixed default metrics ports.
    env: { PATH: process.env.PATH ?? '', BIND_HOST: '127.0.0.1', LOG_LEVEL: 'debug', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const warnings: LogLine[] = [];
  const waiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  const onLine = (text: string) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text, level: 'raw' };
    }
    logs.push(line);
    if (options.keepLines !== undefined && logs.length > options.keepLines) logs.shift();
    if (['warn', 'error', 'fatal', 'raw'].includes(line.level ?? '') && warnings.length < 20) warnings.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));
  // 'close' comes after the output streams ended, so every line the process wrote has been seen by then.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lastLines = () => logs.slice(-15).map((l) => JSON.stringify(l)).join('\n');

  return {
    kind: service,
    name: label,
    child,
    logs,
    warnings,
    exited,
    get pid() {
      return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    waitForLog(predicate, timeoutMs = 20_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${label}: no matching log line within ${timeoutMs} ms; last lines:\n${lastLines()}`));
        }, timeoutMs);
        void closed.then(() => {
          clearTimeout(timer);
          reject(new Error(`${label}: exited with code ${child.exitCode}; last lines:\n${lastLines()}`));
        });
        waiters.push({ predicate, resolve: (line) => { clearTimeout(timer); resolve(line); } });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface Cluster {
  coordinatorAddress: string;
  coordinatorPort: number;
  schedulerUrl: string;
  coordinator: ServiceProcess;
  scheduler?: ServiceProcess;
  workers: ServiceProcess[];
  /** Starts one more worker process. */
  addWorker(env?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Fast timings for tests: 1 s heartbeats, eviction after 3 missed, short leases and retries. */
export const FAST_TIMINGS: Record<string, string> = {
  HEARTBEAT_INTERVAL: '1s',
  LEASE_DURATION: '5s',
  POLL_INTERVAL: '2s',
  RETRY_BACKOFF_BASE: '100ms',
  RETRY_BACKOFF_MAX: '500ms',
};

/**
 * A coordinator, optionally a scheduler (with SCALER=local and no workers of its own), and `workers` worker
 * processes, all real processes against `databaseEnv`, on free loopback ports.
 */
export async function startCluster(options: {
  databaseEnv: Record<string, string>;
  workers: number;
  scheduler?: boolean;
  env?: Record<string, string>;
  workerEnv?: Record<string, string>;
}): Promise<Cluster> {
  const coordinatorPort = await freePort();
  const coordinatorAddress = `127.0.0.1:${coordinatorPort}`;
  const common = { ...FAST_TIMINGS, ...options.databaseEnv, COORDINATOR_ADDRESS: coordinatorAddress, ...options.env };
  const coordinator = startService('coordinator', { ...common, COORDINATOR_PORT: String(coordinatorPort) });
  await coordinator.waitForLog((l) => l.msg === 'coordinator listening');

  let scheduler: ServiceProcess | undefined;
  let schedulerUrl = '';
  if (options.scheduler) {
    const port = await freePort();
    scheduler = startService('scheduler', { ...common, SCHEDULER_PORT: String(port), SCALER: 'local', LOCAL_WORKERS: '0', SSE_KEEPALIVE: '1s' });
    await scheduler.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduler listening'));
    schedulerUrl = `http://127.0.0.1:${port}`;
  }

  const workers: ServiceProcess[] = [];
  let sequence = 0;
  const addWorker = async (env: Record<string, string> = {}) => {
    const name = `test-worker-${++sequence}`;
    const worker = startService('worker', { ...common, WORKER_NAME: name, TASK_PROCESS_TIME: '50ms', ...options.workerEnv, ...env }, name);
    workers.push(worker);
    await worker.waitForLog((l) => l.msg === 'registered with the coordinator');
    return worker;
  };
  for (let i = 0; i < options.workers; i++) await addWorker();

  return {
    coordinatorAddress,
    coordinatorPort,
    schedulerUrl,
    coordinator,
    scheduler,
    workers,
    addWorker,
    async stop() {
      await Promise.all(workers.map((w) => w.stop('SIGTERM')));
      await scheduler?.stop();
      await coordinator.stop();
    },
  };
}
