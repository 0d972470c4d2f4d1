import type { EventView } from '../../../../services/scheduler/src/api-types';
import { formatClock, formatDuration } from '../../format';
import type { WorkerNamer } from './use-worker-names';

/** Events whose message says more than the type: the error, or why the task went back to the queue. */
const EXPLAINED = new Set(['failed', 'retried', 'reassigned']);

/** A task's transitions and attempts in order, each with its offset from the first. */
export function TaskTimeline({ events, workerName }: { events: EventView[]; workerName: WorkerNamer }) {
  if (events.length === 0) return <p className="muted">No events recorded for this task.</p>;
  const start = Date.parse(events[0].at);
  return (
    <ol className="timeline">
      {events.map((event) => (
        <li key={event.id} className={`timeline-item event-${event.type}`}>
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <div className="timeline-head">
              <span className={`event-type event-type-${event.type}`}>{event.type}</span>
              <time dateTime={event.at}>{formatClock(event.at)}</time>
              {event.id !== events[0].id && <span className="muted small">+{formatDuration(Date.parse(event.at) - start)}</span>}
            </div>
            <div className="timeline-meta small muted">
              {event.attempt !== undefined && <span>attempt {event.attempt}</span>}
              {event.worker_id !== undefined && <span>on {workerName(event.worker_id)}</span>}
            </div>
            {EXPLAINED.has(event.type) && <p className="timeline-message small">{event.message}</p>}
          </div>
        </li>
      ))}
    </ol>
  );
}
