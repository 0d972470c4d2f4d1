import { useEffect, type ReactNode } from 'react';
import type { AttemptView, TaskView } from '../../../../services/scheduler/src/api-types';
import { ApiError } from '../../api/client';
import { api } from '../../api/endpoints';
import { JsonBlock } from '../../components/json-block';
import { Link } from '../../components/link';
import { RelativeTime } from '../../components/relative-time';
import { ErrorNotice, Loading } from '../../components/states';
import { StatusBadge } from '../../components/status-badge';
import { formatDateTime, formatDuration } from '../../format';
import { usePoll } from '../../hooks/use-poll';
import { useLive } from '../../live/live-context';
import { TaskActions } from './task-actions';
import { TaskTimeline } from './task-timeline';
import { useWorkerNames } from './use-worker-names';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

function between(from?: string, to?: string): string | undefined {
  return from && to ? formatDuration(Date.parse(to) - Date.parse(from)) : undefined;
}

/** Schedule-to-start: from the later of scheduled_at and creation to started_at. */
function startLatency(task: TaskView): string | undefined {
  if (!task.started_at) return undefined;
  const due = Math.max(Date.parse(task.scheduled_at), Date.parse(task.created_at));
  return formatDuration(Date.parse(task.started_at) - due);
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  if (children === undefined || children === null) return null;
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const when = (iso?: string) => iso && <><RelativeTime iso={iso} /> <span className="muted small">{formatDateTime(iso)}</span></>;

/** A retry policy in words; parts it leaves out are the coordinator's defaults. */
function retryText(retry: TaskView['retry']): string {
  if (!retry) return 'default';
  const delay = retry.delay_seconds === undefined ? 'default delay' : `${retry.delay_seconds} s`;
  const parts = [`${retry.backoff ?? 'exponential'} from ${delay}`];
  if (retry.max_delay_seconds !== undefined) parts.push(`at most ${retry.max_delay_seconds} s`);
  if (retry.jitter === false) parts.push('no jitter');
  return parts.join(', ');
}

const OUTCOMES: Record<AttemptView['outcome'], string> = {
  dispatched: 'Dispatched', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', retried: 'Failed, retried',
  reassigned: 'Handed back', cancelled: 'Cancelled',
};

/** Each delivery to a worker: who ran it, when, how it ended and why. */
function AttemptHistory({ attempts, workerName }: { attempts: readonly AttemptView[]; workerName: (id: number | null) => string | undefined }) {
  if (attempts.length === 0) return null;
  return (
    <section className="card" aria-labelledby="attempts-heading">
      <div className="card-header"><h2 id="attempts-heading">Attempts</h2><span className="muted small">{attempts.length}</span></div>
      <div className="table-wrap">
        <table className="table" aria-label="Attempts">
          <thead><tr><th>#</th><th>Worker</th><th>Started</th><th>Ran for</th><th>Outcome</th><th>Error</th></tr></thead>
          <tbody>
            {attempts.map((attempt) => (
              <tr key={attempt.attempt}>
                <td className="mono">{attempt.attempt}</td>
                <td>{workerName(attempt.worker_id ?? null) ?? '–'}</td>
                <td>{attempt.started_at ? formatDateTime(attempt.started_at) : '–'}</td>
                <td>{between(attempt.started_at, attempt.ended_at) ?? '–'}</td>
                <td>{OUTCOMES[attempt.outcome]}</td>
                <td className="mono small">{attempt.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** One task: its state, times, payload, error or result, attempts and timeline; refreshed as its events arrive. */
export function TaskDetailView({ id }: { id: string }) {
  const timeline = usePoll((signal) => api.taskTimeline(id, signal), { intervalMs: 5000 }, id);
  const workerName = useWorkerNames();
  const live = useLive();
  const { refreshSoon } = timeline;
  useEffect(() => {
    if (live.events.slice(-200).some((event) => event.task_id === id)) refreshSoon();
    // New events only; refreshSoon folds bursts into one request.
  }, [live.lastEventId, id]);

  const back = <Link to="/tasks" className="back-link">← All tasks</Link>;
  if (timeline.loading) return <>{back}<Loading label="Loading task…" /></>;
  if (!timeline.data) {
    const missing = timeline.error instanceof ApiError && (timeline.error.status === 404 || timeline.error.status === 400);
    return <>{back}<ErrorNotice title={missing ? 'Task not found' : 'Could not load this task'} error={timeline.error} onRetry={missing ? undefined : timeline.refresh} /></>;
  }

  const { task, events, attempts } = timeline.data;
  const finishedAt = task.completed_at ?? task.failed_at ?? task.cancelled_at;
  return (
    <div className="task-detail">
      {back}
      {timeline.error !== undefined && <ErrorNotice title="Showing the last state loaded" error={timeline.error} onRetry={timeline.refresh} />}
      <section className="card" aria-labelledby="task-heading">
        <div className="card-header task-header">
          <div>
            <h2 id="task-heading" className="mono task-command">{task.name ?? task.command}</h2>
            <p className="mono muted small selectable">{task.task_id}</p>
          </div>
          <div className="task-header-side">
            <StatusBadge status={task.status} />
            <TaskActions task={task} onChanged={timeline.refresh} />
          </div>
        </div>
        <dl className="facts">
          <Fact label="Kind">{task.name === null ? 'Command task' : 'Named task'}</Fact>
          <Fact label="Queue"><Link to={`/tasks?queue=${encodeURIComponent(task.queue)}`} className="mono">{task.queue}</Link></Fact>
          <Fact label="Runs">{task.executions} of {task.max_attempts} (attempt {task.attempt})</Fact>
          <Fact label="Worker"><span title={task.worker_id === null ? undefined : `worker id ${task.worker_id}`}>{workerName(task.worker_id) ?? '–'}</span></Fact>
          <Fact label="Priority">{task.priority}</Fact>
          <Fact label="Retry policy">{retryText(task.retry)}</Fact>
          <Fact label="Timeout">{task.timeout_seconds === undefined ? 'worker default' : `${task.timeout_seconds} s`}</Fact>
          <Fact label="Scheduled for">{when(task.scheduled_at)}</Fact>
          <Fact label="Created">{when(task.created_at)}</Fact>
          <Fact label="Picked">{when(task.picked_at)}</Fact>
          <Fact label="Started">{when(task.started_at)}</Fact>
          <Fact label={task.status === 'cancelled' ? 'Cancelled' : task.failed_at && !task.completed_at ? 'Failed' : 'Completed'}>{when(finishedAt)}</Fact>
          <Fact label="Schedule to start">{startLatency(task)}</Fact>
          <Fact label="Run time">{between(task.started_at, task.completed_at ?? task.failed_at)}</Fact>
          {!FINISHED.has(task.status) && <Fact label="Lease expires">{when(task.lease_expires_at)}</Fact>}
        </dl>
        {task.payload !== undefined && task.payload !== null && <JsonBlock title="Payload" value={task.payload} />}
        {task.last_error && (
          <div className="output output-error">
            <h3>{task.status === 'cancelled' ? 'Cancelled because' : 'Last error'}</h3>
            <pre>{task.last_error}</pre>
          </div>
        )}
        {task.result !== undefined && task.result !== null && <JsonBlock title="Result" value={task.result} />}
      </section>
      <AttemptHistory attempts={attempts ?? []} workerName={workerName} />
      <section className="card" aria-labelledby="timeline-heading">
        <div className="card-header"><h2 id="timeline-heading">Timeline</h2><span className="muted small">{events.length} events</span></div>
        <TaskTimeline events={events} workerName={workerName} />
      </section>
    </div>
  );
}
