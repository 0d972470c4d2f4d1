import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../../common/src/logger';
import { NotFoundError } from '../../../common/src/errors';
import { serviceEntry } from '../../../common/src/paths';
import type { RuntimeWorker, ScaleResult, Scaler } from './scaler';

export interface LocalScalerOptions {
  logger: Logger;
  /** Environment for the workers (coordinator address, database-free). */
  env: NodeJS.ProcessEnv;
  /** Compiled worker entry point; defaults to dist/services/worker/src/main.js. */
  entry?: string;
  /** Grace for SIGTERM before SIGKILL when scaling down or closing. */
  stopGraceMs?: number;
}

interface LocalWorker {
  name: string;
  child: ChildProcess;
  startedAt: number;
  /** Stopped on purpose (scale down, close): not replaced. */
  retiring: boolean;
}

/**
 * Workers as child processes of the scheduler, for `npm start`. Like a Kubernetes Deployment it keeps the
 * asked-for number running: a worker that exits or is killed is replaced by a new one with a new name,
 * backing off when replacements die at once. Workers are tied to this process over IPC, so they stop when
 * the scheduler stops, however it stops.
 */
export class LocalScaler implements Scaler {
  readonly kind = 'local' as const;
  private readonly workers = new Map<string, LocalWorker>();
  private target = 0;
  private sequence = 0;
  private closed = false;
  private restartDelayMs = 0;

  constructor(private readonly options: LocalScalerOptions) {}

  async scale(count: number): Promise<ScaleResult> {
    const previous = this.target;
    this.target = count;
    this.reconcile();
    return { requested: count, previous };
  }

  async kill(name: string): Promise<void> {
    const worker = this.workers.get(name);
    if (!worker || hasExited(worker.child)) throw new NotFoundError(`no running worker named "${name}"`, 'name');
    this.options.logger.info({ name, pid: worker.child.pid }, 'killing worker (SIGTERM)');
    worker.child.kill('SIGTERM');
  }

  async list(): Promise<RuntimeWorker[]> {
    return [...this.workers.values()].map(({ name, child }) => ({
      name,
      phase: hasExited(child) ? 'exited' : 'running',
      ready: !hasExited(child),
      pid: child.pid,
    }));
  }

  async desired(): Promise<number> {
    return this.target;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers.values()].map((worker) => this.stop(worker)));
  }

  private active(): LocalWorker[] {
    return [...this.workers.values()].filter((worker) => !worker.retiring);
  }

  private reconcile(): void {
    if (this.closed) return;
    const active = this.active();
    for (let i = active.length; i < this.target; i++) this.start();
    // Scale down newest first, as a ReplicaSet does.
    for (const worker of active.slice(this.target).reverse()) void this.stop(worker);
  }

  private start(): void {
    const name = `worker-${++this.sequence}`;
    const child = spawn(process.execPath, [this.options.entry ?? serviceEntry('worker')], {
      // Free metrics ports (each worker logs its own): the workers share this host and cannot all take 9465.
      env: { ...this.options.env, WORKER_NAME: name, METRICS_PORT: '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: LocalWorker = { name, child, startedAt: Date.now(), retiring: false };
    this.workers.set(name, worker);
    this.options.logger.info({ name, pid: child.pid }, 'started worker process');
    child.on('exit', (code, signal) => {
      this.workers.delete(name);
      if (worker.retiring || this.closed) return;
      this.options.logger.warn({ name, code, signal }, 'worker process exited; starting a replacement');
      // A worker that dies right after starting would otherwise be restarted in a tight loop.
      const diedYoung = Date.now() - worker.startedAt < 5000;
      this.restartDelayMs = diedYoung ? Math.min(30_000, Math.max(500, this.restartDelayMs * 2)) : 0;
      setTimeout(() => this.reconcile(), this.restartDelayMs);
    });
  }

  private stop(worker: LocalWorker): Promise<void> {
    worker.retiring = true;
    const { child } = worker;
    if (hasExited(child)) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), this.options.stopGraceMs ?? 30_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** Exited with a code or ended by a signal (only one of the two is set). */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
