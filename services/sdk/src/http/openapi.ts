import { z } from 'zod';
import * as s from './schemas';

/**
 * The OpenAPI 3.1 document of the scheduler's HTTP API, built from the schemas the scheduler validates with
 * (schemas.ts), so the document cannot say something the server does not do. OpenAPI 3.1 takes JSON Schema
 * 2020-12 as it is, which is what z.toJSONSchema writes.
 */

type JsonObject = Record<string, unknown>;

const REF = '#/components/schemas/';

/** Component name → schema; requests are described as clients send them, responses as the server sends them. */
const REQUESTS = {
  ScheduleRequest: s.ScheduleRequest,
  BatchScheduleRequest: s.BatchScheduleRequest,
  TaskRequest: s.TaskRequest,
  TaskBatchRequest: s.TaskBatchRequest,
  CancelRequest: s.CancelRequest,
  BulkRequest: s.BulkRequest,
  CronScheduleRequest: s.CronScheduleRequest,
  QueueControlsRequest: s.QueueControlsRequest,
  ConcurrencyLimitRequest: s.ConcurrencyLimitRequest,
  ScaleRequest: s.ScaleRequest,
  KillRequest: s.KillRequest,
};
const RESPONSES = {
  JsonValue: s.JsonValue,
  ErrorBody: s.ErrorBody,
  ScheduleResponse: s.ScheduleResponse,
  BatchScheduleResponse: s.BatchScheduleResponse,
  TaskView: s.TaskView,
  CronScheduleView: s.CronScheduleView,
  CronScheduleList: s.CronScheduleList,
  QueueView: s.QueueView,
  QueueList: s.QueueList,
  ConcurrencyLimitView: s.ConcurrencyLimitView,
  ConcurrencyLimitList: s.ConcurrencyLimitList,
  BulkResponse: s.BulkResponse,
  TaskBatchResponse: s.TaskBatchResponse,
  TaskPage: s.TaskPage,
  EventView: s.EventView,
  TaskEvents: s.TaskEvents,
  EventList: s.EventList,
  StatsView: s.StatsView,
  WorkerView: s.WorkerView,
  WorkersResponse: s.WorkersResponse,
  ScaleResponse: s.ScaleResponse,
  KillResponse: s.KillResponse,
};

/** The schemas of one registry as components that refer to each other by #/components/schemas/Name. */
function components(schemas: Record<string, z.ZodType>, io: 'input' | 'output', shared: Record<string, z.ZodType> = {}): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...shared, ...schemas })) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => REF + id,
    unrepresentable: 'any',
    // A request's payload is checked as JSON by the body parser (schemas.ts, Payload); it is a JsonValue.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === (s.Payload as unknown)) {
        for (const key of Object.keys(jsonSchema)) delete (jsonSchema as JsonObject)[key];
        (jsonSchema as JsonObject).$ref = REF + 'JsonValue';
      }
    },
  }) as { schemas: Record<string, JsonObject> };
  // Each component is a subschema of the document, not a resource of its own: no $schema or $id.
  for (const schema of Object.values(out)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return out;
}

const json = (name: string) => ({ 'application/json': { schema: { $ref: REF + name } } });
const response = (description: string, name: string) => ({ description, content: json(name) });
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [String(status), response(ERROR_TEXT[status] ?? 'Error', 'ErrorBody')]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Bad input: error.field names the field (a path such as tasks[3].name)',
  401: 'API_TOKEN is set and the request lacks "Authorization: Bearer <token>"',
  404: 'No such task',
  409: 'The task is not in a state that allows this',
  413: 'The request body is larger than the scheduler accepts',
  503: 'A dependency cannot be reached',
};
const body = (name: string) => ({ required: true, content: json(name) });
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' }, description: 'The task id.' };
const scheduleId = { ...idParameter, description: 'The schedule id.' };
const namePattern = { type: 'string', pattern: s.NAME_PATTERN.source };
const queueName = { name: 'name', in: 'path', required: true, schema: namePattern, description: 'A named queue (not default).' };
const taskName = { name: 'name', in: 'path', required: true, schema: namePattern, description: 'The task name.' };

function listParameters(): JsonObject[] {
  const query = z.toJSONSchema(s.ListTasksQuery, { target: 'draft-2020-12', io: 'input' }) as { properties: Record<string, JsonObject> };
  return Object.entries(query.properties).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return { name, in: 'query', required: false, schema: rest, ...(description ? { description } : {}) };
  });
}

