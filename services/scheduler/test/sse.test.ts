import { request, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { openSse } from '../../../test/helpers/sse';

let app: SchedulerUnderTest;

useSchedulerApp({ keepAliveMs: 300 }, (running) => ({ app } = running));

test('the log stream replays the backlog, then delivers live events in order, with keep-alives', async () => {
  const backlog = await request(`${app.url}/api/schedule/batch`, { body: { command: 'before', count: 3, delay_seconds: 3600 } });
  const stream = await openSse(`${app.url}/api/logs/stream`);
  try {
    await stream.until((c) => c.events.length >= 3);
    expect(stream.events.slice(0, 3).map((e) => e.data.task_id).sort()).toEqual([...backlog.body.task_ids].sort());
    expect(stream.events.every((e) => e.data.type === 'scheduled' && e.id === String(e.data.id))).toBe(true);

    const live = await request(`${app.url}/api/schedule/batch`, { body: { command: 'after', count: 2, delay_seconds: 3600 } });
    await stream.until((c) => c.events.length >= 5);
    expect(stream.events.slice(3).map((e) => e.data.task_id).sort()).toEqual([...live.body.task_ids].sort());
    expect(stream.events.slice(3).every((e) => e.data.command === 'after' && /scheduled/.test(e.data.message))).toBe(true);
    const ids = stream.events.map((e) => e.data.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);

    await stream.until((c) => c.comments.some((line) => line.startsWith('keep-alive')), 5000);
  } finally {
    stream.close();
  }
});

test('several subscribers each get every event exactly once', async () => {
  const [a, b] = await Promise.all([openSse(`${app.url}/api/logs/stream`), openSse(`${app.url}/api/logs/stream`)]);
  try {
    await Promise.all([a.until((c) => c.events.length > 0), b.until((c) => c.events.length > 0)]);
    const lastBefore = Math.max(...a.events.map((e) => e.data.id));
    const batch = await request(`${app.url}/api/schedule/batch`, { body: { command: 'fanout', count: 50, delay_seconds: 3600 } });
    for (const conn of [a, b]) {
      await conn.until((c) => c.events.filter((e) => e.data.command === 'fanout').length >= 50);
      const fresh = conn.events.filter((e) => e.data.id > lastBefore);
      expect(fresh.map((e) => e.data.task_id).sort()).toEqual([...batch.body.task_ids].sort());
    }
  } finally {
    a.close();
    b.close();
  }
});
