import type { Request, Response } from 'express';
import type { EventView } from '../api-types';
import { parseEventId } from '../validation';
import type { EventFeed } from './event-feed';

export interface SseOptions {
  keepAliveMs: number;
  /** Bytes a client may fall behind before it is dropped; it reconnects with Last-Event-ID and resumes. */
  maxBufferedBytes?: number;
  onClientsChanged?: (delta: 1 | -1) => void;
  /** SSE_MAX_CLIENTS: streams open at once; one more is 503 with Retry-After. */
  maxClients?: number;
  /** SSE_MAX_RESUME: the most events one resume catches up on (further behind: a `truncated` event first). */
  maxResumeEvents?: number;
}

/**
 * GET /api/logs/stream: Server-Sent Events. Each event carries its id, so a reconnecting EventSource sends
 * Last-Event-ID and resumes exactly where it stopped (EventFeed pages through the table, waiting for each page to
 * drain), up to SSE_MAX_RESUME events behind: further, a `truncated` event says where it resumes instead. A comment line every keepAliveMs keeps proxies from closing an idle stream.
 * A live client that cannot keep up is disconnected instead of growing memory.
 */
export function streamEvents(feed: EventFeed, options: SseOptions) {
  const maxBuffered = options.maxBufferedBytes ?? 1 << 20;
  let clients = 0;
  return async (req: Request, res: Response): Promise<void> => {
    if (options.maxClients !== undefined && clients >= options.maxClients) {
      res.status(503).set('Retry-After', '5').json({ error: {
        code: 'unavailable', message: `the event stream has ${clients} clients, its limit (SSE_MAX_CLIENTS); try again shortly`,
      } });
      return;
    }
    const lastEventId = parseLastEventId(req);
    clients += 1;

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    options.onClientsChanged?.(1);

    let closed = false;
    let unsubscribe: (() => void) | undefined;
    const gone = new AbortController();
    const close = () => {
      if (closed) return;
      closed = true;
      gone.abort();
      clearInterval(keepAlive);
      unsubscribe?.();
      clients -= 1;
      options.onClientsChanged?.(-1);
      res.end();
    };
    const send = (events: readonly EventView[]): Promise<void> | undefined => {
      if (closed || events.length === 0) return undefined;
      // Behind means earlier events are still queued for it. Checked before this write, so a large batch
      // sent at once does not count against a client that reads it promptly. Memory per client is bounded by
      // maxBuffered plus one batch. The socket is destroyed, not ended: ending would keep every queued byte
      // in memory until the client took it (test/observability/log-stream.test.ts).
      if (res.writableLength > maxBuffered) {
        req.log.warn({ buffered: res.writableLength }, 'SSE client too slow; disconnecting it');
        close();
        res.destroy();
        return undefined;
      }
      let chunk = '';
      for (const event of events) chunk += `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
      if (res.write(chunk)) return undefined;
      // Catch-up pages wait for this before the next is read; live batches do not (see above).
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    };
    const keepAlive = setInterval(() => res.write(`: keep-alive ${new Date().toISOString()}\n\n`), options.keepAliveMs);
    req.on('close', close);

    try {
      unsubscribe = await feed.subscribe(send, {
        after: lastEventId,
        signal: gone.signal,
        maxCatchUp: options.maxResumeEvents,
        // Said before the events, so a client knows what it missed and can page GET /api/logs for it.
        onSkipped: (after, resumedAfter) => res.write(`event: truncated\ndata: ${JSON.stringify({
          missed_after: after,
          resumes_after: resumedAfter,
          message: `more than ${options.maxResumeEvents} events behind: resuming after event ${resumedAfter}; GET /api/logs?after=${after} has the ones in between`,
        })}\n\n`),
      });
      if (closed) unsubscribe();
    } catch (err) {
      // The database is unreachable, say: the client reconnects after `retry` and resumes from its last id.
      req.log.warn({ err: (err as Error).message }, 'cannot start the event stream; the client will reconnect');
      close();
    }
  };
}

/**
 * The event id a client resumes after (Last-Event-ID, or ?last_event_id= for clients that cannot set it), or
 * undefined. Refused before the stream opens when it is not an id: past 15 digits a number loses precision,
 * and the database would be asked for an id it cannot compare.
 */
function parseLastEventId(req: Request): number | undefined {
  const header = req.get('last-event-id');
  const field = header !== undefined ? 'Last-Event-ID' : 'last_event_id';
  const given = header ?? (typeof req.query.last_event_id === 'string' ? req.query.last_event_id : undefined);
  // EventSource sends no Last-Event-ID before it has seen an id; an empty one means the same.
  if (given === undefined || given === '') return undefined;
  return parseEventId(given, field);
}
