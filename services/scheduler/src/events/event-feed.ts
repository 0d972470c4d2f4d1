import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import { listen, type Listener } from '../../../common/src/db/listener';
import type { EventView } from '../api-types';
import { readEventHead, readEventPage, readEventsAfter, readRecentEvents } from '../db/events';
import { eventView } from '../views';
import { GapWatch } from './gap-watch';

/**
 * Receives events in id order. During catch-up the feed awaits what it returns before reading the next page
 * (backpressure); live batches are not awaited, so a live sink must bound its own buffering (sse.ts).
 */
export type EventSink = (events: readonly EventView[]) => void | Promise<void>;

export interface SubscribeOptions {
  /** Resume after this event id (Last-Event-ID); without it the subscriber gets the newest backlogSize events. */
  after?: number;
  /** Stops a catch-up in progress (the client went away). */
  signal?: AbortSignal;
  /**
   * The most events a resume catches up on: further behind, it resumes that many ids before the newest, and
   * `onSkipped(after, resumedAfter)` is told first (ids may have gaps, so at most that many are sent).
   */
  maxCatchUp?: number;
  onSkipped?: (after: number, resumedAfter: number) => void;
}

export interface EventFeedOptions {
  pool: Pool;
  database: DatabaseConfig;
  logger: Logger;
  /** Events replayed to a new subscriber that gives no Last-Event-ID. */
  backlogSize?: number;
  /** Fallback poll while someone is subscribed, in case a notification is lost. */
  pollIntervalMs?: number;
  /** The longest a missing event id holds back the ids after it (GapWatch); default 10 s. */
  gapTimeoutMs?: number;
  /** Events per query, for the tail and for each catch-up page. */
  pageSize?: number;
}

/** How often a held-back gap is looked at again. */
const GAP_RECHECK_MS = 20;

/**
 * The scheduler's one tail of the events table, shared by every SSE subscriber of this process. The table is
 * the source, so every replica streams the same complete sequence. Woken by NOTIFY (and a slow poll), the tail
 * reads in id order and holds back ids after a missing one until GapWatch says it is filled or gone.
 *
 * A subscriber first catches up on its own, page by page, from its Last-Event-ID (or the backlog) to the
 * tail's cursor, then joins the live set in the same tick as it finds itself at the cursor: so it gets every
 * event once, in order, however far behind it started, with one page in memory at a time. The cursor moves
 * only in the tail's exclusive section (start and reads), so concurrent first subscribers share one start.
 * With nobody subscribed the tail reads nothing and is restarted at the next subscriber.
 */
export class EventFeed {
  private readonly live = new Set<EventSink>();
  private interested = 0;
  private cursor = 0;
  private stale = true;
  private starting: Promise<void> | undefined;
  private exclusive: Promise<void> = Promise.resolve();
  private listener: Listener | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private reading = false;
  private readAgain = false;
  private failing = false;
  private closed = false;
  private readonly gaps: GapWatch;
  private readonly backlogSize: number;
  private readonly pollIntervalMs: number;
  private readonly gapTimeoutMs: number;
  private readonly pageSize: number;

  constructor(private readonly options: EventFeedOptions) {
    this.backlogSize = options.backlogSize ?? 250;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.gapTimeoutMs = options.gapTimeoutMs ?? 10_000;
    this.pageSize = options.pageSize ?? 1000;
    this.gaps = new GapWatch(this.gapTimeoutMs);
  }

