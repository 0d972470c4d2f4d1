import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerConfig } from '../../common/src/config';
import type { Logger } from '../../common/src/logger';
import {
  createCoordinatorClient, grpcApi, type TaskBatchRequest, type TaskBatchResponse, type TaskRequest, type TaskResponse,
} from '../../common/src/grpc/contract';
import { requestStream, startGrpcServer, unary, type GrpcServer } from '../../common/src/grpc/server';
import { executeCommand, TaskFailure } from './executor';
import { Heartbeat } from './heartbeat';
import { StatusReporter } from './reporter';

/**
 * Held tasks start on a grid of this many ms, each at the first grid point at or after its own due time, so
 * tasks due at one instant (their due times, each measured from when its call arrived, differ by a few ms)
 * start together in one loop. Started a millisecond apart, later groups waited for the earlier ones to run
 * and report and fired 20-35 ms late on a busy machine; 2, 3 and 5 ms grids measured alike
 * (docs/performance.md).
 */
const HOLD_GRID_MS = 3;

export interface WorkerDeps {
  config: WorkerConfig;
  logger: Logger;
  host: string;
  /** Observes each finished task (metrics). */
  onFinished?: (task: TaskRequest, outcome: 'succeeded' | 'failed', runMs: number) => void;
  onStarted?: (task: TaskRequest, startedAtMs: number) => void;
}

export interface Worker {
  readonly port: number;
  readonly address: string;
  /** Tasks held (sent ahead, not yet due) or running now. */
  readonly busy: number;
  /** SIGTERM path: take no more work, finish what is held within the drain timeout, hand back the rest. */
  drain(): Promise<void>;
}

/**
 * A worker: a gRPC WorkerService with a pool of `poolSize` slots. Each accepted task reports STARTED, runs,
 * and reports COMPLETE or FAILED with the attempt it was sent with. A task is accepted only into a free slot;
 * the rest of a batch is refused (success=false) and the coordinator hands it to another worker. A task sent
 * before it is due (start_after_ms) takes its slot at once and starts when that time has passed.
 */
