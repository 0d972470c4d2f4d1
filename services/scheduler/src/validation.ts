import { ValidationError } from '../../common/src/errors';
import { isUuid, parseCommand } from '../../common/src/validation';
import type { NewTask } from '../../common/src/db/insert-tasks';
import type { ListTasksQuery } from './db/tasks';

/** Parsers for request input: each returns a typed value or throws a ValidationError naming the field. */

type Body = Record<string, unknown>;

function asBody(value: unknown): Body {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('the request body must be a JSON object', 'body');
  }
  return value as Body;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO-8601 date-time ("2026-01-27T12:30:00Z"); without an offset it is taken as UTC, whatever the
 * server's time zone.
 */
function parseScheduledAt(value: unknown, field = 'scheduled_at'): Date {
  if (value === undefined || value === null || value === '') {
    throw new ValidationError(`${field} is required: an ISO-8601 date-time such as 2026-01-27T12:30:00Z`, field);
  }
  if (typeof value !== 'string' || !ISO_8601.test(value.trim())) {
    throw new ValidationError(`${field} must be an ISO-8601 date-time such as 2026-01-27T12:30:00Z`, field);
  }
  const text = value.trim();
  const date = new Date(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() > 9999) {
    throw new ValidationError(`${field} is not a valid date-time`, field);
  }
  return date;
}

function optionalInt(body: Body, field: string, min: number, max: number, fallback?: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be a whole number from ${min} to ${max}`, field);
  }
  return value;
}

function optionalKey(body: Body): string | undefined {
  const value = body.idempotency_key;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new ValidationError('idempotency_key must be a string of 1 to 200 characters', 'idempotency_key');
  }
  return value;
}

/** POST /schedule: {command, scheduled_at, max_attempts?, priority?, idempotency_key?} */
export function parseScheduleRequest(raw: unknown): NewTask {
  const body = asBody(raw);
  return {
    command: parseCommand(body.command),
    scheduledAt: parseScheduledAt(body.scheduled_at),
    maxAttempts: optionalInt(body, 'max_attempts', 1, 100),
    priority: optionalInt(body, 'priority', -1000, 1000),
    idempotencyKey: optionalKey(body),
  };
}

export const MAX_BATCH = 1000;

/** POST /api/schedule/batch: {command = "demo-job", count 1–1000, delay_seconds = 0, max_attempts?} */
export function parseBatchRequest(raw: unknown, now = new Date()): NewTask[] {
  const body = asBody(raw);
  const command = body.command === undefined ? 'demo-job' : parseCommand(body.command);
  const count = body.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
    throw new ValidationError(`count is required: a whole number from 1 to ${MAX_BATCH}`, 'count');
  }
  const delay = body.delay_seconds ?? 0;
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0 || delay > 365 * 86400) {
    throw new ValidationError('delay_seconds must be a number of seconds from 0 to 31536000', 'delay_seconds');
  }
  const maxAttempts = optionalInt(body, 'max_attempts', 1, 100);
  const scheduledAt = new Date(now.getTime() + delay * 1000);
  return Array.from({ length: count }, () => ({ command, scheduledAt, maxAttempts }));
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

function decodeCursor(value: string): Cursor {
  const [iso, id] = Buffer.from(value, 'base64url').toString().split('|');
  const scheduledAt = new Date(iso ?? '');
  if (!isUuid(id) || Number.isNaN(scheduledAt.getTime())) {
    throw new ValidationError('cursor is not one this API returned', 'cursor');
  }
  return { scheduledAt, id };
}

function queryString(query: Record<string, unknown>, field: string): string | undefined {
  const value = query[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${field} must be given once`, field);
  return value;
}

/** GET /api/tasks?status=&limit=&cursor=&order=&q= */
export function parseListQuery(query: Record<string, unknown>): ListTasksQuery {
  const statusText = queryString(query, 'status');
  const statuses: string[] = [];
  for (const name of statusText ? statusText.split(',') : []) {
    const mapped = STATUS_FILTERS[name.trim()];
    if (!mapped) throw new ValidationError(`status must be one or more of ${Object.keys(STATUS_FILTERS).join(', ')}`, 'status');
    statuses.push(...mapped);
  }
  const limitText = queryString(query, 'limit') ?? '50';
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) {
    throw new ValidationError('limit must be a whole number from 1 to 500', 'limit');
  }
  const order = queryString(query, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new ValidationError('order must be asc or desc', 'order');
  const cursorText = queryString(query, 'cursor');
  const search = queryString(query, 'q')?.trim();
  return {
    statuses,
    limit,
    order,
    after: cursorText ? decodeCursor(cursorText) : undefined,
    taskId: search && isUuid(search) ? search.toLowerCase() : undefined,
    commandPrefix: search && !isUuid(search) ? search : undefined,
  };
}

/** POST /api/workers/scale: {count 1–50} */
export function parseScaleRequest(raw: unknown): number {
  const body = asBody(raw);
  const count = body.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 50) {
    throw new ValidationError('count is required: a whole number from 1 to 50', 'count');
  }
  return count;
}

// A container, pod or process name: what Docker and Kubernetes allow, nothing a shell could misread.
const WORKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/;

/** POST /api/workers/kill: {name} */
export function parseKillRequest(raw: unknown): string {
  const body = asBody(raw);
  const name = body.name;
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('name is required', 'name');
  if (!WORKER_NAME.test(name)) {
    throw new ValidationError('name must be a worker name: letters, digits, ".", "_" and "-", starting with a letter or digit', 'name');
  }
  return name;
}
