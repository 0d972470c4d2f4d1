import type { StatsView } from '../../../../services/scheduler/src/api-types';
import { Link } from '../../components/link';
import { formatCount, formatRate } from '../../format';

export interface Rates {
  completed: number;
  failed: number;
  started: number;
}

/** The four task counts and the workers, each linking to where to look closer. */
export function StatCards({ stats, rates }: { stats: StatsView; rates: Rates }) {
  const utilization = stats.slots_total > 0 ? stats.slots_busy / stats.slots_total : 0;
  return (
    <div className="stat-grid">
      <Link to="/tasks?status=pending" className="stat stat-pending">
        <span className="stat-label">Pending</span>
        <span className="stat-value" data-testid="count-pending">{formatCount(stats.pending)}</span>
        <span className="stat-sub">queue depth</span>
      </Link>
      <Link to="/tasks?status=active" className="stat stat-running">
        <span className="stat-label">Running</span>
        <span className="stat-value" data-testid="count-running">{formatCount(stats.running + stats.dispatched)}</span>
        <span className="stat-sub">{formatRate(rates.started)}/s starting</span>
      </Link>
      <Link to="/tasks?status=succeeded" className="stat stat-succeeded">
        <span className="stat-label">Completed</span>
        <span className="stat-value" data-testid="count-completed">{formatCount(stats.completed)}</span>
        <span className="stat-sub">{formatRate(rates.completed)}/s now</span>
      </Link>
      <Link to="/tasks?status=failed" className="stat stat-failed">
        <span className="stat-label">Failed</span>
        <span className="stat-value" data-testid="count-failed">{formatCount(stats.failed)}</span>
        <span className="stat-sub">{formatCount(stats.cancelled)} cancelled</span>
      </Link>
      <Link to="/workers" className="stat stat-workers">
        <span className="stat-label">Workers alive</span>
        <span className="stat-value" data-testid="count-workers">{stats.coordinator_reachable ? formatCount(stats.workers) : '?'}</span>
        <span className="stat-sub">
          {stats.slots_busy} / {stats.slots_total} slots busy
          <span className="mini-meter" aria-hidden="true"><span style={{ width: `${utilization * 100}%` }} /></span>
        </span>
      </Link>
    </div>
  );
}
