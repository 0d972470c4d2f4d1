import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { migrate } from '../services/common/src/db/migrate';
import { SCHEMA } from '../services/common/src/db/pool';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../services/local/src/embedded-postgres';
import { createTestCa, type TestCa } from '../test/helpers/certificates';
import { freePort } from '../test/helpers/ports';
import { readCpuMs, type CpuMs } from './cpu-usage';
import type { BenchOptions } from './options';
import { startService, type ServiceProcess } from '../test/helpers/processes';
import { RssSampler } from './rss-sampler';

export interface BenchCluster {
  /** The bench's own connections, for measuring. */
  readonly db: pg.Pool;
  readonly schedulerUrl: string;
  readonly services: readonly ServiceProcess[];
  readonly rss: RssSampler;
  /** CPU used so far by each part of the system (cpu-usage.ts). */
  readCpu(): CpuMs;
  /** Stops the services (SIGTERM, so CPU profiles get written), then PostgreSQL, and deletes its data. */
  stop(): Promise<void>;
}

/**
 * PostgreSQL 17 from embedded-postgres in a temporary directory on a free port, with pg_stat_statements
 * preloaded (it ships with the package's binaries) so the bench can count and profile queries, migrated;
 * then the coordinator, the scheduler and the workers as real processes on loopback.
 */
export async function startBenchCluster(options: BenchOptions, log: (line: string) => void): Promise<BenchCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-bench-pg-'));
  const pgPort = await freePort();
  let postgres: EmbeddedPostgresHandle | undefined;
  let db: pg.Pool | undefined;
  const services: ServiceProcess[] = [];
  let rss: RssSampler | undefined;
  let ca: TestCa | undefined;
  const stop = async () => {
    rss?.stop();
    // Workers first so they hand nothing back to a coordinator that is gone.
    await Promise.all(services.filter((s) => s.kind === 'worker').map((s) => s.stop()));
    await Promise.all(services.filter((s) => s.kind !== 'worker').map((s) => s.stop()));
    await db?.end();
    await postgres?.stop();
    ca?.remove();
  };

  try {
    log(`starting PostgreSQL on 127.0.0.1:${pgPort} (data in ${dataDir})`);
    postgres = await startEmbeddedPostgres({
      dataDir,
      port: pgPort,
      persistent: false,
      onLog: process.env.BENCH_PG_LOG ? (line) => process.stderr.write(`${line}\n`) : undefined,
      settings: {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': options.statements ? 'all' : 'top',
        ...options.postgresSettings,
      },
    });
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE taskmaster');
    await admin.end();
    const databaseUrl = postgres.urlFor('taskmaster');
    // Our tables as the services see them, and public after them for the pg_stat_statements views.
    db = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'taskmaster-bench', options: `-c search_path=${SCHEMA},public` });
    // An idle connection that PostgreSQL closes (at shutdown) must not crash the bench.
    db.on('error', (err) => log(`idle database connection closed: ${err.message}`));
    await db.query('CREATE EXTENSION pg_stat_statements SCHEMA public');
    await migrate(db);

    const coordinatorPort = await freePort();
    const schedulerPort = await freePort();
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      BIND_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      COORDINATOR_ADDRESS: `127.0.0.1:${coordinatorPort}`,
      COORDINATOR_PORT: String(coordinatorPort),
      SCHEDULER_PORT: String(schedulerPort),
      SCALER: 'local',
      LOCAL_WORKERS: '0',
      // Any free port: several workers on one host, and other TaskMasters on this machine.
      METRICS_PORT: '0',
      WORKER_POOL_SIZE: String(options.workerSlots),
      ...options.serviceEnv,
    };
    let nodeFlags: string[] = [];
    if (options.profileDir) {
      const dir = resolve(options.profileDir);
      mkdirSync(dir, { recursive: true });
      nodeFlags = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
    }
    // With --tls each service gets its own certificate from a CA made for this run, as in a cluster.
    const tlsEnv = options.tls ? certificatesFor((made) => (ca = made)) : undefined;
    // Only the newest lines are kept: a long run must cost the bench no memory.
    const start = (kind: ServiceProcess['kind'], name: string, extra: Record<string, string> = {}) => {
      const service = startService(kind, { ...env, ...tlsEnv?.[kind], ...extra }, name, { nodeFlags, keepLines: 30 });
      services.push(service);
      return service;
    };

    const coordinator = start('coordinator', 'coordinator');
    await coordinator.waitForLog((line) => line.msg === 'coordinator listening', 30_000);
    const scheduler = start('scheduler', 'scheduler');
    const workers = Array.from({ length: options.workers }, (_, i) => start('worker', `bench-worker-${i + 1}`, { WORKER_NAME: `bench-worker-${i + 1}` }));
    await Promise.all([
      scheduler.waitForLog((line) => String(line.msg).startsWith('scheduler listening'), 30_000),
      ...workers.map((worker) => worker.waitForLog((line) => line.msg === 'registered with the coordinator', 30_000)),
    ]);
    rss = new RssSampler(() => services);
    log(`started coordinator, scheduler and ${options.workers} workers with ${options.workerSlots} slots each`);
    return {
      db, schedulerUrl: `http://127.0.0.1:${schedulerPort}`, services, rss, stop,
      readCpu: () => readCpuMs(services, dataDir),
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** GRPC_TLS_* per service: a CA for this run, the coordinator's certificate for loopback, the others' with their roles. */
function certificatesFor(made: (ca: TestCa) => void): Record<ServiceProcess['kind'], Record<string, string>> {
  const ca = createTestCa('TaskMaster bench CA');
  made(ca);
  const envOf = (files: { cert: string; key: string }) => ({ GRPC_TLS_CA: ca.caFile, GRPC_TLS_CERT: files.cert, GRPC_TLS_KEY: files.key });
  return {
    coordinator: envOf(ca.issue('coordinator', { dns: ['localhost'], ips: ['127.0.0.1'] })),
    scheduler: envOf(ca.issue('scheduler', { ous: ['scheduler'] })),
    worker: envOf(ca.issue('worker', { ous: ['worker'] })),
  };
}
