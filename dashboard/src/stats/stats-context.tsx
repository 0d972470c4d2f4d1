import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { StatsView } from '../../../services/scheduler/src/api-types';
import { api } from '../api/endpoints';
import { usePoll, type Polled } from '../hooks/use-poll';
import { LatencySamples } from '../live/latency-samples';
import { useLive, useLiveStore } from '../live/live-context';
import { WINDOW_SECONDS } from '../live/live-store';

/** One /api/stats answer, kept for the queue and slots charts. */
export interface StatsSample {
  atSec: number;
  pending: number;
  active: number;
  slotsBusy: number;
  slotsTotal: number;
}

export interface StatsState extends Polled<StatsView> {
  history: readonly StatsSample[];
  latency: LatencySamples;
  /** Bumped whenever history or latency samples change, for charts to redraw. */
  version: number;
}

const StatsContext = createContext<StatsState | null>(null);

/** Stats refresh on this interval when nothing happens, and within a second of events when things do. */
const STATS_INTERVAL_MS = 5000;
/** Tasks read per latency sample: the newest started tasks. */
const LATENCY_SAMPLE = 100;

/**
 * Polls /api/stats for every view (counts in the header, cards and charts) and samples schedule-to-start
 * latency when the stream shows tasks starting. Both keep running across view changes so charts have history.
 */
export function StatsProvider({ children }: { children: ReactNode }) {
  const live = useLive();
  const store = useLiveStore();
  const history = useRef<StatsSample[]>([]).current;
  const [latency] = useState(() => new LatencySamples(WINDOW_SECONDS));
  const [version, setVersion] = useState(0);
  const sampledStarts = useRef(-1);

  const stats = usePoll(async (signal) => {
    const view = await api.stats(signal);
    const atSec = Date.now() / 1000;
    history.push({ atSec, pending: view.pending, active: view.dispatched + view.running, slotsBusy: view.slots_busy, slotsTotal: view.slots_total });
    while (history.length > 0 && history[0].atSec < atSec - WINDOW_SECONDS) history.shift();
    setVersion((v) => v + 1);
    return view;
  }, { intervalMs: STATS_INTERVAL_MS });

  const sampler = usePoll(async (signal) => {
    const starts = store.getSnapshot().taskStarts;
    if (starts === sampledStarts.current) return;
    sampledStarts.current = starts;
    const page = await api.tasks({ status: 'active,succeeded,failed', limit: LATENCY_SAMPLE }, signal);
    latency.add(page.tasks);
    latency.prune(Date.now());
    setVersion((v) => v + 1);
  }, { intervalMs: STATS_INTERVAL_MS, minGapMs: 2000 });

  const { refreshSoon } = stats;
  const sampleSoon = sampler.refreshSoon;
  // Keyed on the counters alone: refreshSoon is debounced, so a burst of events makes one request.
  useEffect(() => {
    if (live.lastEventId > 0) refreshSoon();
  }, [live.lastEventId]);
  useEffect(() => {
    if (live.taskStarts > 0) sampleSoon();
  }, [live.taskStarts]);

  return <StatsContext.Provider value={{ ...stats, history, latency, version }}>{children}</StatsContext.Provider>;
}

export function useStats(): StatsState {
  const state = useContext(StatsContext);
  if (!state) throw new Error('useStats must be used inside <StatsProvider>');
  return state;
}
