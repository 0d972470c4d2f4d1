import { loadavg } from 'node:os';
import type { CpuMs } from './cpu-usage';
import type { StatementCost } from './measure';
import type { BenchOptions } from './options';
import type { PhaseResult } from './phases';
import type { ServiceKind } from '../test/helpers/processes';

/** The bench's last line: one JSON object, the figures docs/performance.md quotes. */
export interface BenchSummary {
  workers: number;
  worker_slots: number;
  /** --tls: gRPC between the services over mutual TLS. */
  grpc_tls: boolean;
  scale: BenchOptions['scale'];
  burst_command: string;
  burst_tasks_per_s: number;
  submit_tasks_per_s: number;
  backlog_tasks_per_s: number | null;
  backlog_submit_tasks_per_s: number | null;
  /** CPU ms per 1,000 tasks in the burst, by part: what bounds throughput on a machine of this many cores. */
  burst_cpu_ms_per_1000_tasks: CpuMs;
  backlog_cpu_ms_per_1000_tasks: CpuMs | null;
  steady_latency_ms: { p50: number; p95: number; p99: number; max: number };
  /** [p50, p99] of the two legs of the steady latency: due to claimed, claimed to started. */
  steady_legs_ms: { due_to_claim: number[]; claim_to_start: number[] };
  burst_latency_ms: { p50: number; p95: number; p99: number; max: number };
  future_lateness_ms: { p50: number; p99: number; max: number };
  early_starts: number;
  lost: number;
  duplicated: number;
  event_mismatches: number;
  redelivered: number;
  timed_out: boolean;
  idle_statements_per_s: number;
  peak_rss_mb: Record<ServiceKind, number>;
  load_average: { before: number[]; after: number[] };
  service_env: Record<string, string>;
  postgres_settings: Record<string, string>;
}

export function summarize(options: BenchOptions, phases: PhaseResult[], idle: number, loadBefore: number[]): BenchSummary {
  const phase = (name: string) => phases.find((p) => p.name === name);
  const burst = phase('burst')!;
  const steady = phase('steady')!;
  const future = phase('future')!;
  const backlog = phase('backlog');
  const sum = (key: 'lost' | 'duplicated' | 'early' | 'eventMismatches' | 'redelivered') =>
    phases.reduce((total, p) => total + p.correctness[key], 0);
  const peak = (kind: ServiceKind) => Math.max(...phases.map((p) => p.rssMb[kind]));
  return {
    workers: options.workers,
    worker_slots: options.workerSlots,
    grpc_tls: options.tls,
    scale: options.scale,
    burst_command: options.burstCommand,
    burst_tasks_per_s: burst.tasksPerS!,
    submit_tasks_per_s: burst.submitTasksPerS!,
    backlog_tasks_per_s: backlog?.tasksPerS ?? null,
    backlog_submit_tasks_per_s: backlog?.submitTasksPerS ?? null,
    burst_cpu_ms_per_1000_tasks: burst.cpuMsPerThousand!,
    backlog_cpu_ms_per_1000_tasks: backlog?.cpuMsPerThousand ?? null,
    steady_latency_ms: steady.latencyMs!,
    steady_legs_ms: { due_to_claim: steady.legsMs!.dueToClaim, claim_to_start: steady.legsMs!.claimToStart },
    burst_latency_ms: burst.latencyMs!,
    future_lateness_ms: { p50: future.latencyMs!.p50, p99: future.latencyMs!.p99, max: future.latencyMs!.max },
    early_starts: sum('early'),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    event_mismatches: sum('eventMismatches'),
    redelivered: sum('redelivered'),
    timed_out: phases.some((p) => p.timedOut),
    idle_statements_per_s: idle,
    peak_rss_mb: { scheduler: peak('scheduler'), coordinator: peak('coordinator'), worker: peak('worker') },
    load_average: { before: loadBefore, after: loadavg().map((n) => Math.round(n * 100) / 100) },
    service_env: options.serviceEnv,
    postgres_settings: options.postgresSettings,
  };
}

/** A fixed-width table of every phase, for people; the JSON line after it is for tools. */
export function phaseTable(phases: PhaseResult[]): string {
  const header = ['phase', 'tasks', 'tasks/s', 'submit/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'lost', 'dup', 'early', 'ev!', 'rss s/c/w MB'];
  const cell = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '-' : String(value));
  const rows = phases.map((p) => [
    p.name + (p.timedOut ? ' (TIMED OUT)' : ''),
    String(p.tasks),
    cell(p.tasksPerS),
    cell(p.submitTasksPerS),
    cell(p.latencyMs?.p50),
    cell(p.latencyMs?.p95),
    cell(p.latencyMs?.p99),
    cell(p.latencyMs?.max),
    String(p.correctness.lost),
    String(p.correctness.duplicated),
    String(p.correctness.early),
    String(p.correctness.eventMismatches),
    `${p.rssMb.scheduler}/${p.rssMb.coordinator}/${p.rssMb.worker}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function statementTable(statements: StatementCost[]): string {
  return statements
    .map((s) => `${String(s.totalMs).padStart(9)} ms ${String(s.calls).padStart(7)} calls ${String(s.meanMs).padStart(8)} ms/call ${String(s.rows).padStart(8)} rows  ${s.query}`)
    .join('\n');
}
