import { z } from 'zod';
import { CATCH_UP, OVERLAP, cronProblem, timezoneProblem } from '../schedule-fields';
import { CONTROL_CHARACTERS, KEY_FIELD_PATTERN, MAX_COMMAND_LENGTH, MAX_LIMIT, MAX_TIMEOUT_SECONDS, NAME_PATTERN } from '../task-fields';

/**
 * The scheduler's HTTP API, declared once. The scheduler validates requests with these schemas, the types
 * below are inferred from them (the scheduler's api-types.ts and the SDK client use nothing else), and
 * openapi.ts turns the same schemas into the OpenAPI 3.1 document served at /api/openapi.json.
 * Messages of the field checks read after the field's name ("name must match ..."); validation.ts adds it.
 */

/** Task names and queues (migration 0006 checks them too), and commands: the rules every way in applies. */
export { MAX_COMMAND_LENGTH, MAX_TIMEOUT_SECONDS, NAME_PATTERN };

/** Most tasks one batch request may create. */
export const MAX_BATCH = 1000;
/** PAYLOAD_MAX_BYTES' default: the most bytes a payload may take as compact JSON. */
export const DEFAULT_PAYLOAD_MAX_BYTES = 256 * 1024;
const MAX_DELAY_SECONDS = 365 * 86400;

/** "is required: …" when the field is absent, "must be …" when it has the wrong type. */
const requiredOr = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `is required: ${expected}` : `must be ${expected}`;

const wholeNumber = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const name = (what: string) => z.string({ error: requiredOr(`a ${what} such as ${what === 'queue' ? 'emails' : 'send-email'}`) })
  .regex(NAME_PATTERN, { error: `must match ${NAME_PATTERN.source}: lower-case letters, digits, ".", "_", ":" and "-", at most 128` });

export const TaskName = name('task name');
export const QueueName = name('queue');

/** Any JSON value. */
export const JsonValue = z.json();
export type JsonValue = z.infer<typeof JsonValue>;

/**
 * A payload in a request: any JSON value, described as JsonValue in the OpenAPI document (openapi.ts). The
 * body parser has produced it from JSON already, so it is not walked again: z.json() checks every node, on
 * the event loop. Its size (PAYLOAD_MAX_BYTES) is checked by the scheduler.
 */
export const Payload = z.custom<JsonValue>((value) => value !== undefined, { error: 'must be a JSON value' });

/** A command task's command: printable text (PostgreSQL text cannot hold NUL), trimmed. */
export const Command = z.string({ error: requiredOr('a string') })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(MAX_COMMAND_LENGTH, { error: `must be at most ${MAX_COMMAND_LENGTH} characters` })
  .refine((value) => !CONTROL_CHARACTERS.test(value), { error: 'must not contain control characters' });

const ISO_8601 = /^\s*(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))?\s*$/i;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether an ISO-8601 text names a day of the calendar and a time of the clock: Date would roll 2026-02-30
 * over into March and 25:00 into the next day, so a date that does not exist would be taken as another.
 */
function isRealDateTime(text: string): boolean {
  const match = ISO_8601.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second = '0', , , offsetHours = '0', offsetMinutes = '0'] = match.slice(1);
  const y = Number(year);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = Number(month) === 2 && leap ? 29 : DAYS_IN_MONTH[Number(month) - 1];
  return days !== undefined && Number(day) >= 1 && Number(day) <= days && Number(hour) <= 23 && Number(minute) <= 59 && Number(second) <= 59
    && Number(offsetHours) <= 23 && Number(offsetMinutes) <= 59;
}

/**
 * An ISO-8601 date-time ("2026-01-27T12:30:00Z"); without an offset it is taken as UTC, whatever the
 * server's time zone.
 */
export function parseDateTime(text: string): Date {
  const trimmed = text.trim();
  return new Date(/(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed) ? trimmed : `${trimmed}Z`);
}

