import { useState } from 'react';
import { Link } from './components/link';
import { TokenDialog } from './components/token-dialog';
import { ErrorNotice } from './components/states';
import { UnhandledNotice } from './components/unhandled-notice';
import { useLocation } from './hooks/use-route';
import { useLive } from './live/live-context';
import type { ConnectionState } from './live/live-store';
import { useStats } from './stats/stats-context';
import { LogView } from './views/log/log-view';
import { OverviewView } from './views/overview/overview-view';
import { TaskDetailView } from './views/tasks/task-detail-view';
import { TasksView } from './views/tasks/tasks-view';
import { QueuesView } from './views/queues/queues-view';
import { SchedulesView } from './views/schedules/schedules-view';
import { WorkersView } from './views/workers/workers-view';

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/tasks', label: 'Tasks' },
  { to: '/schedules', label: 'Schedules' },
  { to: '/queues', label: 'Queues' },
  { to: '/workers', label: 'Workers' },
  { to: '/logs', label: 'Live log' },
];

const CONNECTION_LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

function section(path: string): string {
  if (path.startsWith('/tasks')) return '/tasks';
  if (path.startsWith('/schedules')) return '/schedules';
  if (path.startsWith('/queues')) return '/queues';
  if (path.startsWith('/workers')) return '/workers';
  if (path.startsWith('/logs')) return '/logs';
  return '/';
}

function View({ path }: { path: string }) {
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return <TaskDetailView id={decodeURIComponent(task[1])} />;
  switch (section(path)) {
    case '/tasks': return <TasksView />;
    case '/schedules': return <SchedulesView />;
    case '/queues': return <QueuesView />;
    case '/workers': return <WorkersView />;
    case '/logs': return <LogView />;
    default: return <OverviewView />;
  }
}

/** The shell: header with navigation and connection state, warnings that concern every view, the view. */
export function App() {
  const { path } = useLocation();
  const live = useLive();
  const stats = useStats();
  const [tokenOpen, setTokenOpen] = useState(false);
  const current = section(path);

  return (
    <>
      <a href="#main" className="skip-link">Skip to content</a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand" aria-label="TaskMaster overview">
            <span className="brand-mark" aria-hidden="true">T</span>
            TaskMaster
          </Link>
          <nav aria-label="Views" className="nav">
            {NAV.map((item) => (
              <Link key={item.to} to={item.to} className="nav-link" aria-current={current === item.to ? 'page' : undefined}>{item.label}</Link>
            ))}
          </nav>
          <div className="topbar-side">
            <span className={`connection connection-${live.connection}`} role="status" title="The event stream from the scheduler">
              <span className="connection-dot" aria-hidden="true" />
              {CONNECTION_LABELS[live.connection]}
            </span>
            <button type="button" className="button button-quiet icon-button" onClick={() => setTokenOpen(true)} aria-label="API token" title="API token">
              <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" d="M15 7a4 4 0 1 1-3.46 6H9l-2 2-2-2 1-1-1-1h6.54A4 4 0 0 1 15 7zm1 3h.01" /></svg>
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {stats.error !== undefined && stats.data && (
          <ErrorNotice title="Lost contact with the scheduler; the numbers below may be stale" error={stats.error} onRetry={stats.refresh} />
        )}
        {stats.data && !stats.data.coordinator_reachable && (
          <div className="notice notice-warn" role="status">
            The coordinator is not answering: tasks are not being dispatched, and worker numbers are unknown.
          </div>
        )}
        {stats.data && <UnhandledNotice unhandled={stats.data.unhandled} />}
        <View path={path} />
      </main>
      {tokenOpen && <TokenDialog onClose={() => setTokenOpen(false)} />}
    </>
  );
}
