import { useCallback, useEffect, useState } from 'react';
import { errorMessage } from '../../api/client';
import { Empty, ErrorNotice, Loading } from '../../components/states';
import { navigate, useLocation } from '../../hooks/use-route';
import { useLive } from '../../live/live-context';
import { useStats } from '../../stats/stats-context';
import { BulkBar } from './bulk-bar';
import { SchedulePanel } from './schedule-panel';
import { TaskFilters } from './task-filters';
import { TaskTable } from './task-table';
import { useTaskList, type TaskFilter } from './use-task-list';
import { useWorkerNames } from './use-worker-names';

/** Tasks: filter, search and page through them; schedule new ones. The filter lives in the URL, so it can be shared. */
export function TasksView() {
  const { search } = useLocation();
  const filter: TaskFilter = {
    status: search.get('status') ?? '',
    q: search.get('q') ?? '',
    name: search.get('name') ?? '',
    queue: search.get('queue') ?? '',
    order: search.get('order') === 'asc' ? 'asc' : 'desc',
  };
  const list = useTaskList(filter);
  const workerName = useWorkerNames();
  const filtered = Boolean(filter.q || filter.status || filter.name || filter.queue);
  const stats = useStats();
  const live = useLive();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const select = useCallback((ids: readonly string[], on: boolean) => setSelected((current) => {
    const next = new Set(current);
    for (const id of ids) if (on) next.add(id); else next.delete(id);
    return next;
  }), []);

  const setFilter = useCallback((next: TaskFilter) => {
    const params = new URLSearchParams();
    if (next.status) params.set('status', next.status);
    if (next.q) params.set('q', next.q);
    if (next.name) params.set('name', next.name);
    if (next.queue) params.set('queue', next.queue);
    if (next.order === 'asc') params.set('order', 'asc');
    const text = params.toString();
    navigate(`/tasks${text ? `?${text}` : ''}`, { replace: true });
  }, []);

  const { following, refreshSoon } = list;
  useEffect(() => {
    if (following && live.lastEventId > 0) refreshSoon();
    // Only new events should trigger this; refreshSoon folds bursts into one request.
  }, [live.lastEventId]);

  const onChanged = () => {
    list.refreshSoon();
    stats.refreshSoon();
  };
  const onBulkDone = () => {
    setSelected(new Set());
    onChanged();
  };

  return (
    <div className="tasks-layout">
      <section className="card task-list" aria-labelledby="tasks-heading">
        <div className="card-header">
          <h2 id="tasks-heading">Tasks</h2>
          <span className="muted small" aria-live="polite">{following ? 'Updating live' : 'Paused while browsing pages'}</span>
          <button type="button" className="button button-quiet" onClick={list.refresh}>Refresh</button>
        </div>
        <TaskFilters filter={filter} stats={stats.data} onChange={setFilter} />
        <BulkBar selected={[...selected]} filter={filter} onDone={onBulkDone} />
        {list.loading ? (
          <Loading label="Loading tasks…" />
        ) : list.error !== undefined && list.tasks.length === 0 ? (
          <ErrorNotice title="Could not load tasks" error={list.error} onRetry={list.refresh} />
        ) : list.tasks.length === 0 ? (
          <Empty title={filtered ? 'No tasks match this filter' : 'No tasks yet'}>
            {filtered ? 'Try another status, name, queue or search.' : 'Schedule a batch to see TaskMaster at work.'}
          </Empty>
        ) : (
          <>
            {list.error !== undefined && <ErrorNotice title="Showing the last tasks loaded" error={list.error} onRetry={list.refresh} />}
            <TaskTable tasks={list.tasks} workerName={workerName} onChanged={onChanged} selected={selected} onSelect={select} />
            <div className="table-footer">
              <span className="muted small">{list.tasks.length} shown</span>
              {list.moreError !== undefined && <span className="inline-error" role="alert">{errorMessage(list.moreError)}</span>}
              {list.hasMore && (
                <button type="button" className="button" onClick={list.loadMore} disabled={list.loadingMore}>
                  {list.loadingMore ? 'Loading…' : 'Load more'}
                </button>
              )}
            </div>
          </>
        )}
      </section>
      <SchedulePanel onScheduled={onChanged} />
    </div>
  );
}
