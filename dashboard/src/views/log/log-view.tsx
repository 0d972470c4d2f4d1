import { useMemo, useState } from 'react';
import type { EventView } from '../../../../services/scheduler/src/api-types';
import { Empty } from '../../components/states';
import { formatCount } from '../../format';
import { useLive } from '../../live/live-context';
import { LOG_CAPACITY } from '../../live/live-store';
import { EventRow } from './event-row';

/** Event types grouped as people think of them. */
const TYPE_GROUPS: Array<{ label: string; types: string[] }> = [
  { label: 'Tasks', types: ['scheduled', 'assigned', 'started', 'completed', 'failed', 'retried', 'reassigned', 'cancelled'] },
  { label: 'Workers', types: ['worker_joined', 'worker_left', 'worker_evicted', 'scale', 'kill'] },
  { label: 'Operators', types: ['operator', 'scale', 'kill'] },
];
/** Rows drawn at once: the buffer holds more, drawing them all would make the page sluggish. */
const MAX_ROWS = 500;

/** The live event stream: filter by type and text, pause to read, clear to start fresh. */
export function LogView() {
  const live = useLive();
  const [hidden, setHidden] = useState<Set<string>>(() => new Set());
  const [text, setText] = useState('');
  const [paused, setPaused] = useState<{ events: readonly EventView[]; received: number } | null>(null);
  const [clearedAfter, setClearedAfter] = useState(0);

  const source = paused?.events ?? live.events;
  const visible = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const rows: EventView[] = [];
    for (let i = source.length - 1; i >= 0 && rows.length < MAX_ROWS; i--) {
      const event = source[i];
      if (event.id <= clearedAfter || hidden.has(event.type)) continue;
      if (needle && !event.message.toLowerCase().includes(needle) && !event.task_id?.includes(needle)) continue;
      rows.push(event);
    }
    return rows;
  }, [source, hidden, text, clearedAfter]);

  const toggle = (type: string) => setHidden((prev) => {
    const next = new Set(prev);
    if (next.has(type)) next.delete(type);
    else next.add(type);
    return next;
  });
  const missed = paused ? live.received - paused.received : 0;

  return (
    <section className="card log" aria-labelledby="log-heading">
      <div className="card-header">
        <h2 id="log-heading">Live log</h2>
        <span className="muted small">newest first · keeps the last {formatCount(LOG_CAPACITY)} events</span>
      </div>
      <div className="log-toolbar">
        <button type="button" className={`button ${paused ? 'button-primary' : ''}`} aria-pressed={paused !== null}
          onClick={() => setPaused(paused ? null : { events: live.events, received: live.received })}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" className="button button-quiet" onClick={() => setClearedAfter(live.lastEventId)}>Clear</button>
        <input type="search" className="input search" placeholder="Filter by text or task id" aria-label="Filter events by text or task id"
          value={text} onChange={(e) => setText(e.target.value)} />
        {paused && <span className="small text-warn" role="status">{formatCount(missed)} new event{missed === 1 ? '' : 's'} while paused</span>}
      </div>
      <div className="type-filters">
        {TYPE_GROUPS.map((group) => (
          <fieldset key={group.label} className="type-group">
            <legend className="small muted">{group.label}</legend>
            {group.types.map((type) => (
              <label key={type} className={`chip event-type-${type}`}>
                <input type="checkbox" checked={!hidden.has(type)} onChange={() => toggle(type)} />
                {type.replace('_', ' ')}
              </label>
            ))}
          </fieldset>
        ))}
      </div>
      {visible.length === 0 ? (
        <Empty title={source.length === 0 ? 'Waiting for events' : 'No event matches these filters'}>
          {source.length === 0 ? 'Events appear here the moment tasks are scheduled, run and finish.' : 'Show more types or change the text filter.'}
        </Empty>
      ) : (
        <ol className="event-list log-list" aria-label="Events">
          {visible.map((event) => <EventRow key={event.id} event={event} />)}
        </ol>
      )}
    </section>
  );
}
