import type { z } from 'zod';
import { ValidationError } from '../../common/src/errors';
import { isUuid, parseWith } from '../../common/src/validation';
import type { NewTask } from '../../common/src/db/insert-tasks';
import { fingerprint } from '../../common/src/fingerprint';
import { storableJson } from '../../common/src/storable-json';
import { toNewSchedule, type NewSchedule } from '../../common/src/db/schedules';
import {
  BatchScheduleRequest, BulkRequest, CancelRequest, ConcurrencyLimitRequest, CronScheduleRequest, IdempotencyKey, KillRequest, ListTasksQuery, MAX_BATCH,
  QueueControlsRequest, QueueName, ScaleRequest, ScheduleRequest, TaskBatchRequest, TaskName, TaskRequest, parseDateTime,
} from '../../sdk/src/http/schemas';
import type { QueueControls } from '../../common/src/db/queue-controls';
import type { BulkFilter } from './db/bulk';
import type { ListTasksQuery as ListTasksFilter } from './db/tasks';

/**
 * Request input to typed values, through the API's schemas (sdk/src/http/schemas.ts): each parser returns what
 * the routes need or throws a ValidationError naming the first bad field as a path ("tasks[3].name").
 */

export { MAX_BATCH };

/**
 * The payload as it will be stored: at most `maxBytes` as compact JSON (how it is stored and sent on), and JSON
 * a jsonb column takes (no NUL or unpaired surrogate, at most 1,000 levels deep; storable-json.ts).
 */
function checkPayload(payload: unknown, maxBytes: number, field: string): void {
  if (payload === undefined || payload === null) return;
  const { text, problem } = storableJson(payload);
  if (problem !== undefined) throw new ValidationError(`${field} ${problem}`, field);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new ValidationError(`${field} takes ${bytes} bytes as JSON; the limit is ${maxBytes} (PAYLOAD_MAX_BYTES)`, field, 'payload_too_large');
  }
}

export interface RequestLimits {
  /** PAYLOAD_MAX_BYTES */
  payloadMaxBytes: number;
  /** IDEMPOTENCY_KEY_TTL: how long a key names its first task. */
  keyTtlMs?: number;
}

/**
 * The Idempotency-Key header of a single-task request, merged into its body: either may carry the key; both
 * carrying different keys is a 400.
 */
