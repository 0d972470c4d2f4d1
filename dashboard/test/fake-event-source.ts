import type { EventView } from '../../services/scheduler/src/api-types';
import type { EventSourceLike, OpenEventSource } from '../src/live/event-connection';

/** An EventSource the test drives: open it, push events, drop it. */
export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  closed = false;
  onopen: EventSourceLike['onopen'] = null;
  onmessage: EventSourceLike['onmessage'] = null;
  onerror: EventSourceLike['onerror'] = null;

  constructor(readonly url: string) {}

  open(): void {
    this.readyState = 1;
    this.onopen?.call(this as unknown as EventSource, new Event('open'));
  }

  emit(...events: EventView[]): void {
    for (const event of events) {
      this.onmessage?.call(this as unknown as EventSource, new MessageEvent('message', { data: JSON.stringify(event), lastEventId: String(event.id) }));
    }
  }

  /** A dropped connection: the browser retries by itself unless `permanently` (a non-stream answer). */
  fail(permanently = false): void {
    this.readyState = permanently ? 2 : 0;
    this.onerror?.call(this as unknown as EventSource, new Event('error'));
  }

  close(): void {
    this.readyState = 2;
    this.closed = true;
  }
}

/** Opens FakeEventSources and keeps them, newest last. */
export function fakeEventSources(): { open: OpenEventSource; all: FakeEventSource[]; latest: () => FakeEventSource } {
  const all: FakeEventSource[] = [];
  return {
    all,
    open: (url) => {
      const source = new FakeEventSource(url);
      all.push(source);
      return source;
    },
    latest: () => all[all.length - 1],
  };
}
