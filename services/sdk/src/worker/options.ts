import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { TaskContext, TaskDefinition } from '../define-task';
import { stderrLogger, type Logger } from '../logger';
import { MAX_TIMEOUT_SECONDS, isTimeoutSeconds } from '../task-fields';
import type { ConcurrencyDeclaration } from '../generated/grpcapi/ConcurrencyDeclaration';
import type { ScheduleDeclaration } from '../generated/grpcapi/ScheduleDeclaration';
import { checkTlsFiles, type TlsFiles } from '../grpc/tls';

/** A task definition of any payload and result: `run` takes its payload contravariantly, so `unknown` would not do. */
export type AnyTaskDefinition = TaskDefinition<any, any>;

export interface StartWorkerOptions {
  /**
   * The coordinator's gRPC address, `host:port`. The worker dials it and opens no port of its own, unless the
   * coordinator is an original-contract one (it answers Connect with UNIMPLEMENTED): see `listen`.
   */
  coordinator: string;
  /**
   * Mutual TLS with the coordinator: PEM files of the CA, and of this worker's certificate (its subject's OU
   * must be `worker`) and key, re-read as they change. @defaultValue plaintext
   */
  tls?: TlsFiles;
  /** The task types this worker runs; it is sent only tasks with these names. */
  tasks: ReadonlyArray<AnyTaskDefinition>;
  /** How many attempts run (or wait to be due) at once. @defaultValue 10 */
  slots?: number;
  /**
   * The queues this worker takes tasks from, as a worker pool of the Helm chart does (`WORKER_QUEUES`); tasks
   * of other queues go to other workers. @defaultValue every queue
   */
  queues?: readonly string[];
  /** Shown in the dashboard and logs. @defaultValue `<hostname>-<pid>` */
  name?: string;
  /** This worker's id for its whole life, 1 to 2^32-1. @defaultValue random */
  workerId?: number;
  /** How often the worker says what it holds. @defaultValue 5000 */
  heartbeatIntervalMs?: number;
  /** How long stop() waits for running attempts before aborting their ctx.signal. @defaultValue 25000 */
  drainTimeoutMs?: number;
  /**
   * Seconds an attempt may run when neither its task (`timeout_seconds`) nor its task type (`timeoutSeconds`)
   * sets a timeout, 1 to 604800. @defaultValue none: such attempts run as long as they take
   */
  defaultTimeoutSeconds?: number;
  /** pino or anything with its `(fields, message)` methods. @defaultValue warnings and errors on stderr */
  logger?: Logger;
  /** The prom-client registry the worker's metrics go to. @defaultValue a private registry */
  metrics?: Registry;
  /**
   * Runs command tasks (tasks without a name; `command` is their `data`). Without it the worker declares
   * that it runs none, and is sent none. The shipped worker service sets it.
   */
  commandTask?: (command: string, ctx: TaskContext, payload: unknown) => Promise<unknown> | unknown;
  /**
   * Used only with a coordinator that does not serve Connect (an original-contract coordinator, which dials
   * its workers): the worker then listens here for WorkerService calls and advertises `address` in its
   * heartbeats. With a coordinator that serves Connect no socket is opened.
   */
  listen?: Partial<ListenOptions>;
}

export interface ListenOptions {
  /** The interface to listen on. @defaultValue "0.0.0.0" */
  host: string;
  /** The port; 0 is any free port. @defaultValue 0 */
  port: number;
  /** What the coordinator dials: `host` or `host:port`; without a port the bound port is added. @defaultValue the hostname */
  address: string;
}

export interface ResolvedOptions {
  coordinator: string;
  tls: TlsFiles | undefined;
  definitions: ReadonlyMap<string, AnyTaskDefinition>;
  slots: number;
  /** Empty: every queue. */
  queues: string[];
  name: string;
  workerId: number;
  heartbeatIntervalMs: number;
  drainTimeoutMs: number;
  /** 0: none. */
  defaultTimeoutMs: number;
  /** What the definitions' `cron` declare, as heartbeats carry it. */
  schedules: ScheduleDeclaration[];
  /** What the definitions' `concurrency` declare, as heartbeats carry it. */
  concurrencyLimits: ConcurrencyDeclaration[];
  logger: Logger;
  metrics: Registry;
  commandTask: StartWorkerOptions['commandTask'];
  listen: ListenOptions;
}