export const DateTimeInput = z.string({ error: requiredOr('an ISO-8601 date-time such as 2026-01-27T12:30:00Z') })
  .regex(ISO_8601, { error: 'must be an ISO-8601 date-time such as 2026-01-27T12:30:00Z' })
  .refine((text) => {
    if (!isRealDateTime(text)) return false;
    const date = parseDateTime(text);
    return !Number.isNaN(date.getTime()) && date.getUTCFullYear() <= 9999;
  }, { error: 'is not a valid date-time: no such day or time, or after the year 9999' });

const MaxAttempts = wholeNumber(1, 100);
const Priority = wholeNumber(-1000, 1000);
const keyError = 'must be a string of 1 to 255 characters without control characters';
export const IdempotencyKey = z.string({ error: keyError })
  .min(1, { error: keyError })
  .max(255, { error: keyError })
  .refine((value) => !CONTROL_CHARACTERS.test(value), { error: keyError });
const TimeoutSeconds = wholeNumber(1, MAX_TIMEOUT_SECONDS)
  .describe('Seconds an attempt may run before the worker aborts it and reports it failed (retried while attempts are left).');
/** Free text for people, without control characters (they would garble logs and the dashboard). */
const Reason = z.string({ error: 'must be a string of at most 500 characters' })
  .max(500, { error: 'must be a string of at most 500 characters' })
  .refine((value) => !CONTROL_CHARACTERS.test(value), { error: 'must not contain control characters' });
const retrySeconds = (what: string) => {
  const error = `must be a number of seconds from 0 to 86400 (${what})`;
  return z.number({ error }).min(0, { error }).max(86400, { error });
};
/** A task's retry policy: how long a failed attempt waits; what it leaves out is the coordinator's default. */
export const RetryPolicy = z.strictObject({
  backoff: z.enum(['exponential', 'fixed'], { error: 'must be exponential or fixed' }).optional()
    .describe('exponential (the default): delay_seconds × 2^(runs−1); fixed: delay_seconds every time.'),
  delay_seconds: retrySeconds('the first delay').optional().describe('Default RETRY_BACKOFF_BASE (1 s).'),
  max_delay_seconds: retrySeconds('the longest delay').optional().describe('Default RETRY_BACKOFF_MAX (60 s).'),
  jitter: z.boolean({ error: 'must be true or false' }).optional().describe('Multiply each delay by a random factor in [0.5, 1); default true.'),
}, { error: (issue) => (issue.code === 'unrecognized_keys' ? `has unknown keys (${issue.keys.join(', ')}); known: backoff, delay_seconds, max_delay_seconds, jitter` : 'must be a JSON object') });
const DelaySeconds = z.number({ error: `must be a number of seconds from 0 to ${MAX_DELAY_SECONDS}` })
  .min(0, { error: `must be a number of seconds from 0 to ${MAX_DELAY_SECONDS}` })
  .max(MAX_DELAY_SECONDS, { error: `must be a number of seconds from 0 to ${MAX_DELAY_SECONDS}` });

const objectError = { error: 'must be a JSON object' };
const StatusName = z.enum(['pending', 'dispatched', 'running', 'succeeded', 'failed', 'cancelled'], {
  error: 'must be pending, dispatched, running, succeeded, failed or cancelled',
});

// ---- Requests ----

/** POST /schedule and /api/schedule: the original contract, plus an optional payload and queue. */
export const ScheduleRequest = z.object({
  command: Command,
  scheduled_at: DateTimeInput,
  max_attempts: MaxAttempts.nullish(),
  priority: Priority.nullish(),
  idempotency_key: IdempotencyKey.nullish(),
  payload: Payload.optional(),
  queue: QueueName.nullish(),
  timeout_seconds: TimeoutSeconds.nullish(),
  retry: RetryPolicy.nullish(),
}, objectError);

/** POST /api/schedule/batch: count copies of one command task, due after delay_seconds. */
export const BatchScheduleRequest = z.object({
  command: Command.default('demo-job'),
  count: wholeNumber(1, MAX_BATCH).describe('How many tasks to create.'),
  delay_seconds: DelaySeconds.nullish(),
  max_attempts: MaxAttempts.nullish(),
  payload: Payload.optional(),
  queue: QueueName.nullish(),
  timeout_seconds: TimeoutSeconds.nullish(),
}, objectError);