function withHeaderKey(raw: unknown, header: string | undefined): unknown {
  if (header === undefined) return raw;
  const checked = IdempotencyKey.safeParse(header);
  if (!checked.success) throw new ValidationError(`Idempotency-Key ${checked.error.issues[0].message}`, 'Idempotency-Key');
  const body = (raw ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return raw;
  if (body.idempotency_key !== undefined && body.idempotency_key !== null && body.idempotency_key !== header) {
    throw new ValidationError('Idempotency-Key and idempotency_key differ; send one, or the same in both', 'Idempotency-Key');
  }
  return { ...body, idempotency_key: header };
}

/** The fingerprint of a request with a key: its fields as validated, without the key (migration 0016). */
function keyedFingerprint(body: { idempotency_key?: string | null }): string | undefined {
  if (body.idempotency_key === undefined || body.idempotency_key === null) return undefined;
  return fingerprint({ ...body, idempotency_key: undefined });
}

/** POST /schedule: {command, scheduled_at, max_attempts?, priority?, idempotency_key?, payload?, queue?} */
export function parseScheduleRequest(raw: unknown, limits: RequestLimits, headerKey?: string): NewTask {
  const body = parseWith(ScheduleRequest, withHeaderKey(raw, headerKey) ?? {});
  checkPayload(body.payload, limits.payloadMaxBytes, 'payload');
  return {
    command: body.command,
    scheduledAt: parseDateTime(body.scheduled_at),
    maxAttempts: body.max_attempts ?? undefined,
    priority: body.priority ?? undefined,
    idempotencyKey: body.idempotency_key ?? undefined,
    fingerprint: keyedFingerprint(body),
    payload: body.payload,
    queue: body.queue ?? undefined,
    timeoutSeconds: body.timeout_seconds ?? undefined,
    retry: body.retry ?? undefined,
  };
}

/** POST /api/schedule/batch: {command = "demo-job", count 1–1000, delay_seconds = 0, max_attempts?, payload?, queue?} */
export function parseBatchRequest(raw: unknown, limits: RequestLimits, now = new Date()): NewTask[] {
  const body = parseWith(BatchScheduleRequest, raw ?? {});
  checkPayload(body.payload, limits.payloadMaxBytes, 'payload');
  const scheduledAt = new Date(now.getTime() + (body.delay_seconds ?? 0) * 1000);
  const task: NewTask = {
    command: body.command,
    scheduledAt,
    maxAttempts: body.max_attempts ?? undefined,
    payload: body.payload,
    queue: body.queue ?? undefined,
    timeoutSeconds: body.timeout_seconds ?? undefined,
  };
  return Array.from({ length: body.count }, () => task);
}

function namedTask(task: z.output<typeof TaskRequest>, now: Date): NewTask {
  return {
    name: task.name,
    queue: task.queue,
    payload: task.payload,
    scheduledAt: task.scheduled_at !== undefined
      ? parseDateTime(task.scheduled_at)
      : new Date(now.getTime() + (task.delay_seconds ?? 0) * 1000),
    maxAttempts: task.max_attempts,
    priority: task.priority,
    idempotencyKey: task.idempotency_key,
    fingerprint: keyedFingerprint(task),
    timeoutSeconds: task.timeout_seconds,
    retry: task.retry,
  };
}

/** POST /api/tasks: one named task. */
export function parseTaskRequest(raw: unknown, limits: RequestLimits, now = new Date(), headerKey?: string): NewTask {
  const body = parseWith(TaskRequest, withHeaderKey(raw, headerKey) ?? {});
  checkPayload(body.payload, limits.payloadMaxBytes, 'payload');
  return namedTask(body, now);
}

/** POST /api/tasks/batch: every task valid, or the request is refused naming the first bad one. */
export function parseTaskBatchRequest(raw: unknown, limits: RequestLimits, now = new Date()): NewTask[] {
  const body = parseWith(TaskBatchRequest, raw ?? {});
  const keys = new Map<string, number>();
  return body.tasks.map((task, i) => {
    checkPayload(task.payload, limits.payloadMaxBytes, `tasks[${i}].payload`);
    // One statement cannot insert a key twice (ON CONFLICT would touch the same row twice).
    if (task.idempotency_key !== undefined) {
      const first = keys.get(task.idempotency_key);
      if (first !== undefined) {
        throw new ValidationError(`tasks[${i}].idempotency_key repeats that of tasks[${first}]`, `tasks[${i}].idempotency_key`);
      }
      keys.set(task.idempotency_key, i);
    }
    return namedTask(task, now);
  });
}

/** POST /api/schedules: a recurring schedule, checked whole (the pattern and zone by croner). */
export function parseCronScheduleRequest(raw: unknown, limits: RequestLimits): NewSchedule {
  const body = parseWith(CronScheduleRequest, raw ?? {});
  checkPayload(body.payload, limits.payloadMaxBytes, 'payload');
  return toNewSchedule(body);
}

/** POST /api/tasks/bulk: the action, its filter, the chunk size (default 1,000) and a cancel's reason. */
export function parseBulkRequest(raw: unknown): { action: 'cancel' | 'retry' | 'delete'; filter: BulkFilter; limit: number; reason: string; dryRun: boolean } {
  const body = parseWith(BulkRequest, raw ?? {});
  const { filter } = body;
  return {
    action: body.action,
    filter: {
      statuses: filter.status,
      name: filter.name,
      queue: filter.queue,
      createdAfter: filter.created_after === undefined ? undefined : parseDateTime(filter.created_after),
      createdBefore: filter.created_before === undefined ? undefined : parseDateTime(filter.created_before),
      error: filter.error,
      ids: filter.ids,
    },
    limit: body.limit ?? 1000,
    reason: body.reason || 'cancelled',
    dryRun: body.dry_run === true,
  };
}

/** POST /api/tasks/:id/cancel: an optional body with an optional reason. */
export function parseCancelRequest(raw: unknown): { reason: string } {
  const body = parseWith(CancelRequest, raw ?? {});
  return { reason: body.reason || 'cancelled' };
}

/** An event id (?after=, Last-Event-ID): past 15 digits a number loses precision in JS, and the ids are far from it. */
export function parseEventId(value: unknown, field: string): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new ValidationError(`${field} must be an event id (a whole number of at most 15 digits)`, field);
  }
  return Number(value);
}

