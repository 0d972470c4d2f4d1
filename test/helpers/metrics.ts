import { spawnSync } from 'node:child_process';
import type { ServiceProcess } from './processes';

/** One sample of the Prometheus text format: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (what prom-client serves). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrapeText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return response.text();
}

export async function scrape(url: string): Promise<Sample[]> {
  return parseExposition(await scrapeText(url));
}

/** The sum of every sample named `name` whose labels include `labels`. */
export function sumOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The /metrics URL of a coordinator or worker process, from the port its "metrics listening" line logs. */
export async function metricsUrl(service: ServiceProcess): Promise<string> {
  const line = await service.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('metrics listening'));
  return `http://127.0.0.1:${line.port as number}/metrics`;
}

/**
 * A Debian package's binary (promtool, prometheus) when installed. Missing, it is a skip with a message,
 * except under CI=true, where it is an error: CI installs them.
 */
export function requireBinary(name: string, debianPackage: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  const message = `${name} is not installed (apt-get install ${debianPackage})`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`skipping: ${message}`);
  return null;
}