/** POST /api/tasks: one named task. Due at scheduled_at, or delay_seconds from now, or now. */
export const TaskRequest = z.object({
  name: TaskName,
  payload: Payload.optional(),
  queue: QueueName.optional(),
  scheduled_at: DateTimeInput.optional(),
  delay_seconds: DelaySeconds.optional(),
  max_attempts: MaxAttempts.optional(),
  priority: Priority.optional(),
  idempotency_key: IdempotencyKey.optional(),
  timeout_seconds: TimeoutSeconds.optional(),
  retry: RetryPolicy.optional(),
}, objectError).refine((task) => task.scheduled_at === undefined || task.delay_seconds === undefined, {
  path: ['delay_seconds'],
  error: 'must not be given together with scheduled_at',
});

/** POST /api/tasks/batch: up to 1,000 named tasks, validated all together and written in one statement. */
export const TaskBatchRequest = z.object({
  tasks: z.array(TaskRequest, { error: requiredOr(`an array of 1 to ${MAX_BATCH} tasks`) })
    .min(1, { error: `must hold 1 to ${MAX_BATCH} tasks` })
    .max(MAX_BATCH, { error: `must hold 1 to ${MAX_BATCH} tasks` }),
}, objectError);

/** POST /api/tasks/:id/cancel: the body is optional. */
export const CancelRequest = z.object({
  reason: Reason.optional().describe('Why, for the task\'s timeline and its worker\'s log; default "cancelled".'),
}, objectError);

