import type { StatsView } from '../../../services/scheduler/src/api-types';
import { formatCount } from '../format';
import { Link } from './link';

/**
 * Pending tasks whose name no live worker runs never start on their own: a worker that handles the name must
 * join first. Said on every view, since a missing worker deployment is the usual cause and nothing else shows it.
 */
export function UnhandledNotice({ unhandled }: { unhandled: StatsView['unhandled'] }) {
  if (unhandled.length === 0) return null;
  return (
    <div className="notice notice-warn" role="status" aria-label="Task names without a worker">
      <div>
        <strong>Tasks are waiting for a worker that runs their name</strong>
        <ul className="unhandled-list">
          {unhandled.map(({ name, pending }) => (
            <li key={name}>
              {formatCount(pending)} pending {pending === 1 ? 'task' : 'tasks'} named{' '}
              <Link to={`/tasks?status=pending&name=${encodeURIComponent(name)}`} className="mono">{name}</Link>
              : no live worker runs this task name
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
