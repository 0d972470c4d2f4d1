import type { TaskStatus } from '../../../services/scheduler/src/api-types';

const LABELS: Record<TaskStatus, string> = {
  pending: 'Pending',
  dispatched: 'Dispatched',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function StatusBadge({ status }: { status: TaskStatus }) {
  return <span className={`badge badge-${status}`}>{LABELS[status]}</span>;
}