/** POST /api/schedules: a recurring schedule; with a key, created or updated in place. */
export const CronScheduleRequest = z.object({
  key: name('schedule key').optional().describe('Names the schedule for updates in place (declarations in code or Git); without one every POST makes a new schedule.'),
  name: TaskName.describe('The task name each occurrence creates.'),
  cron: z.string({ error: requiredOr('a cron pattern such as "0 9 * * 1-5"') })
    .superRefine((cron, ctx) => {
      const problem = cronProblem(cron);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).describe('5 fields (minute hour day month weekday) or 6 (seconds first).'),
  timezone: z.string({ error: 'must be an IANA time zone such as Europe/Paris' })
    .superRefine((zone, ctx) => {
      const problem = timezoneProblem(zone);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).optional().describe('IANA zone the pattern is read in; default UTC.'),
  payload: Payload.optional(),
  queue: QueueName.optional(),
  priority: Priority.optional(),
  max_attempts: MaxAttempts.optional(),
  timeout_seconds: TimeoutSeconds.optional(),
  overlap: z.enum(OVERLAP, { error: 'must be skip or allow' }).optional().describe('skip: no new task while the previous one has not finished; default allow.'),
  catch_up: z.enum(CATCH_UP, { error: 'must be none, last or all' }).optional()
    .describe('Occurrences missed while no coordinator ran (more than a minute late): none, the last (default) or all.'),
  paused: z.boolean({ error: 'must be true or false' }).optional(),
}, objectError);

const Limit = wholeNumber(1, MAX_LIMIT);

/** PUT /api/queues/:name: a named queue's controls; a field left out stays as it is, null removes a limit. */
export const QueueControlsRequest = z.object({
  paused: z.boolean({ error: 'must be true or false' }).optional().describe('A paused queue\'s tasks are not started; those running finish.'),
  max_running: Limit.nullable().optional().describe('Most of its tasks in flight (dispatched or running) at once; null removes the limit.'),
  max_per_second: Limit.nullable().optional()
    .describe('Most of its tasks started a second, as a token bucket holding a second\'s worth (so bursts of up to this many); null removes it.'),
}, objectError);

/** PUT /api/concurrency-limits/:name: how many tasks of one key of a task type may be in flight at once. */
export const ConcurrencyLimitRequest = z.object({
  key: z.string({ error: requiredOr('a payload field such as customer_id or customer.id') })
    .regex(KEY_FIELD_PATTERN, { error: 'must be a payload field or a dot path to one, such as customer.id: letters, digits, "_" and "-", up to 8 parts of 64' })
    .describe('The payload field (a dot path into objects) whose value is the key; a task without it is not limited.'),
  max_running: Limit.describe('Most tasks of one key in flight at once; 1 runs each key\'s tasks one at a time, first due first.'),
}, objectError);

/** Most tasks one bulk request acts on; a larger match takes more requests (the answer says `more`). */
export const MAX_BULK = 10_000;

/** POST /api/tasks/bulk: an action on the tasks a filter matches, a chunk at a time. */
export const BulkRequest = z.object({
  action: z.enum(['cancel', 'retry', 'delete'], { error: requiredOr('cancel, retry or delete') }),
  filter: z.object({
    status: z.array(StatusName, { error: 'must be an array of statuses' }).min(1, { error: 'must name at least one status' }).optional()
      .describe('Only tasks in these states; each action also keeps to the states it applies to.'),
    name: TaskName.optional(),
    queue: QueueName.optional(),
    created_after: DateTimeInput.optional(),
    created_before: DateTimeInput.optional(),
    error: z.string({ error: 'must be a string of 1 to 200 characters' }).min(1, { error: 'must be a string of 1 to 200 characters' })
      .max(200, { error: 'must be a string of 1 to 200 characters' }).optional().describe('Text the last error (or cancel reason) contains, any case.'),
    ids: z.array(z.uuid({ error: 'must hold task ids (UUIDs)' }), { error: 'must be an array of task ids' }).min(1).max(MAX_BULK, { error: `must hold at most ${MAX_BULK} ids` }).optional(),
  }, objectError).refine((filter) => Object.values(filter).some((value) => value !== undefined), {
    error: 'must name at least one condition (status, name, queue, created_after, created_before, error or ids)',
  }),
  limit: wholeNumber(1, MAX_BULK).optional().describe(`Most tasks acted on by this request; default 1,000, at most ${MAX_BULK}.`),
  reason: Reason.optional().describe('For cancel: why, kept on each task.'),
  dry_run: z.boolean({ error: 'must be true or false' }).optional().describe('Change nothing; answer how many tasks the action would apply to (matched).'),
}, objectError);

export const BulkResponse = z.object({
  action: z.enum(['cancel', 'retry', 'delete']),
  /** Tasks the action changed (or deleted) in this request. */
  affected: z.number().int(),
  /** The limit was reached: more tasks may match; send the request again. */
  more: z.boolean(),
  /** With dry_run: the tasks the filter matches that the action applies to. */
  matched: z.number().int().optional(),
});

/** A worker pool's name (the chart's workerPools key, or "default"). */
export const PoolName = z.string({ error: 'must be a worker pool name such as default or reports' })
  .regex(/^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$/, { error: 'must be a worker pool name: lower-case letters, digits and "-", at most 30' });

/** POST /api/workers/scale: the pool's replicas; without `pool`, the default pool's. */
export const ScaleRequest = z.object({ count: wholeNumber(1, 50), pool: PoolName.optional() }, objectError);

/** POST /api/workers/kill: a container, pod or process name, nothing a shell could misread. */
export const KillRequest = z.object({
  name: z.string({ error: 'is required' }).min(1, { error: 'is required' }).regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/, {
    error: 'must be a worker name: letters, digits, ".", "_" and "-", starting with a letter or digit',
  }),
  /** The pool the worker must belong to; without it, any worker of the release. */
  pool: PoolName.optional(),
}, objectError);

/** GET /api/tasks query parameters (strings, as they arrive). */
export const ListTasksQuery = z.object({
  status: z.string().optional().describe('Comma-separated: pending, dispatched, running, active, succeeded (or completed), failed, cancelled.'),
  name: TaskName.optional().describe('Only tasks of this name.'),
  queue: QueueName.optional().describe('Only tasks in this queue.'),
  // Commands hold no control characters, and PostgreSQL text no NUL: such a search is refused rather than failing the query.
  q: z.string().refine((value) => !CONTROL_CHARACTERS.test(value), { error: 'must not contain control characters' }).optional()
    .describe('A task id, or a command prefix.'),
  limit: z.string().regex(/^\d+$/, { error: 'must be a whole number from 1 to 500' }).optional().describe('1 to 500, default 50.'),
  order: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).optional().describe('By scheduled_at; default desc.'),
  cursor: z.string().optional().describe('next_cursor of the previous page.'),
});

