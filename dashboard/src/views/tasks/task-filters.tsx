import { useEffect, useState, type ChangeEvent } from 'react';
import type { StatsView } from '../../../../services/scheduler/src/api-types';
import { formatCount } from '../../format';
import type { TaskFilter } from './use-task-list';

/** The status filters the API accepts, with the stats field that counts each. */
export const STATUS_FILTERS: Array<{ value: string; label: string; count?: (s: StatsView) => number }> = [
  { value: '', label: 'All', count: (s) => s.total },
  { value: 'pending', label: 'Pending', count: (s) => s.pending },
  { value: 'active', label: 'Running', count: (s) => s.dispatched + s.running },
  { value: 'succeeded', label: 'Succeeded', count: (s) => s.completed },
  { value: 'failed', label: 'Failed', count: (s) => s.failed },
  { value: 'cancelled', label: 'Cancelled', count: (s) => s.cancelled },
];

const SEARCH_DEBOUNCE_MS = 300;

/** The filters typed as text: applied once typing pauses, so each key press is not a request. */
type TextFilters = Pick<TaskFilter, 'q' | 'name' | 'queue'>;

export function TaskFilters({ filter, stats, onChange }: { filter: TaskFilter; stats?: StatsView; onChange: (next: TaskFilter) => void }) {
  const [text, setText] = useState<TextFilters>({ q: filter.q, name: filter.name, queue: filter.queue });
  useEffect(() => setText({ q: filter.q, name: filter.name, queue: filter.queue }), [filter.q, filter.name, filter.queue]);
  useEffect(() => {
    if (text.q === filter.q && text.name === filter.name && text.queue === filter.queue) return;
    const timer = setTimeout(() => onChange({ ...filter, ...text }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, filter, onChange]);
  const type = (field: keyof TextFilters) => (e: ChangeEvent<HTMLInputElement>) => setText((prev) => ({ ...prev, [field]: e.target.value }));

  return (
    <div className="filters">
      <div className="segmented" role="group" aria-label="Filter by status">
        {STATUS_FILTERS.map((option) => (
          <button key={option.value} type="button" className="segment" aria-pressed={filter.status === option.value}
            onClick={() => onChange({ ...filter, status: option.value })}>
            {option.label}
            {stats && option.count && <> <span className="segment-count">{formatCount(option.count(stats))}</span></>}
          </button>
        ))}
      </div>
      <div className="filters-row">
        <input type="search" className="input search" value={text.q} onChange={type('q')}
          placeholder="Search by task id or command prefix" aria-label="Search tasks by id or command" />
        <input type="search" className="input name-filter mono" value={text.name} onChange={type('name')}
          placeholder="Task name" aria-label="Filter by task name" spellCheck={false} autoCapitalize="off" />
        <input type="search" className="input name-filter mono" value={text.queue} onChange={type('queue')}
          placeholder="Queue" aria-label="Filter by queue" spellCheck={false} autoCapitalize="off" />
        <select className="input" value={filter.order} aria-label="Order"
          onChange={(e) => onChange({ ...filter, order: e.target.value === 'asc' ? 'asc' : 'desc' })}>
          <option value="desc">Latest scheduled first</option>
          <option value="asc">Earliest scheduled first</option>
        </select>
      </div>
    </div>
  );
}
