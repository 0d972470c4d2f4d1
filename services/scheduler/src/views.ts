import type { EventRow } from '../../common/src/db/events';
import type { ConcurrencyLimitRow, QueueRow } from '../../common/src/db/queue-controls';
import type { ScheduleRow } from '../../common/src/db/schedules';
import type { AttemptView, ConcurrencyLimitView, CronScheduleView, EventView, QueueView, TaskView } from './api-types';
import type { TaskRow } from './db/tasks';

const OPTIONAL_TIMES = ['picked_at', 'started_at', 'completed_at', 'failed_at', 'cancelled_at', 'lease_expires_at'] as const;

/** A row as the API shows it: times in ISO-8601, optional keys present only once set (as the original did). */
export function taskView(row: TaskRow): TaskView {
  const view: TaskView = {
    task_id: row.id,
    name: row.name,
    queue: row.queue,
    // A named task has no command; original clients expect a string, so they get the name.
    command: row.command ?? row.name ?? '',
    status: row.status,
    attempt: row.attempt,
    executions: row.executions,
    max_attempts: row.max_attempts,
    priority: row.priority,
    worker_id: row.worker_id,
    scheduled_at: row.scheduled_at.toISOString(),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
  for (const key of OPTIONAL_TIMES) {
    const value = row[key];
    if (value) view[key] = value.toISOString();
  }
  if (row.timeout_seconds !== null) view.timeout_seconds = row.timeout_seconds;
  if (row.retry) view.retry = row.retry;
  if (row.last_error !== null) view.last_error = row.last_error;
  // Single-task responses have the payload (null for none) and, once set, the result; list rows have neither.
  if (row.payload !== undefined) view.payload = (row.payload ?? null) as TaskView['payload'];
  if (row.result !== null && row.result !== undefined) view.result = row.result as TaskView['result'];
  return view;
}

const VERBS: Record<string, string> = {
  scheduled: 'scheduled',
  assigned: 'assigned',
  started: 'started',
  completed: 'completed',
  failed: 'failed',
  retried: 'failed; will be retried',
  reassigned: 'handed back for another worker',
  cancelled: 'cancelled',
};

/** An event as the log stream shows it, with a one-line human message. */
export function eventView(row: EventRow): EventView {
  const view: EventView = { id: row.id, at: row.at.toISOString(), type: row.type, message: row.message ?? '' };
  if (row.task_id) view.task_id = row.task_id;
  if (row.attempt !== null) view.attempt = row.attempt;
  if (row.worker_id !== null) view.worker_id = row.worker_id;
  if (row.command !== null) view.command = row.command;
  if (row.task_id && VERBS[row.type]) {
    const where = row.worker_id !== null && row.type !== 'scheduled' ? ` (worker ${row.worker_id})` : '';
    const detail = row.message ? `: ${row.message}` : '';
    view.message = `task ${row.task_id.slice(0, 8)} ${row.command ?? ''} ${VERBS[row.type]}${where}, attempt ${row.attempt}${detail}`.replace(/\s+/g, ' ');
  }
  return view;
}

/** How an event ends the attempt it names, if it does. */
const ENDINGS: Partial<Record<EventRow['type'], AttemptView['outcome']>> = {
  completed: 'succeeded', failed: 'failed', retried: 'retried', reassigned: 'reassigned', cancelled: 'cancelled',
};

/**
 * A task's attempts from its events (oldest first): each `assigned` event opens one, `started` marks its start
 * and the first ending event for it closes it. An ending of an attempt already closed (a pending task cancelled
 * after its last attempt was retried) belongs to no attempt. No table of its own: the events are written anyway.
 */
export function attemptsOf(events: readonly EventRow[]): AttemptView[] {
  const attempts = new Map<number, AttemptView>();
  for (const event of events) {
    if (event.attempt === null) continue;
    if (event.type === 'assigned') {
      attempts.set(event.attempt, { attempt: event.attempt, assigned_at: event.at.toISOString(), outcome: 'dispatched', ...(event.worker_id !== null && { worker_id: event.worker_id }) });
      continue;
    }
    const attempt = attempts.get(event.attempt);
    if (!attempt || attempt.ended_at !== undefined) continue;
    if (event.type === 'started') {
      attempt.started_at = event.at.toISOString();
      attempt.outcome = 'running';
      continue;
    }
    const outcome = ENDINGS[event.type];
    if (!outcome) continue;
    attempt.outcome = outcome;
    attempt.ended_at = event.at.toISOString();
    if (event.message && outcome !== 'succeeded') attempt.error = event.message;
  }
  return [...attempts.values()];
}

/** A schedule as the API shows it; `nextRuns` only for one schedule's GET. */
export function scheduleView(row: ScheduleRow, nextRuns?: readonly Date[]): CronScheduleView {
  const view: CronScheduleView = {
    id: row.id,
    key: row.key,
    name: row.name,
    payload: (row.payload ?? null) as CronScheduleView['payload'],
    queue: row.queue,
    priority: row.priority,
    max_attempts: row.max_attempts,
    cron: row.cron,
    timezone: row.timezone,
    overlap: row.overlap,
    catch_up: row.catch_up,
    paused: row.paused,
    next_run_at: row.next_run_at?.toISOString() ?? null,
    source: row.source,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
  if (row.timeout_seconds !== null) view.timeout_seconds = row.timeout_seconds;
  if (nextRuns) view.next_runs = nextRuns.map((at) => at.toISOString());
  if (row.last_run_at) view.last_run_at = row.last_run_at.toISOString();
  if (row.last_task_id) view.last_task_id = row.last_task_id;
  return view;
}

export function queueView(row: QueueRow): QueueView {
  return {
    name: row.name,
    paused: row.paused,
    max_running: row.max_running,
    max_per_second: row.max_per_second,
    running: row.running,
    pending: row.pending,
    tokens: row.tokens,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function limitView(row: ConcurrencyLimitRow): ConcurrencyLimitView {
  return {
    name: row.name,
    key: row.key_field,
    max_running: row.max_running,
    source: row.source,
    keys: row.keys,
    keys_at_limit: row.keys_at_limit,
    running: row.running,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