// ---- Responses ----

export const TaskStatus = StatusName;
export type TaskStatus = z.infer<typeof TaskStatus>;
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

const Time = z.iso.datetime();

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** The request field at fault, as a path: "payload", "tasks[3].name". */
    field: z.string().optional(),
  }),
});

export const ScheduleResponse = z.object({
  command: z.string(),
  scheduled_at: z.number().int().describe('Epoch seconds.'),
  task_id: z.string(),
});

export const BatchScheduleResponse = z.object({
  command: z.string(),
  count: z.number().int(),
  scheduled_at: z.number().int().describe('Epoch seconds.'),
  task_ids: z.array(z.string()),
});

/**
 * A task. Like the original GET /status, the optional times, last_error and result are present only once set;
 * list pages leave out payload and result.
 */
export const TaskView = z.object({
  task_id: z.string(),
  /** The task's type; null for a command task. */
  name: z.string().nullable(),
  queue: z.string(),
  /** The command of a command task; for a named task, its name (so original clients always get a string). */
  command: z.string(),
  /** The JSON payload, null when the task has none; left out of GET /api/tasks pages. */
  payload: JsonValue.optional(),
  status: TaskStatus,
  /** Claims so far: each delivery to a worker is a new attempt (the fence of its reports). */
  attempt: z.number().int(),
  /** Attempts that ran on a worker: what max_attempts limits (a delivery that never ran costs nothing). */
  executions: z.number().int(),
  max_attempts: z.number().int(),
  priority: z.number().int(),
  /** The task's own timeout; absent when its worker applies its task type's or its own default. */
  timeout_seconds: z.number().int().optional(),
  /** The task's retry policy, as given; absent: the coordinator's defaults. */
  retry: RetryPolicy.optional(),
  worker_id: z.number().int().nullable(),
  scheduled_at: Time,
  created_at: Time,
  updated_at: Time,
  picked_at: Time.optional(),
  started_at: Time.optional(),
  completed_at: Time.optional(),
  failed_at: Time.optional(),
  cancelled_at: Time.optional(),
  lease_expires_at: Time.optional(),
  /** The last failure's error, or why the task was cancelled. */
  last_error: z.string().optional(),
  result: JsonValue.optional(),
});

/** A recurring schedule. */
export const CronScheduleView = z.object({
  id: z.string(),
  key: z.string().nullable(),
  name: z.string(),
  payload: JsonValue.nullable(),
  queue: z.string(),
  priority: z.number().int(),
  max_attempts: z.number().int(),
  timeout_seconds: z.number().int().optional(),
  cron: z.string(),
  timezone: z.string(),
  overlap: z.enum(OVERLAP),
  catch_up: z.enum(CATCH_UP),
  paused: z.boolean(),
  /** The first occurrence not fired yet; null when the pattern has none. */
  next_run_at: Time.nullable(),
  /** The next five occurrences from now (one schedule's GET only). */
  next_runs: z.array(Time).optional(),
  last_run_at: Time.optional(),
  last_task_id: z.string().optional(),
  /**
   * Where it was declared: the API, a worker's task type (defineTask cron), SCHEDULES (the chart's values) or a
   * TaskSchedule resource (key k8s:<namespace>:<name>), which alone may change it: the API answers 409.
   */
  source: z.enum(['api', 'worker', 'config', 'kubernetes']),
  created_at: Time,
  updated_at: Time,
});

export const CronScheduleList = z.object({ schedules: z.array(CronScheduleView) });

/** A queue with controls (queues without any have no row). */
export const QueueView = z.object({
  name: z.string(),
  paused: z.boolean(),
  max_running: z.number().int().nullable(),
  max_per_second: z.number().int().nullable(),
  /** Its tasks in flight now. */
  running: z.number().int(),
  /** Its pending tasks without a concurrency key, counted up to 100,000 per priority sign. */
  pending: z.number().int(),
  /** Starts its rate limit allows right now; null without one. */
  tokens: z.number().int().nullable(),
  created_at: Time,
  updated_at: Time,
});