/** Fills in the defaults and throws a TypeError naming the first bad option. */
export function resolveOptions(options: StartWorkerOptions): ResolvedOptions {
  if (typeof options.coordinator !== 'string' || options.coordinator === '') throw new TypeError('startWorker: `coordinator` must be "host:port"');
  const definitions = new Map<string, AnyTaskDefinition>();
  for (const task of options.tasks ?? []) {
    if (definitions.has(task.name)) throw new TypeError(`startWorker: two task definitions are named "${task.name}"`);
    definitions.set(task.name, task);
  }
  const slots = options.slots ?? 10;
  if (!Number.isInteger(slots) || slots < 1 || slots > 100_000) throw new TypeError('startWorker: `slots` must be an integer from 1 to 100000');
  const workerId = options.workerId ?? randomInt(1, 2 ** 32);
  if (!Number.isInteger(workerId) || workerId < 1 || workerId > 0xffffffff) throw new TypeError('startWorker: `workerId` must be an integer from 1 to 4294967295');
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5000;
  if (!(heartbeatIntervalMs >= 10)) throw new TypeError('startWorker: `heartbeatIntervalMs` must be at least 10');
  const drainTimeoutMs = options.drainTimeoutMs ?? 25_000;
  if (!(drainTimeoutMs >= 0)) throw new TypeError('startWorker: `drainTimeoutMs` must be 0 or more');
  if (options.defaultTimeoutSeconds !== undefined && !isTimeoutSeconds(options.defaultTimeoutSeconds)) {
    throw new TypeError(`startWorker: \`defaultTimeoutSeconds\` must be a whole number from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  const listen = { host: options.listen?.host ?? '0.0.0.0', port: options.listen?.port ?? 0, address: options.listen?.address ?? hostname() };
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65535) throw new TypeError('startWorker: `listen.port` must be an integer from 0 to 65535');
  if (typeof listen.host !== 'string' || listen.host === '' || typeof listen.address !== 'string' || listen.address === '') {
    throw new TypeError('startWorker: `listen.host` and `listen.address` must be non-empty strings');
  }
  if (definitions.size === 0 && !options.commandTask) throw new TypeError('startWorker: give at least one task definition in `tasks`');
  if (options.tls) checkTlsFiles(options.tls, 'startWorker');
  const queues = [...(options.queues ?? [])];
  const badQueue = queues.find((queue) => typeof queue !== 'string' || !/^[a-z0-9][a-z0-9._:-]{0,127}$/.test(queue));
  if (badQueue !== undefined) throw new TypeError(`startWorker: \`queues\` entry "${String(badQueue)}" is not a queue name (lower-case letters, digits, ".", "_", ":", "-")`);
  return {
    coordinator: options.coordinator,
    tls: options.tls,
    definitions,
    slots,
    queues,
    name: options.name ?? `${hostname()}-${process.pid}`,
    workerId,
    heartbeatIntervalMs,
    drainTimeoutMs,
    defaultTimeoutMs: (options.defaultTimeoutSeconds ?? 0) * 1000,
    schedules: [...definitions.values()].flatMap((definition) => (definition.cron === undefined ? [] : [declaration(definition)])),
    concurrencyLimits: [...definitions.values()].flatMap(({ name, concurrency }) => (
      concurrency === undefined ? [] : [{ name, key: concurrency.key, max_running: concurrency.limit }])),
    logger: options.logger ?? stderrLogger,
    metrics: options.metrics ?? new Registry(),
    commandTask: options.commandTask,
    listen,
  };
}

/** A definition's `cron` as the heartbeat declares it (defineTask checked it). */
function declaration(definition: AnyTaskDefinition): ScheduleDeclaration {
  const schedule = typeof definition.cron === 'string' ? { cron: definition.cron } : definition.cron!;
  return {
    name: definition.name,
    cron: schedule.cron,
    timezone: schedule.timezone ?? '',
    payload: schedule.payload === undefined ? '' : JSON.stringify(schedule.payload),
    queue: schedule.queue ?? definition.queue ?? '',
    overlap: schedule.overlap ?? '',
    catch_up: schedule.catchUp ?? '',
  };
}
