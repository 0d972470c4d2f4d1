import type { EventView } from '../../../services/scheduler/src/api-types';
import type { LiveStore } from './live-store';

/** What the dashboard needs of an EventSource; tests pass their own. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((this: EventSource, ev: Event) => unknown) | null;
  onmessage: ((this: EventSource, ev: MessageEvent) => unknown) | null;
  onerror: ((this: EventSource, ev: Event) => unknown) | null;
  close(): void;
}

export type OpenEventSource = (url: string) => EventSourceLike;

/**
 * A stream ticket for ?ticket=, or undefined (at once, so the stream opens in the same tick) when no token is
 * set in this browser and the API needs none.
 */
export type StreamTicket = () => Promise<string> | undefined;

const CLOSED = 2;
const STREAM_PATH = '/api/logs/stream';
const MAX_RETRY_MS = 15_000;

/**
 * Keeps the store fed from GET /api/logs/stream. The browser's EventSource reconnects by itself after a
 * dropped connection (the server sends `retry:`) and resumes with Last-Event-ID. It gives up for good when an
 * attempt gets a non-stream answer, such as a proxy's 502 while the scheduler restarts; then this opens a new
 * one, with backoff, resuming from the last id seen (?last_event_id=, which the server also accepts). With
 * an API token set, each new EventSource carries a fresh ticket (?ticket=); one that expired makes the
 * browser's own reconnect fail, which lands here too.
 */
export function connectEventStream(store: LiveStore, open: OpenEventSource, streamTicket: StreamTicket = () => undefined): () => void {
  let source: EventSourceLike | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = 1000;
  let stopped = false;

  const retry = () => {
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
  };

  const connect = () => {
    const ticket = streamTicket();
    if (ticket === undefined) return openStream(undefined);
    ticket.then((value) => {
      if (!stopped) openStream(value);
    }, () => {
      store.setConnection('reconnecting');
      if (!stopped) retry();
    });
  };

  const openStream = (ticket: string | undefined) => {
    const resumeFrom = store.getSnapshot().lastEventId;
    const query = new URLSearchParams();
    if (resumeFrom > 0) query.set('last_event_id', String(resumeFrom));
    if (ticket) query.set('ticket', ticket);
    source = open(query.size > 0 ? `${STREAM_PATH}?${query}` : STREAM_PATH);
    source.onopen = () => {
      retryMs = 1000;
      store.setConnection('live');
    };
    source.onmessage = (message) => {
      try {
        store.ingest([JSON.parse(message.data as string) as EventView]);
      } catch {
        // A line that is not an event (a future message kind): the stream itself is still fine.
      }
    };
    source.onerror = () => {
      store.setConnection('reconnecting');
      if (source?.readyState !== CLOSED || stopped) return;
      source.close();
      retry();
    };
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    source?.close();
  };
}
