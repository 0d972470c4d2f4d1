import type { TestDatabase } from '../../../test/helpers/database';
import { startSchedulerApp, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { openSse } from '../../../test/helpers/sse';

/*
 * /api/logs/stream resuming from far behind: every event after Last-Event-ID, in order, in pages, then live
 * ones with no gap or duplicate at the switch. And the first subscribers of a fresh scheduler share one start.
 */

jest.setTimeout(120_000);

let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({ keepAliveMs: 1000 }, (running) => ({ db, app } = running));

async function idsAfter(afterId: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM events WHERE id > $1 ORDER BY id', [afterId]);
  return rows.map((row) => row.id);
}

async function headId(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM events');
  return rows[0].id;
}

test('two subscribers connecting at the same moment to a fresh scheduler get identical sequences', async () => {
  await db.pool.query(`INSERT INTO events (type, message) SELECT 'scale', 'backlog ' || g FROM generate_series(1, 300) g`);
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await Promise.all(Array.from({ length: 4 }, (_, i) => db.pool.query(`INSERT INTO events (type, message) VALUES ('scale', $1)`, [`concurrent ${i}`])));
    }
  })();
  const [a, b] = await Promise.all([openSse(`${app.url}/api/logs/stream`), openSse(`${app.url}/api/logs/stream`)]);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    writing = false;
    await writer;
    const head = await headId();
    const done = (c: { events: Array<{ data: { id: number } }> }) => c.events.at(-1)?.data.id === head;
    await Promise.all([a.until(done, 30_000), b.until(done, 30_000)]);
    const idsA = a.events.map((e) => e.data.id);
    const idsB = b.events.map((e) => e.data.id);
    console.log(`two first subscribers: ${idsA.length} and ${idsB.length} events, the first ${idsA[0]} and ${idsB[0]}, the last ${head}`);
    expect(idsA).toEqual(idsB);
    // The newest 250 at the start, then everything after them.
    expect(idsA.length).toBeGreaterThan(250);
    expect(idsA).toEqual(await idsAfter(idsA[0] - 1));
  } finally {
    a.close();
    b.close();
  }
});

test('a client 25,000 events behind gets all of them in order, then live events, without gap or duplicate', async () => {
  const resumeFrom = await headId();
  await db.pool.query(`INSERT INTO events (type, message) SELECT 'scale', 'missed ' || g FROM generate_series(1, 25000) g`);
  const missed = await idsAfter(resumeFrom);
  expect(missed.length).toBe(25_000);

  const stream = await openSse(`${app.url}/api/logs/stream`, { 'Last-Event-ID': String(resumeFrom) });
  try {
    // Live events while the catch-up pages are still being read and written.
    for (let i = 0; i < 5; i++) await db.pool.query(`INSERT INTO events (type, message) VALUES ('scale', 'during catch-up')`);
    await stream.until((c) => c.events.length >= 25_005, 60_000);
    const live = await db.pool.query(`INSERT INTO events (type, message) VALUES ('scale', 'after catch-up') RETURNING id`);
    await stream.until((c) => c.events.some((e) => e.data.id === live.rows[0].id), 15_000);
    const received = stream.events.map((e) => e.data.id);
    console.log(`resume from 25,000 behind: ${received.length} events received, ${stream.connections} connection(s)`);
    expect(received).toEqual(await idsAfter(resumeFrom));
    expect(stream.events.every((e) => e.id === String(e.data.id))).toBe(true);
    expect(stream.connections).toBe(1);
  } finally {
    stream.close();
  }
});

test('further behind than SSE_MAX_RESUME, the stream says so first, then resumes that many events before the newest', async () => {
  const capped = await startSchedulerApp(db, { keepAliveMs: 1000, app: { sseMaxResume: 1000 } });
  try {
    const resumeFrom = await headId();
    await db.pool.query(`INSERT INTO events (type, message) SELECT 'scale', 'far behind ' || g FROM generate_series(1, 5000) g`);
    const head = await headId();
    const stream = await openSse(`${capped.url}/api/logs/stream`, { 'Last-Event-ID': String(resumeFrom) });
    try {
      await stream.until((c) => c.events.at(-1)?.data.id === head, 30_000);
      const [notice, ...events] = stream.events;
      expect(notice).toEqual({ event: 'truncated', data: {
        missed_after: resumeFrom,
        resumes_after: head - 1000,
        message: `more than 1000 events behind: resuming after event ${head - 1000}; GET /api/logs?after=${resumeFrom} has the ones in between`,
      } });
      expect(events.map((e) => e.data.id)).toEqual(await idsAfter(head - 1000));
      expect(events).toHaveLength(1000);
    } finally {
      stream.close();
    }
  } finally {
    await capped.stop();
  }
});
