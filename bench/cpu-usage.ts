import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceKind, ServiceProcess } from '../test/helpers/processes';

export type CpuComponent = ServiceKind | 'postgres';
export type CpuMs = Record<CpuComponent, number>;

// /proc/<pid>/stat counts in clock ticks; USER_HZ is 100 on Linux.
const TICK_MS = 10;

/** utime + stime (and, with children, cutime + cstime: children it has reaped) of a process, in ms. */
function processCpuMs(pid: number, withReapedChildren: boolean): { ms: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; the fields after it start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = (index: number) => Number(fields[index - 3]);
    const own = ticks(14) + ticks(15);
    return { ms: (withReapedChildren ? own + ticks(16) + ticks(17) : own) * TICK_MS, ppid: ticks(4) };
  } catch {
    return undefined;
  }
}

/**
 * CPU time used so far by each part of the system: the services' processes (workers summed) and PostgreSQL
 * (the postmaster, its live backends and the ones it reaped). Differences between two readings divided by
 * the tasks run give CPU per task, which other load on the machine hardly changes, unlike wall-clock rates.
 */
export function readCpuMs(services: readonly ServiceProcess[], postgresDataDir: string): CpuMs {
  const usage: CpuMs = { scheduler: 0, coordinator: 0, worker: 0, postgres: 0 };
  for (const service of services) {
    if (service.pid !== undefined) usage[service.kind] += processCpuMs(service.pid, false)?.ms ?? 0;
  }
  const postmaster = Number(readFileSync(join(postgresDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  usage.postgres += processCpuMs(postmaster, true)?.ms ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = processCpuMs(Number(entry), false);
    if (child?.ppid === postmaster) usage.postgres += child.ms;
  }
  return usage;
}

/** CPU ms per 1,000 tasks of each part between two readings. */
export function cpuPerThousand(before: CpuMs, after: CpuMs, tasks: number): CpuMs {
  const per = (key: CpuComponent) => Math.round(((after[key] - before[key]) * 1000) / tasks);
  return { scheduler: per('scheduler'), coordinator: per('coordinator'), worker: per('worker'), postgres: per('postgres') };
}
