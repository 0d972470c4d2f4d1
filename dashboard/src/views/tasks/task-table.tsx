import type { TaskView } from '../../../../services/scheduler/src/api-types';
import { Link } from '../../components/link';
import { RelativeTime } from '../../components/relative-time';
import { StatusBadge } from '../../components/status-badge';
import { shortId } from '../../format';
import { TaskActions } from './task-actions';

/** The tasks as a table; the id links to the task's timeline. */
export function TaskTable({ tasks, onChanged }: { tasks: TaskView[]; onChanged: () => void }) {
  return (
    <div className="table-wrap">
      <table className="table task-table">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Task</th>
            <th scope="col">Command</th>
            <th scope="col">Scheduled</th>
            <th scope="col" className="hide-narrow">Attempt</th>
            <th scope="col" className="hide-narrow">Worker</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.task_id}>
              <td><StatusBadge status={task.status} /></td>
              <td className="mono"><Link to={`/tasks/${task.task_id}`} title={task.task_id}>{shortId(task.task_id)}</Link></td>
              <td className="command-cell" title={task.command}>{task.command}</td>
              <td><RelativeTime iso={task.scheduled_at} /></td>
              <td className="hide-narrow numeric">{task.attempt}/{task.max_attempts}</td>
              <td className="hide-narrow numeric">{task.worker_id ?? '–'}</td>
              <td className="actions-cell"><TaskActions task={task} onChanged={onChanged} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
