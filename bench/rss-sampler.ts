import { readFileSync } from 'node:fs';
import type { ServiceKind, ServiceProcess } from '../test/helpers/processes';

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
