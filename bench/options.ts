/**
 * What one benchmark run does, from the command line and the environment:
 *   npm run bench -- --workers=4 --scale=small --slots=300 --env DISPATCH_BATCH_SIZE=1000 --profile --statements
 * BENCH_SCALE and BENCH_WORKERS are read too, so `npm test` can ask for a small run.
 */
export interface BenchOptions {
  scale: 'full' | 'small';
  /** Worker processes (3 by default); run with 1, 2, 3, 4 to see how throughput grows. */
  workers: number;
  /** WORKER_POOL_SIZE of each worker. */
  workerSlots: number;
  /** Run to completion before the phases and not measured, so they measure a warm system. */
  warmupTasks: number;
  /** Phase 1: tasks submitted at once, in 1,000-task requests. */
  burstTasks: number;
  /**
   * The burst's command (and the warm-up's): `noop` by default. A command that takes time, such as
   * `sleep 0.02`, makes the workers' slots the limit, to show throughput growing with workers.
   */
  burstCommand: string;
  /** Phase 2: single-task requests per second, for steadySeconds. */
  steadyRate: number;
  steadySeconds: number;
  /** The same load first, for this long, not measured: the system settles after the burst. */
  steadySettleSeconds: number;
  /** Phase 3: tasks due at the same instant. */
  futureTasks: number;
  /** Phase 4: tasks held pending (RSS), then released at once; 0 skips the phase. */
  backlogTasks: number;
  /** Phase 5: how long the idle system's queries are counted. */
  idleSeconds: number;
  /** Batch requests in flight at once while submitting. */
  submitConcurrency: number;
  /** Environment given to every service (on top of the bench's own), such as DISPATCH_BATCH_SIZE=1000. */
  serviceEnv: Record<string, string>;
  /** Extra PostgreSQL settings, for experiments such as --pg fsync=off (never durable: diagnosis only). */
  postgresSettings: Record<string, string>;
  /** When set, services run with --cpu-prof and write their profiles here. */
  profileDir?: string;
  /** Print the statements that took the most database time (pg_stat_statements, nested ones included). */
  statements: boolean;
  /** Only print the plans of the hot statements at a 100k backlog (explain-plans.ts), no benchmark. */
  explain: boolean;
  /** Only measure disk flushes and gRPC calls apart from the system (probes.ts), no benchmark. */
  probes: boolean;
  /** gRPC between the services over mutual TLS, with certificates made for the run (docs/security.md). */
  tls: boolean;
}

const USAGE = 'usage: npm run bench -- [--workers=N] [--slots=N] [--scale=full|small] [--burst-command=CMD] [--env NAME=VALUE]... '
  + '[--pg NAME=VALUE]... [--profile[=DIR]] [--statements] [--explain] [--probes] [--tls]';

/**
 * Default slots per worker. A no-op task holds its slot only from dispatch to its report, so slots are what
 * keeps the pipeline full while a claim, a send and a report are in flight; docs/performance.md has the
 * measurements behind this number.
 */
export const DEFAULT_WORKER_SLOTS = 1000;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string>();
  const serviceEnv: Record<string, string> = {};
  const postgresSettings: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!match) throw new Error(`unexpected argument "${argv[i]}"\n${USAGE}`);
    const [, name, inline] = match;
    if (name === 'env' || name === 'pg') {
      const pair = inline ?? argv[++i] ?? '';
      const eq = pair.indexOf('=');
      if (eq < 1) throw new Error(`--${name} needs NAME=VALUE, got "${pair}"\n${USAGE}`);
      (name === 'env' ? serviceEnv : postgresSettings)[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else {
      flags.set(name, inline ?? '');
    }
  }
  const known = ['workers', 'slots', 'scale', 'burst-command', 'profile', 'statements', 'explain', 'probes', 'tls', 'help'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
  if (flags.has('help')) throw new Error(USAGE);

  const scale = flags.get('scale') || env.BENCH_SCALE || 'full';
  if (scale !== 'full' && scale !== 'small') throw new Error(`scale must be full or small, got "${scale}"`);
  const small = scale === 'small';
  const int = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got "${value}"`);
    return n;
  };
  const profile = flags.get('profile');
  return {
    scale,
    workers: int(flags.get('workers') ?? env.BENCH_WORKERS, 3, 'workers'),
    workerSlots: int(flags.get('slots'), DEFAULT_WORKER_SLOTS, 'slots'),
    warmupTasks: small ? 500 : 3000,
    burstTasks: small ? 2000 : 20_000,
    burstCommand: flags.get('burst-command') || 'noop',
    steadyRate: 200,
    steadySeconds: small ? 3 : 20,
    steadySettleSeconds: 1,
    futureTasks: small ? 100 : 1000,
    backlogTasks: small ? 0 : 100_000,
    idleSeconds: small ? 3 : 10,
    submitConcurrency: 4,
    serviceEnv,
    postgresSettings,
    profileDir: profile === undefined ? undefined : profile || 'bench-profiles',
    statements: flags.has('statements'),
    explain: flags.has('explain'),
    probes: flags.has('probes'),
    tls: flags.has('tls'),
  };
}
