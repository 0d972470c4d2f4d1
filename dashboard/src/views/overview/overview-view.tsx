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
