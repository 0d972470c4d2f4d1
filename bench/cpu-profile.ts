import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

/**
 * The functions with the most self time in one `node --cpu-prof` profile, as "percent  function  file:line",
 * in percent of the busy time (idle left out). Enough to see where a service's CPU goes without DevTools.
 */
export function topFunctions(path: string, limit = 15): string[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const hits = node.hitCount ?? 0;
    total += hits;
    const file = url.replace(/^.*\/(node_modules|dist)\//, '$1/');
    const key = `${functionName || '(anonymous)'}  ${file}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + hits);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, hits]) => `${((100 * hits) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${key}`);
}

/** Summaries of this run's profiles in `dir`: Node names them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile. */
export function summarizeProfiles(dir: string, serviceByPid: ReadonlyMap<number, string>): string {
  return readdirSync(dir)
    .map((file) => ({ file, service: serviceByPid.get(Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(file)?.[1])) }))
    .filter(({ service }) => service !== undefined)
    .map(({ file, service }) => `${service} (${file})\n${topFunctions(join(dir, file)).join('\n')}`)
    .join('\n\n');
}
