import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { submitInBatches, type SchedulerClient } from './client';
import { cpuPerThousand, type CpuMs } from './cpu-usage';
import {
  checkCorrectness, countStatements, lastRecordedAtMs, resetStatements, startDelays, startLegs, waitUntilIdle,
  type Correctness, type Percentiles,
} from './measure';
import type { ServiceKind } from '../test/helpers/processes';

export interface PhaseContext {
  db: pg.Pool;
  client: SchedulerClient;
  submitConcurrency: number;
  /** Peak RSS per service since the previous call. */
  takeRssPeaks: () => Record<ServiceKind, number>;
  readCpu: () => CpuMs;
  log: (line: string) => void;
}

export interface PhaseResult {
  name: string;
  tasks: number;
  /** Tasks per second from the first request sent to the last completion recorded. */
  tasksPerS?: number;
  /** Tasks per second accepted by the batch endpoint. */
  submitTasksPerS?: number;
  latencyMs?: Percentiles;
  /** The steady phase's latency in two legs, [p50, p99] ms each (measure.ts startLegs). */
  legsMs?: { dueToClaim: number[]; claimToStart: number[] };
  /** CPU ms per 1,000 tasks by part of the system, for the phases that measure throughput. */
  cpuMsPerThousand?: CpuMs;
  correctness: Correctness;
  rssMb: Record<ServiceKind, number>;
  timedOut: boolean;
}

const DRAIN_TIMEOUT_MS = 120_000;

const perSecond = (count: number, fromMs: number, toMs: number) => Math.round(count / ((toMs - fromMs) / 1000));

/** Waits for `ids` to finish: their rate from `fromMs` to the last one recorded, and CPU per task since `cpuBefore`. */
async function drain(ctx: PhaseContext, ids: readonly string[], fromMs: number, cpuBefore: CpuMs) {
  const timedOut = !(await waitUntilIdle(ctx.db, DRAIN_TIMEOUT_MS));
  const cpuMsPerThousand = cpuPerThousand(cpuBefore, ctx.readCpu(), ids.length);
  return { timedOut, cpuMsPerThousand, tasksPerS: perSecond(ids.length, fromMs, await lastRecordedAtMs(ctx.db, ids)) };
}

/** Phase 1: `count` tasks of `command` submitted as fast as the scheduler takes them, run to completion. */
export async function runBurst(ctx: PhaseContext, count: number, command: string): Promise<PhaseResult> {
  ctx.takeRssPeaks();
  const cpuBefore = ctx.readCpu();
  const startMs = Date.now();
  const { ids, doneAtMs } = await submitInBatches(ctx.client, count, ctx.submitConcurrency, 0, command);
  return {
    name: 'burst',
    tasks: count,
    ...(await drain(ctx, ids, startMs, cpuBefore)),
    submitTasksPerS: perSecond(count, startMs, doneAtMs),
    latencyMs: await startDelays(ctx.db, ids, 'due'),
    correctness: await checkCorrectness(ctx.db, ids),
    rssMb: ctx.takeRssPeaks(),
  };
}

/**
 * Phase 2: one POST /api/schedule every 1/rate s for `seconds`: the schedule-to-start latency at rest. The
 * same load runs for `settleSeconds` before, not measured: in the first 200 ms after the burst, tasks
 * started 10-30 ms late while the services and PostgreSQL were still busy with its aftermath (garbage
 * collection, compiling the code paths of single tasks, autovacuum), which measures the burst, not rest.
 */
export async function runSteady(ctx: PhaseContext, rate: number, seconds: number, settleSeconds: number): Promise<PhaseResult> {
  ctx.takeRssPeaks();
  const settling = rate * settleSeconds;
  const total = settling + rate * seconds;
  const startMs = Date.now();
  const requests: Promise<string>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = startMs + (i * 1000) / rate - Date.now();
    if (wait > 0) await sleep(wait);
    requests.push(ctx.client.scheduleOne('noop'));
  }
  const ids = (await Promise.all(requests)).slice(settling);
  const result = await finishLatencyPhase(ctx, 'steady', ids, 'due');
  return { ...result, legsMs: await startLegs(ctx.db, ids) };
}

/** Waits for a latency phase's tasks to finish; their start delays from `from` (startDelays) and checks. */
async function finishLatencyPhase(ctx: PhaseContext, name: string, ids: readonly string[], from: 'due' | 'scheduled'): Promise<PhaseResult> {
  const timedOut = !(await waitUntilIdle(ctx.db, DRAIN_TIMEOUT_MS));
  return {
    name,
    tasks: ids.length,
    latencyMs: await startDelays(ctx.db, ids, from),
    correctness: await checkCorrectness(ctx.db, ids),
    rssMb: ctx.takeRssPeaks(),
    timedOut,
  };
}

/** Phase 3: `count` tasks (one batch) due at the same whole second, at least 1.5 s ahead. */
export async function runFuture(ctx: PhaseContext, count: number): Promise<PhaseResult> {
  ctx.takeRssPeaks();
  const dueMs = Math.ceil((Date.now() + 1500) / 1000) * 1000;
  const { ids } = await submitInBatches(ctx.client, count, 1, (dueMs - Date.now()) / 1000);
  return finishLatencyPhase(ctx, 'future', ids, 'scheduled');
}

/**
 * Phase 4: `count` tasks submitted due in an hour, so they all sit pending (submission alone, and memory with
 * a large backlog: the coordinator must not load it), then made due in one statement and run to completion.
 */
export async function runBacklog(ctx: PhaseContext, count: number): Promise<PhaseResult> {
  ctx.takeRssPeaks();
  const startMs = Date.now();
  const { ids, doneAtMs } = await submitInBatches(ctx.client, count, ctx.submitConcurrency, 3600);
  // Let every service settle with the backlog in place: a service that loaded it would grow now.
  await sleep(3000);
  const pendingRss = ctx.takeRssPeaks();
  ctx.log(`${count} tasks pending; peak RSS MB ${JSON.stringify(pendingRss)}; releasing them`);
  // One statement: the rows become due together when it commits. The trigger wakes only on re-queues, so
  // the bench sends the NOTIFY an insert would have sent.
  await ctx.db.query(`/* taskmaster-bench */ UPDATE tasks SET scheduled_at = now() WHERE status = 'pending'`);
  const releasedMs = Date.now();
  const cpuBefore = ctx.readCpu();
  await ctx.db.query(`/* taskmaster-bench */ SELECT pg_notify('taskmaster_tasks', '')`);
  const drained = await drain(ctx, ids, releasedMs, cpuBefore);
  const drainRss = ctx.takeRssPeaks();
  const peak = (kind: ServiceKind) => Math.max(pendingRss[kind], drainRss[kind]);
  return {
    name: 'backlog',
    tasks: count,
    ...drained,
    submitTasksPerS: perSecond(count, startMs, doneAtMs),
    correctness: await checkCorrectness(ctx.db, ids),
    rssMb: { scheduler: peak('scheduler'), coordinator: peak('coordinator'), worker: peak('worker') },
  };
}

/** Phase 5: statements per second the services run with nothing to do. */
export async function runIdle(ctx: PhaseContext, seconds: number): Promise<number> {
  await sleep(1000);
  await resetStatements(ctx.db);
  await sleep(seconds * 1000);
  return Math.round((await countStatements(ctx.db)) / seconds * 10) / 10;
}
