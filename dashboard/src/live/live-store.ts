import type { EventView } from '../../../services/scheduler/src/api-types';
import { RateSeries } from './rate-series';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export interface LiveSnapshot {
  connection: ConnectionState;
  /** The newest events, oldest first, at most LOG_CAPACITY. */
  events: readonly EventView[];
  /** Highest event id seen: where a reconnect resumes. 0 before the first. */
  lastEventId: number;
  /** Events received since the page opened, including those that fell out of the buffer. */
  received: number;
  /** 'started' events received: tells the latency sampler there is something new to sample. */
  taskStarts: number;
}

/** The live log keeps this many events: a bounded buffer, however fast tasks run. */
export const LOG_CAPACITY = 1000;
/** Charts cover this many seconds. */
export const WINDOW_SECONDS = 300;
/** Views re-render at most this often while events pour in. */
const NOTIFY_INTERVAL_MS = 250;

export const RATE_KEYS = ['completed', 'failed', 'started', 'scheduled'] as const;
export type RateKey = (typeof RATE_KEYS)[number];

/**
 * Everything the dashboard learns from the event stream. Events go into a bounded buffer and per-second
 * counters; subscribers are told at most every NOTIFY_INTERVAL_MS, so a burst of thousands of events costs
 * one render, not thousands. Ids make ingest idempotent: the replay after a reconnect adds nothing twice.
 */
export class LiveStore {
  readonly rates = new RateSeries<RateKey>(RATE_KEYS, WINDOW_SECONDS);
  /** When this page started listening, in epoch ms. */
  readonly openedAt = Date.now();
  private snapshot: LiveSnapshot = { connection: 'connecting', events: [], lastEventId: 0, received: 0, taskStarts: 0 };
  private buffer: EventView[] = [];
  private readonly listeners = new Set<() => void>();
  private notifyTimer: ReturnType<typeof setTimeout> | undefined;

  getSnapshot = (): LiveSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  ingest(events: readonly EventView[]): void {
    let { lastEventId, received, taskStarts } = this.snapshot;
    for (const event of events) {
      if (event.id <= lastEventId) continue;
      lastEventId = event.id;
      received++;
      this.buffer.push(event);
      if (event.type === 'started') taskStarts++;
      if ((RATE_KEYS as readonly string[]).includes(event.type)) this.rates.add(event.type as RateKey, Date.parse(event.at));
    }
    if (lastEventId === this.snapshot.lastEventId) return;
    if (this.buffer.length > LOG_CAPACITY * 1.5) this.buffer = this.buffer.slice(-LOG_CAPACITY);
    this.snapshot = { ...this.snapshot, lastEventId, received, taskStarts };
    this.scheduleNotify();
  }

  setConnection(connection: ConnectionState): void {
    if (connection === this.snapshot.connection) return;
    this.snapshot = { ...this.snapshot, connection };
    this.notifyNow();
  }

  /** Stops the pending notification; subscribers unsubscribe themselves. */
  close(): void {
    clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
  }

  private scheduleNotify(): void {
    this.notifyTimer ??= setTimeout(() => this.notifyNow(), NOTIFY_INTERVAL_MS);
  }

  private notifyNow(): void {
    clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
    this.rates.prune(Date.now());
    if (this.buffer.length > LOG_CAPACITY) this.buffer = this.buffer.slice(-LOG_CAPACITY);
    this.snapshot = { ...this.snapshot, events: this.buffer.slice() };
    for (const listener of [...this.listeners]) listener();
  }
}
