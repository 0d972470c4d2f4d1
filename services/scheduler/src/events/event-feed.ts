import type { DatabaseConfig } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import { listen, type Listener } from '../../../common/src/db/listener';
import type { EventView } from '../api-types';
import { lastEventId, readEventsAfter, readRecentEvents } from '../db/events';
import { eventView } from '../views';

export type EventSink = (events: readonly EventView[]) => void;

export interface EventFeedOptions {
  pool: Pool;
  database: DatabaseConfig;
  logger: Logger;
  /** Events replayed to a new subscriber that gives no Last-Event-ID. */
  backlogSize?: number;
  /** Fallback poll while someone is subscribed, in case a notification is lost. */
  pollIntervalMs?: number;
  /** How long a gap in event ids is waited for before it is skipped (a rolled-back insert). */
  gapTimeoutMs?: number;
}

const BATCH = 1000;

/**
 * Tails the events table for live subscribers (the SSE stream). The table is the source, so every scheduler
 * replica streams the same, complete sequence (issue 4). Woken by NOTIFY, it reads in id order; when an id is
 * missing it waits up to gapTimeoutMs for the transaction that took it to commit (ids are assigned before
 * commit, so they can become visible out of order), then skips it (the transaction rolled back).
 * With no subscriber it reads nothing: /api/logs queries the table itself.
 */
export class EventFeed {
  private readonly subscribers = new Set<EventSink>();
  private cursor = 0;
  private listener: Listener | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reading = false;
  private readAgain = false;
  private gap: { id: number; since: number } | undefined;
  private readonly backlogSize: number;
  private readonly pollIntervalMs: number;
  private readonly gapTimeoutMs: number;

  constructor(private readonly options: EventFeedOptions) {
    this.backlogSize = options.backlogSize ?? 250;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.gapTimeoutMs = options.gapTimeoutMs ?? 2000;
  }

  /**
   * Subscribes `sink`: it first gets the backlog (events after `lastEventId`, or the newest backlogSize
   * events), then every new event, in order, with no duplicate and no gap between the two.
   */
  async subscribe(sink: EventSink, lastEventId?: number): Promise<() => void> {
    if (this.subscribers.size === 0) await this.startTailing();
    const upTo = this.cursor;
    const live: EventView[] = [];
    const buffering: EventSink = (events) => live.push(...events);
    this.subscribers.add(buffering);
    try {
      const { pool } = this.options;
      const backlog = lastEventId === undefined
        ? await readRecentEvents(pool, this.backlogSize, upTo)
        : await readEventsAfter(pool, lastEventId, 10 * BATCH, upTo);
      sink(backlog.map(eventView));
      sink(live);
    } finally {
      this.subscribers.delete(buffering);
    }
    this.subscribers.add(sink);
    return () => {
      this.subscribers.delete(sink);
      if (this.subscribers.size === 0) void this.stopTailing();
    };
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    await this.stopTailing();
  }

  private async startTailing(): Promise<void> {
    this.cursor = await lastEventId(this.options.pool);
    this.gap = undefined;
    this.listener ??= listen(this.options.database, ['taskmaster_events'], () => this.read(), this.options.logger);
    this.pollTimer ??= setInterval(() => this.read(), this.pollIntervalMs);
  }

  private async stopTailing(): Promise<void> {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  private read(): void {
    if (this.subscribers.size === 0) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readNewEvents()
      .catch((err) => this.options.logger.warn({ err: (err as Error).message }, 'reading new events failed'))
      .finally(() => {
        this.reading = false;
        if (this.readAgain) {
          this.readAgain = false;
          this.read();
        }
      });
  }

  private async readNewEvents(): Promise<void> {
    for (;;) {
      const rows = await readEventsAfter(this.options.pool, this.cursor, BATCH);
      const deliverable = [];
      for (const row of rows) {
        if (row.id !== this.cursor + 1 && !this.gapExpired(this.cursor + 1)) {
          setTimeout(() => this.read(), 20);
          break;
        }
        this.cursor = row.id;
        deliverable.push(eventView(row));
      }
      if (deliverable.length > 0) for (const sink of [...this.subscribers]) sink(deliverable);
      if (rows.length < BATCH || deliverable.length < rows.length) return;
    }
  }

  private gapExpired(missingId: number): boolean {
    const now = Date.now();
    if (this.gap?.id !== missingId) this.gap = { id: missingId, since: now };
    return now - this.gap.since >= this.gapTimeoutMs;
  }
}
