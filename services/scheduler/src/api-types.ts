/**
 * The scheduler's HTTP API, as types. They are inferred from the schemas the routes validate with and the
 * OpenAPI document is built from (sdk/src/http/schemas.ts); the routes build these shapes and the dashboard
 * imports this file, so none of them can drift apart. Times are ISO-8601 strings unless the name says otherwise.
 */
export type {
  AttemptView,
  BatchScheduleRequest,
  BatchScheduleResponse,
  BulkRequest,
  BulkResponse,
  CronScheduleList,
  CronScheduleRequest,
  CronScheduleView,
  ErrorBody,
  EventList,
  EventView,
  JsonValue,
  KillRequest,
  KillResponse,
  ScaleRequest,
  ScaleResponse,
  ScheduleRequest,
  ScheduleResponse,
  StatsView,
  TaskBatchRequest,
  TaskBatchResponse,
  TaskEvents,
  TaskPage,
  TaskRequest,
  TaskStatus,
  TaskView,
  WorkerView,
  WorkersResponse,
} from '../../sdk/src/http/schemas';
