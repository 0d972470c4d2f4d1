import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Ending a `shell` task's process group: the child is started detached, so it leads a group of its own that
 * its children (a backgrounded `sleep`, a pipeline) join. Signalling -pgid reaches all of them, where killing
 * the child alone would leave its grandchildren running.
 */

const POLL_MS = 25;
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Remembers a group so that the worker's own exit (a drain that timed out, a crash) takes it along: a detached
 * group would otherwise outlive the worker.
 */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const group of liveGroups) signalGroup(group, 'SIGKILL');
    });
  }
}

/** SIGTERM to the group, then SIGKILL to whatever is left after `graceMs`; resolves when none is left. */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  try {
    if (!signalGroup(pgid, 'SIGTERM')) return;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      if (!groupHasLiveMembers(pgid)) return;
    }
    signalGroup(pgid, 'SIGKILL');
    for (let tries = 0; tries < 40 && groupHasLiveMembers(pgid); tries++) await sleep(POLL_MS);
  } finally {
    liveGroups.delete(pgid);
  }
}

/**
 * Sends `signal` to every process of the group; false when that is impossible: ESRCH (the group is gone) or
 * EPERM (what is left runs as another user, after a setuid exec, and no signal of ours reaches it).
 */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process of the group is still running. A killed process whose parent has died stays a zombie
 * until PID 1 reaps it, and some container inits never do; a zombie runs nothing, so on Linux only members
 * that are not zombies count. Elsewhere any member does.
 */
function groupHasLiveMembers(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux' || !existsSync('/proc/self/stat')) return true;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/** Whether the process is running (a zombie is not), for tests and for the group check above. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return process.platform !== 'linux' || readProcStat(pid)?.state !== 'Z';
}

/** State and process group from /proc/<pid>/stat; the command name is in parentheses and may hold spaces. */
function readProcStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], pgrp: Number(fields[2]) };
  } catch {
    return undefined; // the process ended while we looked
  }
}
