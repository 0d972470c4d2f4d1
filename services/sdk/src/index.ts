/**
 * @taskmaster/sdk: define task types, run workers that dial out to the coordinator, enqueue and await tasks.
 * Only what is exported here is public; everything else may change.
 */
export { defineTask, TASK_NAME_PATTERN, type TaskConcurrency, type TaskContext, type TaskDefinition, type TaskSchedule } from './define-task';
export type { Logger } from './logger';
export type { StandardSchemaV1 } from './standard-schema';
export { startWorker, type Worker } from './worker/start-worker';
export { NonRetryableError } from './worker/runner';
export type { StartWorkerOptions } from './worker/options';
export type { TlsFiles } from './grpc/tls';

// The producer side.
export {
  TaskMasterClient, type EnqueueOptions, type ListFilters, type Task, type TaskMasterClientOptions, type TaskRef, type WaitOptions,
} from './client';
export { TaskMasterApiError, TaskPayloadError, TaskWaitTimeoutError } from './http/errors';
export type {
  ConcurrencyLimitRequest, ConcurrencyLimitView, CronScheduleRequest, CronScheduleView, JsonValue, QueueControlsRequest, QueueView, RetryPolicy, TaskStatus, TaskView,
} from './http/schemas';
