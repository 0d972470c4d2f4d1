import type { EventRow } from '../../common/src/db/events';
import type { EventView, TaskView } from './api-types';
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