export const QueueList = z.object({ queues: z.array(QueueView) });

/** A task type's concurrency limit and its keys in use. */
export const ConcurrencyLimitView = z.object({
  name: z.string(),
  key: z.string(),
  max_running: z.number().int(),
  /** Set through the API, or declared by workers (defineTask concurrency). */
  source: z.enum(['api', 'worker']),
  /** Keys with unfinished tasks. */
  keys: z.number().int(),
  /** Keys whose tasks in flight reach the limit: their other tasks wait. */
  keys_at_limit: z.number().int(),
  /** The type's tasks in flight under the limit. */
  running: z.number().int(),
  created_at: Time,
  updated_at: Time,
});

export const ConcurrencyLimitList = z.object({ limits: z.array(ConcurrencyLimitView) });

/** POST /api/tasks/batch */
export const TaskBatchResponse = z.object({ tasks: z.array(TaskView) });

/** GET /api/tasks */
export const TaskPage = z.object({
  tasks: z.array(TaskView),
  /** Pass as ?cursor= for the next page; null on the last page. */
  next_cursor: z.string().nullable(),
});

/** GET /api/tasks/:id/events and the log stream. */
export const EventView = z.object({
  id: z.number().int(),
  at: Time,
  type: z.string(),
  task_id: z.string().optional(),
  attempt: z.number().int().optional(),
  worker_id: z.number().int().optional(),
  command: z.string().optional(),
  message: z.string(),
});

/** One delivery of a task to a worker and how it ended, from the task's events. */
export const AttemptView = z.object({
  attempt: z.number().int(),
  worker_id: z.number().int().optional(),
  assigned_at: Time,
  started_at: Time.optional(),
  ended_at: Time.optional(),
  /**
   * dispatched or running while it lasts; then succeeded, failed (for good), retried (failed, run again),
   * reassigned (its worker was lost or refused it) or cancelled.
   */
  outcome: z.enum(['dispatched', 'running', 'succeeded', 'failed', 'retried', 'reassigned', 'cancelled']),
  /** The failure's error, or why it was cancelled. */
  error: z.string().optional(),
});

/** The task, its events oldest first, and its attempts built from them (as long as EVENTS_RETENTION keeps them). */
export const TaskEvents = z.object({ task: TaskView, events: z.array(EventView), attempts: z.array(AttemptView) });

/** GET /api/logs */
export const EventList = z.object({ events: z.array(EventView) });

/** GET /api/stats */
export const StatsView = z.object({
  pending: z.number().int(),
  dispatched: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  total: z.number().int(),
  /** Workers alive in the coordinator's registry. */
  workers: z.number().int(),
  slots_total: z.number().int(),
  slots_busy: z.number().int(),
  coordinator_reachable: z.boolean(),
  /** Pending tasks whose name no live worker runs: they wait until a worker for that name joins. */
  unhandled: z.array(z.object({ name: z.string(), pending: z.number().int() })),
  /** How long finished tasks of each state, and events, are kept before the coordinators delete them; 0 = forever. */
  retention: z.object({
    succeeded_seconds: z.number(),
    failed_seconds: z.number(),
    cancelled_seconds: z.number(),
    events_seconds: z.number(),
  }).optional(),
});

/** One worker as GET /api/workers shows it: the coordinator's view merged with the scaler's. */
export const WorkerView = z.object({
  name: z.string(),
  worker_id: z.number().int().optional(),
  address: z.string().optional(),
  /** alive: heartbeating; draining: finishing its tasks; starting: not yet registered; gone: process or pod ended. */
  state: z.enum(['alive', 'draining', 'starting', 'gone']),
  slots_total: z.number().int().optional(),
  slots_busy: z.number().int().optional(),
  in_flight: z.number().int().optional(),
  last_heartbeat_at: Time.optional(),
  heartbeat_misses: z.number().int().optional(),
  /** The task names it runs, and whether it runs command tasks. */
  handles: z.array(z.string()).optional(),
  command_tasks: z.boolean().optional(),
  /** Its worker pool (the pod's taskmaster.dev/pool label), where the backend knows it. */
  pool: z.string().optional(),
  /** The queues it takes tasks from; absent or empty: every queue. */
  queues: z.array(z.string()).optional(),
  /** What the scaler backend knows: a local process or a pod. */
  runtime: z.object({ phase: z.string(), ready: z.boolean(), pid: z.number().int().optional(), node: z.string().optional() }).optional(),
});