export async function startWorker(deps: WorkerDeps): Promise<Worker> {
  const { config, logger } = deps;
  /** Tasks held or running, by id. */
  const running = new Set<string>();
  /**
   * Aborted when a drain times out: every task still held or running stops and reports nothing. One
   * controller for all tasks: one per task cost 3 % of a worker's CPU with no-op tasks (--cpu-prof).
   */
  const drainAbort = new AbortController();
  const debug = logger.isLevelEnabled('debug');
  let draining = false;

  const coordinator = createCoordinatorClient(config.coordinatorAddress);
  const reporter = new StatusReporter(coordinator, logger);

  const fieldsOf = (task: TaskRequest) => ({ task_id: task.task_id, attempt: task.attempt, worker_id: config.id });

  const run = async (task: TaskRequest): Promise<void> => {
    const startedAt = Date.now();
    deps.onStarted?.(task, startedAt);
    reporter.report({ task_id: task.task_id, status: 'STARTED', started_at: Math.floor(startedAt / 1000), at_ms: startedAt, worker_id: config.id, attempt: task.attempt });
    if (debug) logger.debug({ ...fieldsOf(task), command: task.data }, 'task started');
    try {
      const result = await executeCommand(task.data, { processTimeMs: config.taskProcessTimeMs, signal: drainAbort.signal });
      const at = Date.now();
      reporter.report({ task_id: task.task_id, status: 'COMPLETE', completed_at: Math.floor(at / 1000), at_ms: at, worker_id: config.id, attempt: task.attempt, result });
      deps.onFinished?.(task, 'succeeded', at - startedAt);
      if (debug) logger.debug(fieldsOf(task), 'task completed');
    } catch (err) {
      if (drainAbort.signal.aborted) return;
      const at = Date.now();
      const error = err instanceof TaskFailure ? err.message : `unexpected error: ${(err as Error).message}`;
      reporter.report({ task_id: task.task_id, status: 'FAILED', failed_at: Math.floor(at / 1000), at_ms: at, worker_id: config.id, attempt: task.attempt, error });
      deps.onFinished?.(task, 'failed', at - startedAt);
      logger.info({ ...fieldsOf(task), error }, 'task failed');
    } finally {
      running.delete(task.task_id);
    }
  };

  /*
   * start_after_ms counts from now, on the monotonic clock: a bare setTimeout counts from the event loop's
   * cached time, which can be ms older than this moment, and would fire early. Tasks in the same grid cell
   * share one timer and start in one loop, before any of them reports (HOLD_GRID_MS). Held past a drain's
   * abort, a task is dropped without running; the coordinator hands it back when this worker leaves.
   */
  const held = new Map<number, TaskRequest[]>();
  const holdUntilDue = (task: TaskRequest): void => {
    const dueAt = Math.ceil((performance.now() + task.start_after_ms) / HOLD_GRID_MS) * HOLD_GRID_MS;
    const group = held.get(dueAt);
    if (group) {
      group.push(task);
      return;
    }
    held.set(dueAt, [task]);
    const wake = () => {
      const left = dueAt - performance.now();
      if (left > 0) {
        setTimeout(wake, Math.ceil(left));
        return;
      }
      const tasks = held.get(dueAt) ?? [];
      held.delete(dueAt);
      for (const due of tasks) {
        if (drainAbort.signal.aborted) running.delete(due.task_id);
        else void run(due);
      }
    };
    setTimeout(wake, task.start_after_ms);
  };

  const accept = (task: TaskRequest): TaskResponse => {
    if (draining) return { task_id: task.task_id, success: false, message: 'worker is draining' };
    if (running.has(task.task_id)) return { task_id: task.task_id, success: true, message: 'already running' };
    if (running.size >= config.poolSize) return { task_id: task.task_id, success: false, message: 'no free slot' };
    running.add(task.task_id);
    if (task.start_after_ms > 0) holdUntilDue(task);
    else void run(task);
    return { task_id: task.task_id, success: true, message: 'accepted' };
  };

  const acceptAll = async (request: TaskBatchRequest): Promise<TaskBatchResponse> => ({ results: request.tasks.map(accept) });
  const server: GrpcServer = await startGrpcServer({
    host: deps.host,
    port: config.port,
    service: grpcApi().WorkerService.service,
    serviceName: 'grpcapi.WorkerService',
    implementation: {
      SubmitTask: unary(logger, 'SubmitTask', async (request: TaskRequest) => accept(request)),
      SubmitTasks: unary(logger, 'SubmitTasks', acceptAll),
      StreamTasks: requestStream(logger, 'StreamTasks', acceptAll),
    },
  });

  const address = /:\d+$/.test(config.address) ? config.address : `${config.address}:${server.port}`;
  const heartbeat = new Heartbeat(
    coordinator,
    () => ({
      workerId: config.id,
      address,
      name: config.name,
      slots_total: config.poolSize,
      slots_free: Math.max(0, config.poolSize - running.size),
      draining,
      leaving: false,
      delayed_start: true,
      held: [],
      reports_held: false,
      handles: [],
      command_tasks: true,
    }),
    config.heartbeatIntervalMs,
    logger,
    config.coordinatorAddress,
  );
  heartbeat.start();
  logger.info({ worker_id: config.id, name: config.name, address, slots: config.poolSize }, 'worker listening');

  return {
    port: server.port,
    address,
    get busy() {
      return running.size;
    },
    async drain() {
      draining = true;
      await heartbeat.beat();
      const deadline = Date.now() + config.drainTimeoutMs;
      while (running.size > 0 && Date.now() < deadline) await sleep(20);
      if (running.size > 0) {
        logger.warn({ unfinished: running.size }, 'drain timeout: handing unfinished tasks back');
        drainAbort.abort();
      }
      await reporter.flush(5000);
      heartbeat.stop();
      await heartbeat.beat({ draining: true, leaving: true });
      await server.shutdown(1000);
      coordinator.close();
    },
  };
}
