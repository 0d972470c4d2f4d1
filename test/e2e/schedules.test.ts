import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../services/common/src/logger';
import { defineTask } from '../../services/sdk/src/define-task';
import { startWorker } from '../../services/sdk/src/worker/start-worker';
import * as grpc from '@grpc/grpc-js';
import { callUnary, createCoordinatorClient } from '../../services/common/src/grpc/contract';
import { parseConfiguredSchedules } from '../../services/coordinator/src/configured-schedules';
import { plan } from '../../services/coordinator/src/schedule-ticker';
import { startTestCoordinator, type TestCoordinator } from '../helpers/coordinator';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * Recurring schedules end to end: the scheduler's API makes them, real coordinators (the app's own and extra
 * ones on the same database) fire them, PostgreSQL keeps them. Patterns with seconds make occurrences every
 * second, so a few seconds show many.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
useSchedulerApp({}, (running) => ({ db, app } = running));

const create = async (body: Record<string, unknown>) => {
  const response = await request(`${app.url}/api/schedules`, { body });
  expect(response.status).toBe(201);
  return response.body as { id: string; next_run_at: string };
};
/** The due times of the tasks a schedule made, in ms, oldest first. */
const occurrences = async (scheduleId: string): Promise<number[]> => {
  const { rows } = await db.pool.query(
    "SELECT scheduled_at FROM tasks WHERE idempotency_key LIKE 'schedule:' || $1 || ':%' ORDER BY scheduled_at", [scheduleId]);
  return rows.map((row: { scheduled_at: Date }) => row.scheduled_at.getTime());
};

test('made, listed, shown with its next runs, paused, resumed and deleted through the API', async () => {
  const made = await create({ name: 'report', cron: '0 9 * * 1-5', timezone: 'Europe/Paris', payload: { kind: 'daily' }, overlap: 'skip', catch_up: 'none' });
  const shown = await request(`${app.url}/api/schedules/${made.id}`);
  expect(shown.body).toMatchObject({ name: 'report', timezone: 'Europe/Paris', overlap: 'skip', catch_up: 'none', paused: false, source: 'api', key: null });
  expect(shown.body.next_runs).toHaveLength(5);
  // 09:00 in Paris is 08:00 or 07:00 UTC, and never on a weekend.
  for (const at of shown.body.next_runs as string[]) {
    const date = new Date(at);
    expect([7, 8]).toContain(date.getUTCHours());
    expect([0, 6]).not.toContain(date.getUTCDay());
  }
  expect((await request(`${app.url}/api/schedules`)).body.schedules.map((s: { id: string }) => s.id)).toContain(made.id);
  expect((await request(`${app.url}/api/schedules/${made.id}/pause`, { method: 'POST' })).body.paused).toBe(true);
  expect((await request(`${app.url}/api/schedules/${made.id}/resume`, { method: 'POST' })).body.paused).toBe(false);
  expect((await request(`${app.url}/api/schedules/${made.id}`, { method: 'DELETE' })).status).toBe(204);
  expect((await request(`${app.url}/api/schedules/${made.id}`)).status).toBe(404);
});

test('bad input is a 400 naming the field, and nothing is written', async () => {
  const { rows: [before] } = await db.pool.query('SELECT count(*)::int AS n FROM schedules');
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ name: 'x', cron: '61 * * * *' }, 'cron', /minute/],
    [{ name: 'x', cron: 'every day' }, 'cron', /5 fields/],
    [{ name: 'x', cron: '* * * * *', timezone: 'Mars/Olympus' }, 'timezone', /IANA/],
    [{ name: 'x', cron: '* * * * *', overlap: 'queue' }, 'overlap', /skip or allow/],
    [{ name: 'x', cron: '* * * * *', catch_up: 'some' }, 'catch_up', /none, last or all/],
    [{ name: 'Bad Name', cron: '* * * * *' }, 'name', /must match/],
    [{ name: 'x', cron: '* * * * *', timeout_seconds: -1 }, 'timeout_seconds', /whole number/],
    [{ cron: '* * * * *' }, 'name', /is required/],
  ];
  for (const [body, field, message] of cases) {
    const response = await request(`${app.url}/api/schedules`, { body });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe(field);
    expect(response.body.error.message).toMatch(message);
  }
  const { rows: [after] } = await db.pool.query('SELECT count(*)::int AS n FROM schedules');
  expect(after.n).toBe(before.n);
});