  /**
   * Subscribes `sink`: it gets every event after `options.after` (or the newest backlogSize events), then every
   * new one, in id order, with no duplicate and no gap. Resolves with the unsubscribe function once `sink` is
   * live; rejects when the database cannot be read (the client reconnects and resumes).
   */
  async subscribe(sink: EventSink, options: SubscribeOptions = {}): Promise<() => void> {
    const { pool } = this.options;
    let joined: EventSink | undefined;
    let released = false;
    this.interested++;
    const release = () => {
      if (released) return;
      released = true;
      if (joined) this.live.delete(joined);
      this.interested--;
    };
    try {
      await this.ready();
      let position: number;
      if (options.after === undefined) {
        const upTo = this.cursor;
        await sink((await readRecentEvents(pool, this.backlogSize, upTo)).map(eventView));
        position = upTo;
      } else if (options.maxCatchUp !== undefined && this.cursor - options.after > options.maxCatchUp) {
        position = this.cursor - options.maxCatchUp;
        options.onSkipped?.(options.after, position);
      } else {
        position = options.after;
      }
      while (position < this.cursor) {
        if (options.signal?.aborted) break;
        const upTo = this.cursor;
        const page = await readEventsAfter(pool, position, this.pageSize, upTo);
        if (page.length > 0) await sink(page.map(eventView));
        position = page.length < this.pageSize ? upTo : page[page.length - 1].id;
      }
      // No await between the loop's last check and here: the tail cannot deliver in between. A subscriber
      // that resumed past the cursor (another replica was ahead) is filtered until the tail passes it.
      let last = position;
      joined = (events) => {
        const fresh = last >= events[events.length - 1].id ? [] : events.filter((event) => event.id > last);
        if (fresh.length === 0) return;
        last = fresh[fresh.length - 1].id;
        void sink(fresh);
      };
      if (!options.signal?.aborted && !released) this.live.add(joined);
      this.read();
      return release;
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live.clear();
    clearInterval(this.pollTimer);
    clearTimeout(this.recheckTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /** Resolves once the cursor is current; the first subscribers after an idle spell share one start. */
  private async ready(): Promise<void> {
    if (!this.stale) return;
    this.starting ??= this.inExclusive(() => this.start()).finally(() => {
      this.starting = undefined;
    });
    await this.starting;
  }

  /** Runs `task` after every other start or read has finished: the cursor has one writer at a time. */
  private inExclusive(task: () => Promise<void>): Promise<void> {
    const run = this.exclusive.then(task);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts the tail at the newest event id, once every transaction that could still commit a lower id has
   * ended (the same rule as a gap, GapWatch): a lower id committed after the start would be behind the cursor
   * and reach no one.
   */
  private async start(): Promise<void> {
    if (!this.stale) return;
    const { pool, logger } = this.options;
    const head = await readEventHead(pool);
    const settle = new GapWatch(this.gapTimeoutMs);
    let snapshot = head.snapshot;
    for (;;) {
      const verdict = settle.verdict(0, snapshot);
      if (verdict === 'gone') break;
      if (verdict === 'given-up') {
        logger.warn({ after_ms: this.gapTimeoutMs }, 'event feed started while older transactions were still open');
        break;
      }
      await sleep(GAP_RECHECK_MS);
      snapshot = (await readEventHead(pool)).snapshot;
    }
    this.cursor = head.lastId;
    this.gaps.reset();
    this.stale = false;
    if (this.closed) return;
    this.listener ??= listen(this.options.database, ['taskmaster_events'], () => this.read(), logger);
    this.pollTimer ??= setInterval(() => this.read(), this.pollIntervalMs);
  }

  /** Reads new events soon; reads running back to back are folded into one more. */
  private read(): void {
    if (this.closed) return;
    if (this.interested === 0) {
      // Nobody to deliver to: stop reading; the next subscriber restarts the tail at the head.
      this.stale = true;
      return;
    }
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.inExclusive(() => this.readNewEvents())
      .then(() => {
        if (this.failing) this.options.logger.info('event feed reading again');
        this.failing = false;
      })
      .catch((err) => {
        // Once per outage at warn: the poll and the listener's reconnect retry it.
        const log = this.options.logger;
        (this.failing ? log.debug : log.warn).call(log, { err: (err as Error).message }, 'reading new events failed');
        this.failing = true;
      })
      .finally(() => {
        this.reading = false;
        if (this.readAgain) {
          this.readAgain = false;
          this.read();
        }
      });
  }

  private async readNewEvents(): Promise<void> {
    if (this.stale) return;
    const { pool, logger } = this.options;
    for (;;) {
      const { rows, snapshot } = await readEventPage(pool, this.cursor, this.pageSize);
      const deliverable: EventView[] = [];
      let held = false;
      for (const row of rows) {
        if (row.id !== this.cursor + 1) {
          const missing = { from: this.cursor + 1, to: row.id - 1 };
          const verdict = this.gaps.verdict(missing.from, snapshot);
          if (verdict === 'wait') {
            held = true;
            break;
          }
          if (verdict === 'given-up') logger.warn({ missing, waited_ms: this.gaps.age() }, 'event ids still uncommitted after the bound; skipping them');
          else logger.debug({ missing, waited_ms: this.gaps.age() }, 'event ids will never commit; skipping them');
        }
        this.cursor = row.id;
        deliverable.push(eventView(row));
      }
      if (deliverable.length > 0) for (const sink of [...this.live]) sink(deliverable);
      if (held) {
        clearTimeout(this.recheckTimer);
        this.recheckTimer = setTimeout(() => this.read(), GAP_RECHECK_MS);
        return;
      }
      if (rows.length < this.pageSize) return;
    }
  }
}
