/** A minimal Server-Sent Events reader over fetch, for tests: collects events and comment lines. */
export interface SseConnection {
  /** `event` is the event's type when it has one (`event: truncated`); plain events have none. */
  events: Array<{ id?: string; event?: string; data: any }>;
  comments: string[];
  /** Connections made so far (1 until a reconnecting client had to reconnect). */
  connections: number;
  /** Resolves once `predicate` holds for the collected events (checked as data arrives). */
  until(predicate: (conn: SseConnection) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface SseOptions {
  /**
   * Reconnect as EventSource does when the stream ends or a connection fails: after the server's `retry`
   * (or retryMs), sending Last-Event-ID with the id of the last event received.
   */
  reconnect?: boolean;
  /** Delay before a reconnect when the server sent no `retry:` line; default 2000 ms. */
  retryMs?: number;
}

export async function openSse(url: string, headers: Record<string, string> = {}, options: SseOptions = {}): Promise<SseConnection> {
  const controller = new AbortController();
  let retryMs = options.retryMs ?? 2000;
  const conn: SseConnection = {
    events: [],
    comments: [],
    connections: 0,
    async until(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(conn)) {
        if (Date.now() > deadline) throw new Error(`SSE condition not met within ${timeoutMs} ms (${conn.events.length} events, ${conn.comments.length} comments, ${conn.connections} connections)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => controller.abort(),
  };

  const connect = async (): Promise<Response> => {
    const lastId = conn.events.at(-1)?.id;
    const requestHeaders = new Headers({ accept: 'text/event-stream', ...headers });
    if (lastId !== undefined) requestHeaders.set('last-event-id', lastId);
    const response = await fetch(url, { headers: requestHeaders, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`SSE ${url} answered ${response.status}`);
    conn.connections++;
    return response;
  };

  const consume = async (response: Response): Promise<void> => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | undefined;
          let event: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) conn.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
            else if (line.startsWith('retry: ') && options.retryMs === undefined) retryMs = Number(line.slice(7));
          }
          if (data.length > 0) conn.events.push({ id, ...(event === undefined ? {} : { event }), data: JSON.parse(data.join('\n')) });
        }
      }
    } catch {
      // aborted by close(), or the connection broke
    }
  };

  const first = await connect();
  void (async () => {
    let response: Response | undefined = first;
    while (!controller.signal.aborted) {
      if (response) await consume(response);
      response = undefined;
      if (!options.reconnect || controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      try {
        response = await connect();
      } catch {
        // the server is down or not ready: try again after retryMs
      }
    }
  })();
  return conn;
}