test('a key updates the schedule in place (200), keeping its next run when the pattern is unchanged', async () => {
  const first = await create({ key: 'nightly', name: 'nightly-report', cron: '0 2 * * *' });
  const again = await request(`${app.url}/api/schedules`, { body: { key: 'nightly', name: 'nightly-report', cron: '0 2 * * *', payload: { v: 2 } } });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ id: first.id, next_run_at: first.next_run_at, payload: { v: 2 } });
  const moved = await request(`${app.url}/api/schedules`, { body: { key: 'nightly', name: 'nightly-report', cron: '0 3 * * *' } });
  expect(moved.body.next_run_at).not.toBe(first.next_run_at);
});

describe('firing', () => {
  const extra: TestCoordinator[] = [];
  afterAll(async () => {
    for (const coordinator of extra) await coordinator.stop();
  });

  test('each occurrence becomes exactly one task with several coordinators firing, one restarting across an occurrence', async () => {
    extra.push(await startTestCoordinator(db), await startTestCoordinator(db));
    const schedule = await create({ name: 'every-second', cron: '* * * * * *', catch_up: 'all' });
    await waitFor(async () => (await occurrences(schedule.id)).length >= 3, 10_000, 'three occurrences');
    // One coordinator restarts across an occurrence; the others go on.
    await extra[0].stop();
    await sleep(1200);
    extra[0] = await startTestCoordinator(db);
    await waitFor(async () => (await occurrences(schedule.id)).length >= 6, 10_000, 'six occurrences');
    const made = await occurrences(schedule.id);
    expect(new Set(made).size).toBe(made.length);
    // Every second from the first to the last: none lost, none twice.
    for (let i = 1; i < made.length; i++) expect(made[i] - made[i - 1]).toBe(1000);
    await request(`${app.url}/api/schedules/${schedule.id}`, { method: 'DELETE' });
  });

  test('after downtime, catch_up all fires every missed occurrence, last only the newest, none none of them', async () => {
    const all = await create({ name: 'catch-all', cron: '0 * * * * *', catch_up: 'all' });
    const last = await create({ name: 'catch-last', cron: '0 * * * * *', catch_up: 'last' });
    const none = await create({ name: 'catch-none', cron: '0 * * * * *', catch_up: 'none' });
    const ids = [all.id, last.id, none.id];
    // As if no coordinator ran for ten minutes: the update wakes the tickers (NOTIFY taskmaster_schedules).
    await db.pool.query("UPDATE schedules SET next_run_at = date_trunc('minute', now()) - interval '10 minutes' WHERE id = ANY($1)", [ids]);
    await waitFor(async () => {
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM schedules WHERE id = ANY($1) AND next_run_at > now()', [ids]);
      return rows[0].n === 3;
    }, 5000, 'the schedules to move on');
    const every = await occurrences(all.id);
    expect(every.length).toBeGreaterThanOrEqual(11);
    for (let i = 1; i < every.length; i++) expect(every[i] - every[i - 1]).toBe(60_000);
    const newest = await occurrences(last.id);
    expect(newest).toHaveLength(1);
    expect(Date.now() - newest[0]).toBeLessThan(61_000 + 2000);
    // The newest missed occurrence was more than a minute late only if this minute began over a minute ago.
    const skipped = await occurrences(none.id);
    expect(skipped.length).toBeLessThanOrEqual(1);
    if (skipped.length === 1) expect(Date.now() - skipped[0]).toBeLessThanOrEqual(60_000 + 2000);
  });

  test('overlap: skip makes no new task while the previous one has not finished', async () => {
    const schedule = await create({ name: 'nobody-runs-this-name', cron: '* * * * * *', overlap: 'skip' });
    await waitFor(async () => (await occurrences(schedule.id)).length === 1, 5000, 'the first occurrence');
    await sleep(2500);
    expect(await occurrences(schedule.id)).toHaveLength(1);
    const { body } = await request(`${app.url}/api/schedules/${schedule.id}`);
    expect(Date.parse(body.next_run_at)).toBeGreaterThan(Date.now() - 1500);
  });

  test('a paused schedule makes nothing; resumed, it starts from its next occurrence', async () => {
    const schedule = await create({ name: 'pausable', cron: '* * * * * *', paused: true });
    await sleep(2200);
    expect(await occurrences(schedule.id)).toHaveLength(0);
    const resumedAt = Date.now();
    await request(`${app.url}/api/schedules/${schedule.id}/resume`, { method: 'POST' });
    await waitFor(async () => (await occurrences(schedule.id)).length >= 1, 5000, 'an occurrence after the resume');
    expect((await occurrences(schedule.id))[0]).toBeGreaterThan(resumedAt - 1000);
  });

  test('a task type declares its schedule with defineTask({ cron }): the worker\'s coordinator saves it and the worker runs its tasks', async () => {
    const ran: unknown[] = [];
    const tick = defineTask({ name: 'sdk-tick', cron: { cron: '* * * * * *', payload: { from: 'sdk' } }, run: (payload: unknown) => void ran.push(payload) });
    const worker = await startWorker({ coordinator: app.coordinatorAddress, tasks: [tick], slots: 2, heartbeatIntervalMs: 500, logger: createLogger('test', 'silent') });
    try {
      await waitFor(() => ran.length >= 2, 8000, 'two occurrences run by the worker');
      expect(ran[0]).toEqual({ from: 'sdk' });
      const { body } = await request(`${app.url}/api/schedules`);
      expect(body.schedules.filter((s: { key: string | null }) => s.key === 'task:sdk-tick')).toEqual([
        expect.objectContaining({ name: 'sdk-tick', source: 'worker', cron: '* * * * * *' }),
      ]);
    } finally {
      await worker.stop();
    }
    expect(() => defineTask({ name: 'bad-cron', cron: '* * *', run: () => 1 })).toThrow('cron of task "bad-cron": the pattern must have 5 fields');
  });
});

