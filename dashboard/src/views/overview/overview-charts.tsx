import { useMemo } from 'react';
import { TimeChart, type ChartSeries } from '../../components/time-chart';
import { formatDuration, formatRate } from '../../format';
import { useNow } from '../../hooks/use-now';
import { useLiveStore } from '../../live/live-context';
import { WINDOW_SECONDS } from '../../live/live-store';
import { useStats } from '../../stats/stats-context';

const THROUGHPUT: ChartSeries[] = [
  { label: 'Completed', colorVar: '--succeeded', fill: true },
  { label: 'Failed', colorVar: '--failed' },
];
const LATENCY: ChartSeries[] = [
  { label: 'p50', colorVar: '--series-1', points: true },
  { label: 'p95', colorVar: '--series-2', points: true },
];
const QUEUE: ChartSeries[] = [
  { label: 'Pending', colorVar: '--pending', fill: true },
  { label: 'Running', colorVar: '--running' },
];
const SLOTS: ChartSeries[] = [
  { label: 'Busy', colorVar: '--series-1', fill: true },
  { label: 'Total', colorVar: '--text-muted' },
];

/**
 * Charts show the last WINDOW_SECONDS, but no more than a minute before the page opened: what came before
 * is unknown (only the stream's short backlog), and a fresh page should not be a flat line with a sliver.
 */
const HISTORY_BEFORE_OPEN_SECONDS = 60;
const RATE_BUCKET_SECONDS = 5;
const LATENCY_BUCKET_SECONDS = 10;

const peak = (values: readonly (number | null)[]) => values.reduce<number>((max, v) => (v !== null && v > max ? v : max), 0);
const last = <T,>(values: readonly T[]) => values[values.length - 1];
const formatMs = (ms: number) => formatDuration(ms);
const formatWhole = (n: number) => String(Math.round(n));

/** The four charts of the last five minutes: throughput, latency, queue depth and slots. */
export function OverviewCharts() {
  const store = useLiveStore();
  const stats = useStats();
  const now = useNow(1000);
  const fromSec = Math.max(now / 1000 - WINDOW_SECONDS, store.openedAt / 1000 - HISTORY_BEFORE_OPEN_SECONDS);

  const throughput = useMemo(() => store.rates.rates(now, RATE_BUCKET_SECONDS), [store, now]);
  const latency = useMemo(() => stats.latency.percentiles(now, LATENCY_BUCKET_SECONDS), [stats.latency, stats.version, now]);
  const history = useMemo(() => {
    const h = stats.history;
    return {
      x: h.map((s) => s.atSec),
      pending: h.map((s) => s.pending),
      active: h.map((s) => s.active),
      busy: h.map((s) => s.slotsBusy),
      total: h.map((s) => s.slotsTotal),
    };
  }, [stats.history, stats.version]);

  const p50 = latency.p50.filter((v): v is number => v !== null);
  return (
    <div className="chart-grid">
      <ChartCard title="Throughput" subtitle="tasks finished per second">
        <TimeChart series={THROUGHPUT} fromSec={fromSec} format={formatRate}
          data={[throughput.x, throughput.series.completed, throughput.series.failed]}
          summary={`Completed per second in view: peak ${formatRate(peak(throughput.series.completed))}, latest ${formatRate(last(throughput.series.completed) ?? 0)}.`} />
      </ChartCard>
      <ChartCard title="Schedule-to-start latency" subtitle="from due time to started, recent tasks">
        <TimeChart series={LATENCY} fromSec={fromSec} format={formatMs}
          data={[latency.x, latency.p50, latency.p95]}
          summary={p50.length > 0 ? `Median schedule-to-start latency, latest ${formatDuration(last(p50))}.` : 'No task started in view.'} />
      </ChartCard>
      <ChartCard title="Queue depth" subtitle="pending and running tasks">
        <TimeChart series={QUEUE} fromSec={fromSec} format={formatWhole} integer
          data={[history.x, history.pending, history.active]}
          summary={`Pending tasks in view: peak ${peak(history.pending)}, now ${last(history.pending) ?? 0}.`} />
      </ChartCard>
      <ChartCard title="Worker slots" subtitle="busy of total">
        <TimeChart series={SLOTS} fromSec={fromSec} format={formatWhole} integer
          data={[history.x, history.busy, history.total]}
          summary={`Busy slots now ${last(history.busy) ?? 0} of ${last(history.total) ?? 0}.`} />
      </ChartCard>
    </div>
  );
}

function ChartCard({ title, subtitle, children }: { title: string; subtitle: string; children: React.ReactNode }) {
  return (
    <section className="card chart-card">
      <div className="card-header">
        <h2>{title}</h2>
        <span className="muted small">{subtitle}</span>
      </div>
      {children}
    </section>
  );
}
