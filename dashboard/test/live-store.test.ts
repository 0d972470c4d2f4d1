import { describe, expect, it, vi } from 'vitest';
import { connectEventStream } from '../src/live/event-connection';
import { LiveStore, LOG_CAPACITY } from '../src/live/live-store';
import { RateSeries } from '../src/live/rate-series';
import { event } from './fake-api';
import { fakeEventSources } from './fake-event-source';

describe('LiveStore', () => {
  it('adds each event once, so a replay after reconnecting changes nothing', () => {
    const store = new LiveStore();
    const a = event({ type: 'completed' });
    const b = event({ type: 'started' });
    store.ingest([a, b]);
    store.ingest([a, b]);
    expect(store.getSnapshot().received).toBe(2);
    expect(store.getSnapshot().lastEventId).toBe(b.id);
    expect(store.getSnapshot().taskStarts).toBe(1);
    expect(store.rates.recentRate('completed', Date.parse(a.at), 1)).toBe(1);
    store.close();
  });

  it('keeps a bounded buffer and tells subscribers once per burst', async () => {
    const store = new LiveStore();
    const listener = vi.fn();
    store.subscribe(listener);
    for (let i = 0; i < LOG_CAPACITY * 3; i++) store.ingest([event()]);
    await vi.waitFor(() => expect(listener).toHaveBeenCalled());
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getSnapshot().events).toHaveLength(LOG_CAPACITY);
    expect(store.getSnapshot().received).toBe(LOG_CAPACITY * 3);
    store.close();
  });
});

describe('connectEventStream', () => {
  it('opens a new stream from the last event seen when the browser gives up on one', () => {
    vi.useFakeTimers();
    try {
      const store = new LiveStore();
      const sources = fakeEventSources();
      const disconnect = connectEventStream(store, sources.open);
      expect(sources.latest().url).toBe('/api/logs/stream');
      sources.latest().open();
      const seen = event();
      sources.latest().emit(seen);

      // A dropped connection the browser retries itself: nothing to do but show it.
      sources.latest().fail();
      expect(store.getSnapshot().connection).toBe('reconnecting');
      vi.advanceTimersByTime(60_000);
      expect(sources.all).toHaveLength(1);

      // A non-stream answer (a proxy's 502) closes it for good: open another, resuming after the last id.
      sources.latest().fail(true);
      vi.advanceTimersByTime(1000);
      expect(sources.all).toHaveLength(2);
      expect(sources.latest().url).toBe(`/api/logs/stream?last_event_id=${seen.id}`);
      sources.latest().open();
      expect(store.getSnapshot().connection).toBe('live');

      disconnect();
      expect(sources.latest().closed).toBe(true);
      store.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('with a token set, opens every stream with a fresh ticket, the one after a closed stream too', async () => {
    const store = new LiveStore();
    const sources = fakeEventSources();
    let issued = 0;
    const disconnect = connectEventStream(store, sources.open, () => Promise.resolve(`ticket-${++issued}`));
    await vi.waitFor(() => expect(sources.all).toHaveLength(1));
    expect(sources.latest().url).toBe('/api/logs/stream?ticket=ticket-1');
    vi.useFakeTimers();
    try {
      // Its ticket expired and the browser's own reconnect was refused (401): a new stream, a new ticket.
      sources.latest().fail(true);
      vi.advanceTimersByTime(1000);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(() => expect(sources.all).toHaveLength(2));
    expect(sources.latest().url).toBe('/api/logs/stream?ticket=ticket-2');
    disconnect();
  });
});

describe('RateSeries', () => {
  it('reports rates per bucket, the current bucket by the seconds it has had', () => {
    const rates = new RateSeries(['done'] as const, 30);
    const t0 = 1_000_000_000_000; // a bucket boundary (multiple of 10 s)
    for (let i = 0; i < 20; i++) rates.add('done', t0 - 10_000 + i * 100); // 20 in the previous bucket's first 2 s
    for (let i = 0; i < 6; i++) rates.add('done', t0 + 1500); // 6 in the current bucket, 2 s old at t0 + 1.5 s
    const { x, series } = rates.rates(t0 + 1500, 10);
    expect(x).toEqual([t0 / 1000 - 20, t0 / 1000 - 10, t0 / 1000]);
    expect(series.done).toEqual([0, 2, 3]);
    expect(rates.recentRate('done', t0 + 1500, 2)).toBe(3);
  });
});