test('SCHEDULES entries are checked with the API\'s schema: a bad one names its index and field, and one without a key is refused', () => {
  expect(() => parseConfiguredSchedules('[{"key":"a","name":"x","cron":"61 * * * *"}]')).toThrow(/SCHEDULES\[0\]\.cron is not a cron pattern/);
  expect(() => parseConfiguredSchedules('[{"key":"a","name":"x","cron":"* * * * *"},{"name":"y","cron":"* * * * *"}]')).toThrow(/SCHEDULES\[1\]\.key is required/);
  expect(() => parseConfiguredSchedules('{"key":"a"}')).toThrow('SCHEDULES must be a JSON array of schedules');
  expect(parseConfiguredSchedules('')).toEqual([]);
});

test('a worker declaring a bad schedule when it joins is refused with INVALID_ARGUMENT naming it, and nothing is saved', async () => {
  const client = createCoordinatorClient(app.coordinatorAddress);
  try {
    const schedules = [{ name: 'bad-declared', cron: '* * *', timezone: '', payload: '', queue: '', overlap: '', catch_up: '' }];
    const error = await callUnary(client, client.SendHeartbeat, { workerId: 4_000_000_002, address: '127.0.0.1:1', slots_total: 1, schedules }, 5000)
      .catch((err: grpc.ServiceError) => err);
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^schedules\[0\]\.cron must have 5 fields/) });
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM schedules WHERE name = 'bad-declared'");
    expect(rows[0].n).toBe(0);
  } finally {
    client.close();
  }
});

test('plan: catch_up and overlap decide which due occurrences become tasks', () => {
  const now = new Date('2026-12-03T10:00:30Z');
  const due = { cron: '*/10 * * * * *', timezone: 'UTC', next_run_at: new Date('2026-12-03T09:58:00Z'), last_status: null } as Parameters<typeof plan>[0];
  expect(plan({ ...due, catch_up: 'all', overlap: 'allow' }, now).occurrences).toHaveLength(16);
  expect(plan({ ...due, catch_up: 'last', overlap: 'allow' }, now).occurrences.map((d) => d.toISOString())).toEqual(['2026-12-03T10:00:30.000Z']);
  expect(plan({ ...due, catch_up: 'none', overlap: 'allow' }, now).occurrences).toHaveLength(7);
  expect(plan({ ...due, catch_up: 'all', overlap: 'skip' }, now).occurrences).toHaveLength(1);
  expect(plan({ ...due, catch_up: 'all', overlap: 'skip', last_status: 'running' }, now).occurrences).toHaveLength(0);
  expect(plan({ ...due, catch_up: 'all', overlap: 'allow' }, now).nextRunAt?.toISOString()).toBe('2026-12-03T10:00:40.000Z');
});
