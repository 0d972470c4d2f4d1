import type { EventView } from '../../../../services/scheduler/src/api-types';
import { Link } from '../../components/link';
import { formatClock, shortId } from '../../format';

/** One event as a log line: time, type, message, and a link to its task. */
export function EventRow({ event }: { event: EventView }) {
  return (
    <li className="event-row">
      <time className="event-time mono" dateTime={event.at}>{formatClock(event.at)}</time>
      <span className={`event-type event-type-${event.type}`}>{event.type.replace('_', ' ')}</span>
      <span className="event-message">{event.message}</span>
      {event.task_id && <Link to={`/tasks/${event.task_id}`} className="event-task mono" aria-label={`Task ${shortId(event.task_id)}`}>{shortId(event.task_id)}</Link>}
    </li>
  );
}
