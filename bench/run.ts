import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { SchedulerClient } from './client';
import { startBenchCluster, type BenchCluster } from './cluster';
import { summarizeProfiles } from './cpu-profile';
import { explainPlans } from './explain-plans';
import { topStatements, resetStatements } from './measure';
import { parseOptions } from './options';
import { runProbes } from './probes';
import { runBacklog, runBurst, runFuture, runIdle, runSteady, type PhaseContext, type PhaseResult } from './phases';
import { phaseTable, statementTable, summarize } from './report';

/**
 * `npm run bench`: the whole system on this machine (embedded PostgreSQL, coordinator, scheduler, workers as
 * real processes), driven through the scheduler's HTTP API with no-op tasks, measured from the database.
 * Prints progress on stderr, then the table and, as its last line, one JSON object (report.ts).
 * docs/performance.md explains the phases and records the figures.
 */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  if (options.explain) {
    process.stdout.write(`${await explainPlans(log)}\n`);
    return;
  }
  if (options.probes) {
    process.stdout.write(`${JSON.stringify(await runProbes(log))}\n`);
    return;
  }
  const loadBefore = loadavg().map((n) => Math.round(n * 100) / 100);
  log(`load average ${loadBefore.join(' ')}; ${options.scale} scale, ${options.workers} workers`);

  const cluster = await startBenchCluster(options, log);
  const stopOnSignal = () => void cluster.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const serviceByPid = new Map(cluster.services.map((s) => [s.child.pid!, s.name]));
  const client = new SchedulerClient(cluster.schedulerUrl, 64);
  try {
    const { phases, idle } = await runPhases(cluster, client, options, log);
    for (const service of cluster.services) {
      if (service.warnings.length > 0) log(`${service.name} logged warnings, first ones:\n${service.warnings.slice(0, 5).map((line) => JSON.stringify(line)).join('\n')}`);
    }
    client.close();
    await cluster.stop();
    if (options.profileDir) log(`CPU profiles (self time):\n${summarizeProfiles(resolve(options.profileDir), serviceByPid)}`);
    process.stdout.write(`${phaseTable(phases)}\n`);
    process.stdout.write(`${JSON.stringify(summarize(options, phases, idle, loadBefore))}\n`);
  } catch (err) {
    client.close();
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

async function runPhases(
  cluster: BenchCluster,
  client: SchedulerClient,
  options: ReturnType<typeof parseOptions>,
  log: (line: string) => void,
): Promise<{ phases: PhaseResult[]; idle: number }> {
  const ctx: PhaseContext = {
    db: cluster.db,
    client,
    submitConcurrency: options.submitConcurrency,
    takeRssPeaks: () => cluster.rss.takePeaks(),
    readCpu: () => cluster.readCpu(),
    log,
  };
  const phases: PhaseResult[] = [];
  const record = (result: PhaseResult) => {
    phases.push(result);
    log(`${result.name}: ${JSON.stringify(result)}`);
  };
  // A short run first, not measured: the first thousands of tasks run before V8 has compiled the hot paths
  // and cost the services twice the CPU per task (measured: 53 against 31 µs per task in the workers).
  log(`warm-up: ${options.warmupTasks} tasks, not measured`);
  await runBurst(ctx, options.warmupTasks, options.burstCommand);
  // Statement counts and times cover the measured phases only, not start-up and migrations.
  await resetStatements(cluster.db);
  log(`burst: ${options.burstTasks} tasks of "${options.burstCommand}"`);
  record(await runBurst(ctx, options.burstTasks, options.burstCommand));
  log(`steady: ${options.steadyRate} tasks/s for ${options.steadySettleSeconds} s to settle, then ${options.steadySeconds} s measured`);
  record(await runSteady(ctx, options.steadyRate, options.steadySeconds, options.steadySettleSeconds));
  log(`future: ${options.futureTasks} tasks due at the same second`);
  record(await runFuture(ctx, options.futureTasks));
  if (options.backlogTasks > 0) {
    log(`backlog: ${options.backlogTasks} tasks pending, then released`);
    record(await runBacklog(ctx, options.backlogTasks));
  }
  if (options.statements) {
    log(`statements by database time over the busy phases (pg_stat_statements):\n${statementTable(await topStatements(cluster.db))}`);
  }
  log(`idle: counting statements for ${options.idleSeconds} s`);
  const idle = await runIdle(ctx, options.idleSeconds);
  return { phases, idle };
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