export function parseTaskId(value: unknown, field = 'task_id'): string {
  if (value === undefined || value === '') throw new ValidationError(`${field} is required`, field);
  if (!isUuid(value)) throw new ValidationError(`${field} must be a UUID`, field);
  return value.toLowerCase();
}

const STATUS_FILTERS: Record<string, string[]> = {
  pending: ['pending'],
  dispatched: ['dispatched'],
  running: ['running'],
  active: ['dispatched', 'running'],
  succeeded: ['succeeded'],
  completed: ['succeeded'],
  failed: ['failed'],
  cancelled: ['cancelled'],
};

interface Cursor {
  scheduledAt: Date;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.scheduledAt.toISOString()}|${cursor.id}`).toString('base64url');
}

/** The cursor as encodeCursor wrote it: an ISO time that reads back the same (so PostgreSQL can hold it) and an id. */
function decodeCursor(value: string): Cursor {
  const [iso, id, extra] = Buffer.from(value, 'base64url').toString().split('|');
  const scheduledAt = new Date(iso ?? '');
  if (!isUuid(id) || extra !== undefined || Number.isNaN(scheduledAt.getTime()) || scheduledAt.toISOString() !== iso || scheduledAt.getUTCFullYear() < -4712) {
    throw new ValidationError('cursor is not one this API returned', 'cursor');
  }
  return { scheduledAt, id };
}

/** GET /api/tasks?status=&name=&queue=&limit=&cursor=&order=&q= */
export function parseListQuery(query: Record<string, unknown>): ListTasksFilter {
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw new ValidationError(`${key} must be given once`, key);
  }
  const parsed = parseWith(ListTasksQuery, query, 'query');
  const statuses: string[] = [];
  for (const name of parsed.status ? parsed.status.split(',') : []) {
    // Own keys only: "valueOf" or "constructor" would otherwise find Object.prototype's (a 500).
    const mapped = Object.hasOwn(STATUS_FILTERS, name.trim()) ? STATUS_FILTERS[name.trim()] : undefined;
    if (!mapped) throw new ValidationError(`status must be one or more of ${Object.keys(STATUS_FILTERS).join(', ')}`, 'status');
    statuses.push(...mapped);
  }
  const limit = Number(parsed.limit ?? '50');
  if (limit < 1 || limit > 500) throw new ValidationError('limit must be a whole number from 1 to 500', 'limit');
  const search = parsed.q?.trim();
  return {
    statuses,
    limit,
    order: parsed.order ?? 'desc',
    after: parsed.cursor ? decodeCursor(parsed.cursor) : undefined,
    taskId: search && isUuid(search) ? search.toLowerCase() : undefined,
    commandPrefix: search && !isUuid(search) ? search : undefined,
    name: parsed.name,
    queue: parsed.queue,
  };
}

/** POST /api/workers/scale: {count 1–50} */
export function parseScaleRequest(raw: unknown): { count: number; pool?: string } {
  return parseWith(ScaleRequest, raw ?? {});
}

/** POST /api/workers/kill: {name} */
export function parseKillRequest(raw: unknown): { name: string; pool?: string } {
  return parseWith(KillRequest, raw ?? {});
}

/** A queue named in a path: a named queue, since the default queue takes no controls (migration 0017). */
export function parseControlledQueue(raw: string): string {
  const queue = parseWith(QueueName, raw, 'name');
  if (queue === 'default') {
    throw new ValidationError('name: the default queue takes no controls; put tasks to pause or limit on a named queue (queue: "reports")', 'name');
  }
  return queue;
}

/** A task name in a path. */
export function parseTaskName(raw: string): string {
  return parseWith(TaskName, raw, 'name');
}

/** PUT /api/queues/:name */
export function parseQueueControls(raw: unknown): QueueControls {
  const body = parseWith(QueueControlsRequest, raw ?? {});
  return { paused: body.paused, maxRunning: body.max_running, maxPerSecond: body.max_per_second };
}

/** PUT /api/concurrency-limits/:name */
export function parseConcurrencyLimit(raw: unknown): { keyField: string; maxRunning: number } {
  const body = parseWith(ConcurrencyLimitRequest, raw ?? {});
  return { keyField: body.key, maxRunning: body.max_running };
}
