import type { TaskView } from '../../../../services/scheduler/src/api-types';
import { Link } from '../../components/link';
import { RelativeTime } from '../../components/relative-time';
import { StatusBadge } from '../../components/status-badge';
import { shortId } from '../../format';
import { TaskActions } from './task-actions';
import type { WorkerNamer } from './use-worker-names';

/** The tasks as a table; the id links to the task's timeline, the worker shows by name. */
export function TaskTable({ tasks, workerName, onChanged, selected, onSelect }: {
  tasks: TaskView[];
  workerName: WorkerNamer;
  onChanged: () => void;
  /** Ids of the rows ticked for a bulk action. */
  selected: ReadonlySet<string>;
  onSelect: (ids: readonly string[], on: boolean) => void;
}) {
  const allTicked = tasks.length > 0 && tasks.every((task) => selected.has(task.task_id));
  return (
    <div className="table-wrap">
      <table className="table task-table">
        <thead>
          <tr>
            <th scope="col"><input type="checkbox" aria-label="Select all shown" checked={allTicked}
              onChange={(e) => onSelect(tasks.map((task) => task.task_id), e.target.checked)} /></th>
            <th scope="col">Status</th>
            <th scope="col">Task</th>
            <th scope="col">Name or command</th>
            <th scope="col" className="hide-narrow">Queue</th>
            <th scope="col">Scheduled</th>
            <th scope="col" className="hide-narrow">Runs</th>
            <th scope="col" className="hide-narrow">Worker</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.task_id}>
              <td><input type="checkbox" aria-label={`Select task ${shortId(task.task_id)}`} checked={selected.has(task.task_id)}
                onChange={(e) => onSelect([task.task_id], e.target.checked)} /></td>
              <td><StatusBadge status={task.status} /></td>
              <td className="mono"><Link to={`/tasks/${task.task_id}`} title={task.task_id}>{shortId(task.task_id)}</Link></td>
              <td className="command-cell" title={task.name === null ? `Command task: ${task.command}` : `Task name: ${task.name}`}>{task.name ?? task.command}</td>
              <td className="hide-narrow queue-cell">{task.queue}</td>
              <td><RelativeTime iso={task.scheduled_at} /></td>
              <td className="hide-narrow numeric">{task.executions}/{task.max_attempts}</td>
              <td className="hide-narrow" title={task.worker_id === null ? undefined : `worker id ${task.worker_id}`}>{workerName(task.worker_id) ?? '–'}</td>
              <td className="actions-cell"><TaskActions task={task} onChanged={onChanged} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
