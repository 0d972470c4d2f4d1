import type { StatsView } from '../../../../services/scheduler/src/api-types';
import { Link } from '../../components/link';
import { ErrorNotice, Loading } from '../../components/states';
import { useNow } from '../../hooks/use-now';
import { useLive, useLiveStore } from '../../live/live-context';
import { useStats } from '../../stats/stats-context';
import { EventRow } from '../log/event-row';
import { OverviewCharts } from './overview-charts';
import { StatCards } from './stat-cards';

/** Rates on the cards are averaged over this many seconds: steady enough to read, recent enough to matter. */
const CARD_RATE_SECONDS = 10;
const RECENT_EVENTS = 8;

/** The system at a glance: counts, workers, the last five minutes as charts, and the latest events. */
export function OverviewView() {
  const stats = useStats();
  const store = useLiveStore();
  const live = useLive();
  const now = useNow(1000);

  if (stats.loading) return <Loading label="Loading statistics…" />;
  if (!stats.data) return <ErrorNotice title="Could not load statistics" error={stats.error} onRetry={stats.refresh} />;

  const rates = {
    completed: store.rates.recentRate('completed', now, CARD_RATE_SECONDS),
    failed: store.rates.recentRate('failed', now, CARD_RATE_SECONDS),
    started: store.rates.recentRate('started', now, CARD_RATE_SECONDS),
  };
  const recent = live.events.slice(-RECENT_EVENTS).reverse();

  return (
    <div className="overview">
      <StatCards stats={stats.data} rates={rates} />
      {stats.data.retention && <RetentionNote retention={stats.data.retention} />}
      <OverviewCharts />
      <section className="card" aria-labelledby="recent-heading">
        <div className="card-header">
          <h2 id="recent-heading">Latest events</h2>
          <Link to="/logs" className="small">Open the live log →</Link>
        </div>
        {recent.length === 0 ? (
          <p className="muted">No events yet. Schedule tasks from the <Link to="/tasks">Tasks</Link> view and watch them flow here.</p>
        ) : (
          <ol className="event-list">{recent.map((event) => <EventRow key={event.id} event={event} />)}</ol>
        )}
      </section>
    </div>
  );
}

/** "2 d", "36 h", or "forever" for 0: how long the coordinators keep finished tasks. */
function keptFor(seconds: number): string {
  if (seconds <= 0) return 'forever';
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${Math.round(seconds / 60)} min`;
}

/** What is kept: the retention per finished state and for events (TASK_RETENTION_*, EVENTS_RETENTION). */
function RetentionNote({ retention }: { retention: NonNullable<StatsView['retention']> }) {
  return (
    <p className="muted small retention-note">
      Finished tasks are kept: succeeded {keptFor(retention.succeeded_seconds)}, failed {keptFor(retention.failed_seconds)},
      {' '}cancelled {keptFor(retention.cancelled_seconds)}; events and attempt history {keptFor(retention.events_seconds)}.
    </p>
  );
}
