import type { GrpcTlsFiles, WorkerConfig } from '../../common/src/config';
import { ConfigError } from '../../common/src/errors';
import type { Logger } from '../../common/src/logger';
import { registry } from '../../common/src/metrics';
import { defineTask, type TaskContext } from '../../sdk/src/define-task';
import type { StandardSchemaV1 } from '../../sdk/src/standard-schema';
import { startWorker, type Worker } from '../../sdk/src/worker/start-worker';
import { createHttpTask, createShellTask } from './builtins';
import { executeCommand, type ExecutionOptions } from './executor';

/**
 * The shipped worker service: the SDK's worker runtime plus the built-in task types. It dials the coordinator
 * (COORDINATOR_ADDRESS) and opens no gRPC port, unless the coordinator is an original-contract one (no
 * Connect): then it serves WorkerService on `bindHost`:WORKER_PORT and advertises WORKER_ADDRESS (plus the
 * bound port when it has none) for that coordinator to dial.
 */
export function startServiceWorker(config: WorkerConfig, logger: Logger, bindHost = '0.0.0.0', tls?: GrpcTlsFiles): Promise<Worker> {
  const payloadTasks = payloadTaskTypes(config);
  const tasks = selectTasks(builtinTasks(config, payloadTasks), config.tasks);
  // A worker pool limited to some task types (WORKER_TASKS) runs those alone: command tasks stay with the
  // pools that list none.
  const runsCommands = config.tasks.length === 0;
  return startWorker({
    coordinator: config.coordinatorAddress,
    tls,
    tasks,
    slots: config.poolSize,
    queues: config.queues,
    name: config.name,
    workerId: config.id,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    drainTimeoutMs: config.drainTimeoutMs,
    defaultTimeoutSeconds: config.defaultTaskTimeoutSeconds,
    logger,
    metrics: registry,
    listen: { host: bindHost, port: config.port, address: config.address },
    // Command tasks (no name): `http` or `shell` with a payload run as that type; any other command is one of
    // the built-in names with its arguments, or simulated work.
    commandTask: runsCommands ? (command, ctx, payload) => {
      const payloadTask = payloadTasks.get(command.trim());
      return payloadTask ? payloadTask(payload, ctx) : executeCommand(command, executionOptions(config, ctx));
    } : undefined,
  });
}

/** The built-in types WORKER_TASKS names (all when it names none); a name that is no built-in type is refused. */
export function selectTasks<T extends { name: string }>(all: readonly T[], names: readonly string[]): T[] {
  if (names.length === 0) return [...all];
  const unknown = names.filter((name) => !all.some((task) => task.name === name));
  if (unknown.length > 0) {
    throw new ConfigError([`WORKER_TASKS names ${unknown.join(', ')}, which the shipped worker does not run (it runs ${all.map((task) => task.name).join(', ')})`]);
  }
  return all.filter((task) => names.includes(task.name));
}

type PayloadTask = (payload: unknown, ctx: TaskContext) => Promise<unknown>;

/** The built-in types that take a JSON payload (docs/builtin-tasks.md), by name. */
function payloadTaskTypes(config: WorkerConfig): ReadonlyMap<string, PayloadTask> {
  return new Map<string, PayloadTask>([
    ['http', createHttpTask(config.http)],
    ['shell', createShellTask(config.shell)],
  ]);
}

/**
 * noop, sleep, fail and demo-job as named task types, doing what the commands of the same names do, and the
 * payload types (http, shell).
 */
function builtinTasks(config: WorkerConfig, payloadTasks = payloadTaskTypes(config)) {
  return [
    defineTask({ name: 'noop', run: () => executeCommand('noop', executionOptions(config)) }),
    defineTask({
      name: 'sleep',
      schema: payloadSchema('seconds must be a number ≥ 0', (value): value is { seconds: number } =>
        isObject(value) && typeof value.seconds === 'number' && value.seconds >= 0),
      run: ({ seconds }, ctx) => executeCommand(`sleep ${seconds}`, executionOptions(config, ctx)),
    }),
    defineTask({
      name: 'fail',
      schema: payloadSchema('message must be a string, if given', (value): value is { message?: string } | undefined =>
        value === undefined || (isObject(value) && (value.message === undefined || typeof value.message === 'string'))),
      run: (payload, ctx) => executeCommand(`fail ${payload?.message ?? ''}`, executionOptions(config, ctx)),
    }),
    defineTask({ name: 'demo-job', run: (_payload: unknown, ctx) => executeCommand('demo-job', executionOptions(config, ctx)) }),
    ...[...payloadTasks].map(([name, run]) => defineTask({ name, run })),
  ];
}

/**
 * A Standard Schema from a type guard: the built-in types check their two small payloads without loading a
 * schema library into every worker (docs/performance.md).
 */
function payloadSchema<P>(problem: string, accepts: (value: unknown) => value is P): StandardSchemaV1<P> {
  return {
    '~standard': {
      version: 1,
      vendor: 'taskmaster',
      validate: (value) => (accepts(value) ? { value } : { issues: [{ message: problem }] }),
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The signal is read only when the work waits on it: creating one per no-op task costs CPU (--cpu-prof). A
 * class, not an object literal with a getter, which V8 builds slowly for every task.
 */
class CommandExecution implements ExecutionOptions {
  constructor(
    readonly processTimeMs: number,
    private readonly ctx: TaskContext | undefined,
  ) {}

  get signal(): AbortSignal | undefined {
    return this.ctx?.signal;
  }
}

function executionOptions(config: WorkerConfig, ctx?: TaskContext): ExecutionOptions {
  return new CommandExecution(config.taskProcessTimeMs, ctx);
}
