import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

const COLORS = [36, 35, 33, 32, 34, 91, 92, 93, 94, 95, 96];
const LEVEL_COLORS: Record<string, number> = { warn: 33, error: 31, fatal: 31, debug: 90, trace: 90 };
const HIDDEN = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname', 'worker']);

/**
 * Prints the services' JSON log lines for a person at a terminal: "12:00:01 worker-2 | task failed
 * task_id=…". The label comes from the line itself (service, or the worker's name), so the workers the
 * scheduler starts are told apart even though they share its output. Not at a terminal, lines pass through
 * unchanged for log collectors.
 */
export class LogPrinter {
  private readonly colorOf = new Map<string, number>();

  constructor(private readonly out: Writable, private readonly pretty: boolean) {}

  follow(stream: Readable, fallbackLabel: string): void {
    createInterface({ input: stream }).on('line', (line) => this.print(line, fallbackLabel));
  }

  print(line: string, fallbackLabel: string): void {
    if (!this.pretty) {
      this.out.write(`${line}\n`);
      return;
    }
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(`${this.label(fallbackLabel)} | ${line}\n`);
      return;
    }
    const label = String(entry.worker ?? entry.service ?? fallbackLabel);
    const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
    const level = String(entry.level ?? 'info');
    const levelText = level === 'info' ? '' : `\x1b[${LEVEL_COLORS[level] ?? 0}m${level.toUpperCase()}\x1b[0m `;
    const fields = Object.entries(entry)
      .filter(([key]) => !HIDDEN.has(key))
      .map(([key, value]) => `\x1b[90m${key}=\x1b[0m${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    this.out.write(`\x1b[90m${time}\x1b[0m ${this.label(label)} | ${levelText}${String(entry.msg ?? '')} ${fields}\n`);
  }

  private label(name: string): string {
    if (!this.colorOf.has(name)) this.colorOf.set(name, COLORS[this.colorOf.size % COLORS.length]);
    return `\x1b[${this.colorOf.get(name)}m${name.padEnd(12)}\x1b[0m`;
  }
}
