import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { scrape, sumOf } from '../helpers/metrics';
import { startCluster, type Cluster } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * The log stream (/api/logs/stream) of a real scheduler process: a client that reconnects with
 * Last-Event-ID gets exactly the events it missed, and a client that stops reading is cut off instead of
 * growing the scheduler's memory, then resumes where it stopped. (Backlog, live delivery and keep-alives are
 * services/scheduler/test/sse.test.ts.)
 */

jest.setTimeout(180_000);

let db: TestDatabase;
let cluster: Cluster;

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 0, scheduler: true });
});

afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

/** A raw SSE client on node:http, so a test can stop reading (pause) like a stuck browser tab. */
class RawStream {
  text = '';
  ended = false;
  readonly response: Promise<IncomingMessage>;

  constructor(query = '', headers: Record<string, string> = {}) {
    this.response = new Promise((resolve, reject) => {
      const req = httpRequest(`${cluster.schedulerUrl}/api/logs/stream${query}`, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (this.text += chunk));
        const end = () => (this.ended = true);
        res.on('end', end);
        res.on('aborted', end);
        res.on('error', end);
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Complete events received so far (a block cut off by the disconnect is left out). */
  get ids(): number[] {
    const blocks = this.text.split('\n\n').slice(0, -1);
    return blocks.flatMap((block) => /^id: (\d+)$/m.exec(block)?.[1] ?? []).map(Number);
  }

  async close(): Promise<void> {
    (await this.response).destroy();
  }
}

async function eventIds(afterId: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM events WHERE id > $1 ORDER BY id', [afterId]);
  return rows.map((row) => row.id);
}

async function schedule(count: number, command = 'later'): Promise<void> {
  const response = await fetch(`${cluster.schedulerUrl}/api/schedule/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ command, count, delay_seconds: 3600 }),
  });
  expect(response.status).toBe(201);
}

test('a client reconnecting with Last-Event-ID gets exactly the events it missed, then live ones', async () => {
  await schedule(5);
  const first = new RawStream();
  await waitFor(() => first.ids.length >= 5, 15_000, 'the backlog');
  const lastSeen = Math.max(...first.ids);
  await first.close();

  // Missed while disconnected: new tasks, and a cancellation (its transition, and the operator event saying who).
  await schedule(7, 'while away');
  const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM tasks WHERE command = 'while away' LIMIT 1`);
  expect((await fetch(`${cluster.schedulerUrl}/api/tasks/${rows[0].id}/cancel`, { method: 'POST' })).status).toBe(200);
  const missed = await eventIds(lastSeen);
  expect(missed).toHaveLength(9);

  const resumed = new RawStream('', { 'Last-Event-ID': String(lastSeen) });
  await waitFor(() => resumed.ids.length >= missed.length, 15_000, 'the missed events');
  await schedule(2, 'live');
  await waitFor(async () => resumed.ids.length >= (await eventIds(lastSeen)).length, 15_000, 'the live events');
  expect(resumed.ids).toEqual(await eventIds(lastSeen));
  expect(resumed.text).toContain('"type":"cancelled"');
  await resumed.close();

  // EventSource cannot set headers on its first connection; the query parameter does the same.
  const byQuery = new RawStream(`?last_event_id=${lastSeen}`);
  await waitFor(() => byQuery.ids.length >= missed.length + 2, 15_000, 'the events after ?last_event_id');
  expect(byQuery.ids).toEqual(await eventIds(lastSeen));
  await byQuery.close();
});

test('a client that stops reading is cut off, the scheduler lets go of it, and it resumes where it stopped', async () => {
  const metrics = `${cluster.schedulerUrl}/metrics`;
  const start = Math.max(0, ...(await eventIds(0)));
  const slow = new RawStream('', { 'Last-Event-ID': String(start) });
  (await slow.response).pause();
  await waitFor(async () => sumOf(await scrape(metrics), 'taskmaster_sse_clients') === 1, 15_000, 'the client connected');

  // ~16 MB of events, more than the kernel's socket buffers hold, then one more batch to find it behind.
  await db.pool.query(`INSERT INTO events (type, message) SELECT 'scale', repeat('x', 16000) FROM generate_series(1, 1000)`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await db.pool.query(`INSERT INTO events (type, message) VALUES ('scale', 'one more')`);

  await cluster.scheduler!.waitForLog((l) => l.msg === 'SSE client too slow; disconnecting it', 30_000);
  // Let go of while the client is still not reading: the buffered megabytes are not kept for it.
  await waitFor(async () => sumOf(await scrape(metrics), 'taskmaster_sse_clients') === 0, 15_000, 'the client released');
  (await slow.response).resume();
  await waitFor(() => slow.ended, 30_000, 'the end of the cut-off stream');
  const all = await eventIds(start);
  const received = slow.ids;
  // It got what the kernel's socket buffers held (a few MB here), not the 16 MB queued for it.
  expect(slow.text.length).toBeLessThan(8_000_000);
  expect(received).toEqual(all.slice(0, received.length));

  // The client reconnects as EventSource does, with the last id it got, and misses nothing.
  const resumed = new RawStream('', { 'Last-Event-ID': String(received.at(-1) ?? start) });
  await waitFor(() => resumed.ids.length >= all.length - received.length, 30_000, 'the rest of the events');
  expect([...received, ...resumed.ids]).toEqual(all);
  await resumed.close();
});