export interface OpenApiOptions {
  /** The scheduler's PAYLOAD_MAX_BYTES, stated in the document. */
  payloadMaxBytes?: number;
}

/** The whole document; build it once and serve it as it is. */
export function buildOpenApiDocument(options: OpenApiOptions = {}): JsonObject {
  const payloadMax = options.payloadMaxBytes ?? s.DEFAULT_PAYLOAD_MAX_BYTES;
  const schedule = {
    post: {
      summary: 'Schedule a command task (the original contract: scheduled_at comes back as epoch seconds)',
      requestBody: body('ScheduleRequest'),
      responses: { 201: response('Created', 'ScheduleResponse'), 200: response('The task an existing idempotency_key names', 'ScheduleResponse'), ...errors(400, 401, 413) },
    },
  };
  const control = (summary: string, requestBody?: JsonObject) => ({
    post: {
      summary, parameters: [idParameter], ...(requestBody && { requestBody }),
      responses: { 200: response('The task after the change', 'TaskView'), ...errors(400, 401, 404, 409) },
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'TaskMaster scheduler API',
      version: '1',
      description: `Mutating routes need "Authorization: Bearer <API_TOKEN>" when the scheduler has API_TOKEN set. A payload may take at most ${payloadMax} bytes as compact JSON.`,
    },
    paths: {
      '/schedule': schedule,
      '/api/schedule': schedule,
      '/api/schedule/batch': {
        post: {
          summary: 'Schedule count copies of a command task',
          requestBody: body('BatchScheduleRequest'),
          responses: { 201: response('Created', 'BatchScheduleResponse'), ...errors(400, 401, 413) },
        },
      },
      '/api/tasks': {
        get: {
          summary: 'List tasks, newest first, keyset-paginated',
          parameters: listParameters(),
          responses: { 200: response('A page of tasks', 'TaskPage'), ...errors(400) },
        },
        post: {
          summary: 'Enqueue a named task',
          requestBody: body('TaskRequest'),
          responses: { 201: response('Created', 'TaskView'), 200: response('The task an existing idempotency_key names', 'TaskView'), ...errors(400, 401, 413) },
        },
      },
      '/api/tasks/batch': {
        post: {
          summary: `Enqueue 1 to ${s.MAX_BATCH} named tasks: all are valid and written in one statement, or none is`,
          requestBody: body('TaskBatchRequest'),
          responses: { 201: response('Created (or found by idempotency_key), in request order', 'TaskBatchResponse'), ...errors(400, 401, 413) },
        },
      },
      '/api/tasks/bulk': {
        post: {
          summary: `Cancel, retry or delete the tasks a filter matches, up to limit (${s.MAX_BULK} at most) per request; repeat while more is true`,
          requestBody: body('BulkRequest'),
          responses: { 200: response('How many changed', 'BulkResponse'), ...errors(400, 401) },
        },
      },
      '/api/tasks/{id}': {
        get: { summary: 'One task, with its payload and result', parameters: [idParameter], responses: { 200: response('The task', 'TaskView'), ...errors(400, 404) } },
      },
      '/api/tasks/{id}/events': {
        get: { summary: 'One task and its events, oldest first', parameters: [idParameter], responses: { 200: response('The task and its events', 'TaskEvents'), ...errors(400, 404) } },
      },
      '/api/tasks/{id}/cancel': control(
        'Cancel a task that has not finished; a running attempt is stopped on its worker (409 once finished)',
        { required: false, content: json('CancelRequest') },
      ),
      '/api/tasks/{id}/retry': control('Run a failed or cancelled task again'),
      '/api/status': {
        get: {
          summary: 'One task (the original GET /status)',
          parameters: [{ ...idParameter, name: 'task_id', in: 'query' }],
          responses: { 200: response('The task', 'TaskView'), ...errors(400, 404) },
        },
      },
      '/api/schedules': {
        get: { summary: 'Every recurring schedule', responses: { 200: response('Schedules', 'CronScheduleList') } },
        post: {
          summary: 'Create a recurring schedule; with a key that exists, update it in place',
          requestBody: body('CronScheduleRequest'),
          responses: { 201: response('Created', 'CronScheduleView'), 200: response('Updated (its key existed)', 'CronScheduleView'), ...errors(400, 401, 413) },
        },
      },
      '/api/schedules/{id}': {
        get: { summary: 'One schedule, with its next five occurrences', parameters: [scheduleId], responses: { 200: response('The schedule', 'CronScheduleView'), ...errors(400, 404) } },
        delete: { summary: 'Delete a schedule (the tasks it made stay)', parameters: [scheduleId], responses: { 204: { description: 'Deleted' }, ...errors(400, 401, 404) } },
      },
      '/api/schedules/{id}/pause': {
        post: { summary: 'Pause a schedule', parameters: [scheduleId], responses: { 200: response('The schedule', 'CronScheduleView'), ...errors(400, 401, 404) } },
      },
      '/api/schedules/{id}/resume': {
        post: { summary: 'Resume a schedule from its next occurrence (those in the pause are not caught up)', parameters: [scheduleId], responses: { 200: response('The schedule', 'CronScheduleView'), ...errors(400, 401, 404) } },
      },
      '/api/queues': {
        get: { summary: 'The queues with controls (pause, limits) and what they run and hold', responses: { 200: response('Queues', 'QueueList') } },
      },
      '/api/queues/{name}': {
        get: { summary: 'One controlled queue', parameters: [queueName], responses: { 200: response('The queue', 'QueueView'), ...errors(400, 404) } },
        put: {
          summary: 'Set a queue\'s controls (the first control gates its backlog once); fields left out stay as they are',
          parameters: [queueName],
          requestBody: body('QueueControlsRequest'),
          responses: { 200: response('The queue', 'QueueView'), ...errors(400, 401) },
        },
        delete: { summary: 'Remove every control of a queue', parameters: [queueName], responses: { 204: { description: 'Removed' }, ...errors(400, 401, 404) } },
      },
      '/api/queues/{name}/pause': {
        post: { summary: 'Pause a queue: none of its tasks starts until it is resumed', parameters: [queueName], responses: { 200: response('The queue', 'QueueView'), ...errors(400, 401) } },
      },
      '/api/queues/{name}/resume': {
        post: { summary: 'Resume a queue', parameters: [queueName], responses: { 200: response('The queue', 'QueueView'), ...errors(400, 401, 404) } },
      },
      '/api/concurrency-limits': {
        get: { summary: 'Every task type\'s concurrency limit per key', responses: { 200: response('Limits', 'ConcurrencyLimitList') } },
      },
      '/api/concurrency-limits/{name}': {
        get: { summary: 'One task type\'s limit', parameters: [taskName], responses: { 200: response('The limit', 'ConcurrencyLimitView'), ...errors(400, 404) } },
        put: {
          summary: 'Limit a task type\'s tasks in flight per key (a payload field); its unfinished tasks are keyed at once',
          parameters: [taskName],
          requestBody: body('ConcurrencyLimitRequest'),
          responses: { 201: response('Created', 'ConcurrencyLimitView'), 200: response('Changed', 'ConcurrencyLimitView'), ...errors(400, 401) },
        },
        delete: { summary: 'Remove a task type\'s limit', parameters: [taskName], responses: { 204: { description: 'Removed' }, ...errors(400, 401, 404) } },
      },
      '/api/stats': { get: { summary: 'Task counts and worker slots', responses: { 200: response('Counts', 'StatsView') } } },
      '/api/workers': { get: { summary: 'Workers, as the coordinator and the scaler see them', responses: { 200: response('Workers', 'WorkersResponse') } } },
      '/api/workers/scale': {
        // 409: the pool's replicas are owned by KEDA (docs/kubernetes.md, "Who owns replicas").
        post: { summary: 'Set the number of workers of a pool (the default pool without `pool`)', requestBody: body('ScaleRequest'), responses: { 200: response('Requested', 'ScaleResponse'), ...errors(400, 401, 404, 409, 503) } },
      },
      '/api/workers/kill': {
        post: { summary: 'Kill one worker (chaos testing)', requestBody: body('KillRequest'), responses: { 200: response('Killed', 'KillResponse'), ...errors(400, 401, 404, 503) } },
      },
      '/api/logs': {
        get: {
          summary: 'The newest 250 events, or up to 250 after ?after=, oldest first',
          parameters: [{ name: 'after', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d+$' }, description: 'An event id.' }],
          responses: { 200: response('Events', 'EventList'), ...errors(400) },
        },
      },
      '/api/logs/stream': {
        get: {
          summary: 'Events as Server-Sent Events: each "data:" line is an EventView; Last-Event-ID resumes',
          responses: { 200: { description: 'An endless text/event-stream', content: { 'text/event-stream': { schema: { $ref: REF + 'EventView' } } } } },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
    },
    components: {
      schemas: { ...components(RESPONSES, 'output'), ...components(REQUESTS, 'input', { JsonValue: s.JsonValue }) },
    },
  };
}