/** One worker pool in GET /api/workers: its Deployment, who owns its replicas, and what it takes. */
export const PoolView = z.object({
  name: z.string(),
  /** The Deployment scaled (Kubernetes); empty elsewhere. */
  deployment: z.string(),
  /** manual: the scale API and kubectl; autoscaler: the scheduler's; keda: a ScaledObject (the scale API answers 409). */
  owner: z.enum(['manual', 'autoscaler', 'keda']),
  scaled_object: z.string().optional(),
  desired: z.number().int().nullable(),
  actual: z.number().int(),
  queues: z.array(z.string()),
  tasks: z.array(z.string()),
  min_replicas: z.number().int().optional(),
  max_replicas: z.number().int().optional(),
});

export const WorkersResponse = z.object({
  workers: z.array(WorkerView),
  /** The default pool's counts, as before pools existed. */
  scaler: z.object({ kind: z.string(), desired: z.number().int().nullable(), actual: z.number().int() }),
  pools: z.array(PoolView).optional(),
  coordinator_reachable: z.boolean(),
});

export const ScaleResponse = z.object({ scaler: z.string(), pool: z.string().optional(), requested: z.number().int(), previous: z.number().int().nullable() });
export const KillResponse = z.object({ scaler: z.string(), pool: z.string().optional(), killed: z.string() });

export type ScheduleRequest = z.input<typeof ScheduleRequest>;
export type BatchScheduleRequest = z.input<typeof BatchScheduleRequest>;
export type TaskRequest = z.input<typeof TaskRequest>;
export type TaskBatchRequest = z.input<typeof TaskBatchRequest>;
export type CancelRequest = z.input<typeof CancelRequest>;
export type BulkRequest = z.input<typeof BulkRequest>;
export type BulkResponse = z.infer<typeof BulkResponse>;
export type CronScheduleRequest = z.input<typeof CronScheduleRequest>;
export type CronScheduleView = z.infer<typeof CronScheduleView>;
export type CronScheduleList = z.infer<typeof CronScheduleList>;
export type QueueControlsRequest = z.input<typeof QueueControlsRequest>;
export type QueueView = z.infer<typeof QueueView>;
export type QueueList = z.infer<typeof QueueList>;
export type ConcurrencyLimitRequest = z.input<typeof ConcurrencyLimitRequest>;
export type ConcurrencyLimitView = z.infer<typeof ConcurrencyLimitView>;
export type ConcurrencyLimitList = z.infer<typeof ConcurrencyLimitList>;
export type RetryPolicy = z.infer<typeof RetryPolicy>;
export type ScaleRequest = z.input<typeof ScaleRequest>;
export type KillRequest = z.input<typeof KillRequest>;
export type ListTasksQuery = z.input<typeof ListTasksQuery>;
export type ErrorBody = z.infer<typeof ErrorBody>;
export type ScheduleResponse = z.infer<typeof ScheduleResponse>;
export type BatchScheduleResponse = z.infer<typeof BatchScheduleResponse>;
export type TaskView = z.infer<typeof TaskView>;
export type TaskBatchResponse = z.infer<typeof TaskBatchResponse>;
export type TaskPage = z.infer<typeof TaskPage>;
export type EventView = z.infer<typeof EventView>;
export type TaskEvents = z.infer<typeof TaskEvents>;
export type AttemptView = z.infer<typeof AttemptView>;
export type EventList = z.infer<typeof EventList>;
export type StatsView = z.infer<typeof StatsView>;
export type WorkerView = z.infer<typeof WorkerView>;
export type WorkersResponse = z.infer<typeof WorkersResponse>;
export type PoolView = z.infer<typeof PoolView>;
export type ScaleResponse = z.infer<typeof ScaleResponse>;
export type KillResponse = z.infer<typeof KillResponse>;
