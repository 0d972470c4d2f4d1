import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { serviceEntry } from '../services/common/src/paths';

export type ServiceKind = 'scheduler' | 'coordinator' | 'worker';

/**
 * One service running as a real process from dist/. Its JSON log lines are read and dropped, keeping only the
 * last few and the warnings, so a long run costs the bench no memory and the report can show what went wrong.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly tail: string[] = [];
  readonly warnings: string[] = [];
  private readonly waiters: Array<{ match: (msg: string) => boolean; resolve: () => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly kind: ServiceKind, readonly name: string, env: Record<string, string>, nodeFlags: readonly string[] = []) {
    this.child = spawn(process.execPath, [...nodeFlags, serviceEntry(kind)], {
      env: { PATH: process.env.PATH ?? '', ...env },
      // IPC ties the service to the bench: if the bench dies, the service stops (service-runner.ts).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Resolves at the first log line whose msg matches, or rejects after timeoutMs or when the process exits. */
  waitForLog(match: (msg: string) => boolean, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.failure(`no matching log line within ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((code) => reject(this.failure(`exited with code ${code}`)));
      this.waiters.push({ match, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.pid === undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private failure(reason: string): Error {
    return new Error(`${this.name}: ${reason}; last lines:\n${this.tail.join('\n')}`);
  }

  private onLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 30) this.tail.shift();
    let msg = line;
    let level = '';
    try {
      const parsed = JSON.parse(line) as { msg?: string; level?: string };
      msg = parsed.msg ?? '';
      level = parsed.level ?? '';
    } catch {
      // Not JSON (a crash trace): keep it as a warning.
      level = 'warn';
    }
    if (['warn', 'error', 'fatal'].includes(level) && this.warnings.length < 20) this.warnings.push(line);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(msg)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

/** Peak resident memory per service kind (workers: the largest one), sampled from /proc/<pid>/status. */
export class RssSampler {
  private peaks: Record<ServiceKind, number> = { scheduler: 0, coordinator: 0, worker: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly services: () => readonly ServiceProcess[], intervalMs = 100) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Peaks since the last reset, in MB; then starts over. */
  takePeaks(): Record<ServiceKind, number> {
    this.sample();
    const peaks = this.peaks;
    this.peaks = { scheduler: 0, coordinator: 0, worker: 0 };
    return peaks;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const service of this.services()) {
      const rss = readRssMb(service.pid);
      if (rss > this.peaks[service.kind]) this.peaks[service.kind] = rss;
    }
  }
}

function readRssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}
