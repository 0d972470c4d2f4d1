import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerConfig } from '../../common/src/config';
import type { Logger } from '../../common/src/logger';
import {
  createCoordinatorClient, grpcApi, type TaskBatchRequest, type TaskBatchResponse, type TaskRequest, type TaskResponse,
} from '../../common/src/grpc/contract';
import { startGrpcServer, unary, type GrpcServer } from '../../common/src/grpc/server';
import { executeCommand, TaskFailure } from './executor';
import { Heartbeat } from './heartbeat';
import { StatusReporter } from './reporter';

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
  /** Tasks running now. */
  readonly busy: number;
  /** SIGTERM path: take no more work, finish what is held within the drain timeout, hand back the rest. */
  drain(): Promise<void>;
}

/**
 * A worker: a gRPC WorkerService with a pool of `poolSize` slots. Each accepted task reports STARTED, runs,
 * and reports COMPLETE or FAILED with the attempt it was sent with. A task is accepted only into a free slot;
 * the rest of a batch is refused (success=false) and the coordinator hands it to another worker.
 */
export async function startWorker(deps: WorkerDeps): Promise<Worker> {
  const { config, logger } = deps;
  const running = new Map<string, AbortController>();
  let draining = false;

  const coordinator = createCoordinatorClient(config.coordinatorAddress);
  const reporter = new StatusReporter(coordinator, logger);

  const run = async (task: TaskRequest): Promise<void> => {
    const controller = new AbortController();
    running.set(task.task_id, controller);
    const fields = { task_id: task.task_id, attempt: task.attempt, worker_id: config.id };
    const startedAt = Date.now();
    deps.onStarted?.(task, startedAt);
    reporter.report({ task_id: task.task_id, status: 'STARTED', started_at: Math.floor(startedAt / 1000), at_ms: startedAt, worker_id: config.id, attempt: task.attempt });
    logger.debug({ ...fields, command: task.data }, 'task started');
    try {
      const result = await executeCommand(task.data, { processTimeMs: config.taskProcessTimeMs, signal: controller.signal });
      const at = Date.now();
      reporter.report({ task_id: task.task_id, status: 'COMPLETE', completed_at: Math.floor(at / 1000), at_ms: at, worker_id: config.id, attempt: task.attempt, result });
      deps.onFinished?.(task, 'succeeded', at - startedAt);
      logger.debug(fields, 'task completed');
    } catch (err) {
      if (controller.signal.aborted) return;
      const at = Date.now();
      const error = err instanceof TaskFailure ? err.message : `unexpected error: ${(err as Error).message}`;
      reporter.report({ task_id: task.task_id, status: 'FAILED', failed_at: Math.floor(at / 1000), at_ms: at, worker_id: config.id, attempt: task.attempt, error });
      deps.onFinished?.(task, 'failed', at - startedAt);
      logger.info({ ...fields, error }, 'task failed');
    } finally {
      running.delete(task.task_id);
    }
  };

  const accept = (task: TaskRequest): TaskResponse => {
    if (draining) return { task_id: task.task_id, success: false, message: 'worker is draining' };
    if (running.has(task.task_id)) return { task_id: task.task_id, success: true, message: 'already running' };
    if (running.size >= config.poolSize) return { task_id: task.task_id, success: false, message: 'no free slot' };
    void run(task);
    return { task_id: task.task_id, success: true, message: 'accepted' };
  };

  const server: GrpcServer = await startGrpcServer({
    host: deps.host,
    port: config.port,
    service: grpcApi().WorkerService.service,
    serviceName: 'grpcapi.WorkerService',
    implementation: {
      SubmitTask: unary(logger, 'SubmitTask', async (request: TaskRequest) => accept(request)),
      SubmitTasks: unary(logger, 'SubmitTasks', async (request: TaskBatchRequest): Promise<TaskBatchResponse> => ({
        results: request.tasks.map(accept),
      })),
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
        for (const controller of running.values()) controller.abort();
      }
      await reporter.flush(5000);
      heartbeat.stop();
      await heartbeat.beat({ draining: true, leaving: true });
      await server.shutdown(1000);
      coordinator.close();
    },
  };
}
