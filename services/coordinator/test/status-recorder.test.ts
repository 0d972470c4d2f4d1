import { createLogger } from '../../common/src/logger';
import { insertTasks } from '../../common/src/db/insert-tasks';
import type { UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import { claimDueTasks } from '../src/db/claim-due-tasks';
import { handBackDispatches, handBackExpiredLeases, handBackWorkerTasks } from '../src/db/hand-back-tasks';
import { WorkerRegistry } from '../src/registry';
import { StatusRecorder, type RecordedOutcome } from '../src/status-recorder';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';

/*
 * The status recorder and its statements against a real PostgreSQL: fencing of original workers' reports,
 * clamped times, the retry budget counted in executions, and a bad report refused alone.
 */

let db: TestDatabase;
let recorder: StatusRecorder;
const recorded: Array<{ update: UpdateTaskStatusRequest; outcome: RecordedOutcome }> = [];

const LEGACY_A = 4_000_000_001;
const LEGACY_B = 4_000_000_002;
const OURS = 7;

beforeAll(async () => {
  db = await createTestDatabase();
  recorder = new StatusRecorder({
    pool: db.pool,
    logger: createLogger('test', 'silent'),
    backoff: { baseMs: 1, maxMs: 1 },
    onRecorded: (update, outcome) => recorded.push({ update, outcome }),
  });
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  // Claims take any due task: each test starts from an empty table.
  await db.pool.query('DELETE FROM tasks');
  recorded.length = 0;
});

/** A report as it arrives on the wire: proto defaults for every field left out. */
function report(fields: Partial<UpdateTaskStatusRequest> & Pick<UpdateTaskStatusRequest, 'task_id' | 'status'>): UpdateTaskStatusRequest {
  return {
    started_at: 0, completed_at: 0, failed_at: 0, worker_id: 0, attempt: 0, error: '', result: '', at_ms: 0, started_at_ms: 0, no_retry: false,
    ...fields,
  };
}

async function newTask(options: { maxAttempts?: number; scheduledAt?: Date } = {}): Promise<string> {
  const [task] = await insertTasks(db.pool, [{ command: 'job', scheduledAt: options.scheduledAt ?? new Date(Date.now() - 1000), maxAttempts: options.maxAttempts }]);
  return task.id;
}

/** What the claims here take: command tasks, as our workers run. */
const COMMAND_TASKS = { names: [], commandTasks: true, commandsWithoutPayload: false };

/** Claims the one pending task for `workerId`; returns its attempt. */
async function claim(workerId: number, lookaheadMs = 0): Promise<number> {
  const claimed = await claimDueTasks(db.pool, [workerId], COMMAND_TASKS, 30_000, lookaheadMs);
  expect(claimed).toHaveLength(1);
  return claimed[0].attempt;
}

async function row(id: string) {
  const { rows } = await db.pool.query(
    `SELECT status, attempt, executions, worker_id, last_error, result,
            (extract(epoch FROM scheduled_at) * 1000)::float8 AS scheduled_ms, (extract(epoch FROM picked_at) * 1000)::float8 AS picked_ms,
            (extract(epoch FROM started_at) * 1000)::float8 AS started_ms, (extract(epoch FROM completed_at) * 1000)::float8 AS completed_ms,
            (extract(epoch FROM failed_at) * 1000)::float8 AS failed_ms
     FROM tasks WHERE id = $1`, [id]);
  return rows[0];
}

async function eventTypes(id: string): Promise<string[]> {
  const { rows } = await db.pool.query('SELECT type, message FROM events WHERE task_id = $1 ORDER BY id', [id]);
  return rows.map((r) => r.type);
}

describe('original workers (attempt 0)', () => {
  test("a report applies only from the original worker that holds the attempt, and is attributed to it", async () => {
    const id = await newTask();
    await claim(LEGACY_A);
    const started = report({ task_id: id, status: 'STARTED', started_at: Math.floor(Date.now() / 1000) });
    // Another original worker's connection, or a connection no original worker beats on: nothing happens.
    expect(await recorder.record(started, LEGACY_B)).toMatchObject({ applied: false });
    expect(await recorder.record(started, null)).toMatchObject({ applied: false });
    expect((await row(id)).status).toBe('dispatched');

    const outcome = await recorder.record(started, LEGACY_A);
    // worker_id 0 on the wire: the outcome names the worker the attempt was sent to, so its slot can be freed.
    expect(outcome).toMatchObject({ applied: true, workerId: LEGACY_A });
    expect(await recorder.record(report({ task_id: id, status: 'COMPLETE', completed_at: Math.floor(Date.now() / 1000) }), LEGACY_A))
      .toMatchObject({ applied: true, workerId: LEGACY_A });
    expect(await row(id)).toMatchObject({ status: 'succeeded', worker_id: LEGACY_A, executions: 1 });
  });

  test('an attempt-0 report for a task held by one of our workers changes nothing', async () => {
    const id = await newTask();
    await claim(OURS);
    expect(await recorder.record(report({ task_id: id, status: 'COMPLETE' }), LEGACY_A)).toMatchObject({ applied: false });
    expect((await row(id)).status).toBe('dispatched');
  });

  test('a late report for an attempt that was reassigned changes nothing', async () => {
    const id = await newTask();
    await claim(LEGACY_A);
    await recorder.record(report({ task_id: id, status: 'STARTED' }), LEGACY_A);
    // A is evicted; B gets attempt 2 and is running it when A's late finish arrives.
    await handBackWorkerTasks(db.pool, LEGACY_A);
    expect(await claim(LEGACY_B)).toBe(2);
    await recorder.record(report({ task_id: id, status: 'STARTED' }), LEGACY_B);
    const before = await row(id);
    expect(await recorder.record(report({ task_id: id, status: 'COMPLETE', completed_at: Math.floor(Date.now() / 1000) }), LEGACY_A))
      .toMatchObject({ applied: false });
    expect(await recorder.record(report({ task_id: id, status: 'FAILED', error: 'late' }), LEGACY_A)).toMatchObject({ applied: false });
    // Nor does a late report of ours for attempt 1, nor a STARTED that would take the task over.
    expect(await recorder.record(report({ task_id: id, status: 'COMPLETE', attempt: 1, worker_id: OURS }))).toMatchObject({ applied: false });
    expect(await row(id)).toEqual(before);
    expect(before).toMatchObject({ status: 'running', worker_id: LEGACY_B, attempt: 2 });
  });

  test('a STARTED after the COMPLETE of the same attempt changes nothing', async () => {
    const id = await newTask();
    await claim(LEGACY_A);
    const now = Math.floor(Date.now() / 1000);
    // The original worker sends each report from its own goroutine: COMPLETE may arrive first.
    expect(await recorder.record(report({ task_id: id, status: 'COMPLETE', completed_at: now }), LEGACY_A)).toMatchObject({ applied: true });
    const finished = await row(id);
    expect(await recorder.record(report({ task_id: id, status: 'STARTED', started_at: now }), LEGACY_A)).toMatchObject({ applied: false });
    expect(await row(id)).toEqual(finished);
    expect(finished).toMatchObject({ status: 'succeeded', executions: 1 });
    expect(await eventTypes(id)).toEqual(['scheduled', 'assigned', 'started', 'completed']);
  });

  test('whole-second times are never stored before the claim, nor a finish before its start', async () => {
    const id = await newTask();
    await claim(LEGACY_A);
    const { picked_ms: picked } = await row(id);
    // Truncated to the second, and a worker clock 3 s behind on top.
    const seconds = Math.floor(picked / 1000) - 3;
    await recorder.record(report({ task_id: id, status: 'STARTED', started_at: seconds }), LEGACY_A);
    await recorder.record(report({ task_id: id, status: 'COMPLETE', completed_at: seconds - 1 }), LEGACY_A);
    const stored = await row(id);
    expect(stored.started_ms).toBeGreaterThanOrEqual(picked);
    expect(stored.started_ms).toBeGreaterThanOrEqual(stored.scheduled_ms);
    expect(stored.completed_ms).toBeGreaterThanOrEqual(stored.started_ms);
  });

  test('a task claimed ahead of its due time is never stored as started before it was due', async () => {
    const id = await newTask({ scheduledAt: new Date(Date.now() + 2000) });
    await claim(LEGACY_A, 5000);
    const { picked_ms: picked, scheduled_ms: scheduled } = await row(id);
    expect(picked).toBeLessThan(scheduled);
    // A finish straight from `dispatched`, timed at the claim: the start it implies is clamped too.
    await recorder.record(report({ task_id: id, status: 'FAILED', failed_at: Math.floor(picked / 1000), error: 'boom' }), LEGACY_A);
    const stored = await row(id);
    expect(stored.started_ms).toBeGreaterThanOrEqual(scheduled);
    expect(stored.failed_ms).toBeGreaterThanOrEqual(stored.started_ms);
  });
});

describe('the registry resolves a reporting connection to an original worker', () => {
  const registry = new WorkerRegistry({ defaultSlots: 5, heartbeatIntervalMs: 1000, maxMissedHeartbeats: 3, holdingsGraceMs: 1000 });
  const beat = (workerId: number, slots: number, peer: string) =>
    registry.heartbeat({ workerId, address: '[::]:1', slots_total: slots, handles: [], held: [] } as unknown as Parameters<WorkerRegistry['heartbeat']>[0], peer);

  test('by its exact peer, then by its IP when it is the only original worker there', () => {
    beat(LEGACY_A, 0, '10.0.0.1:5000');
    beat(LEGACY_B, 0, '10.0.0.1:5001');
    beat(OURS, 4, '10.0.0.2:6000');
    beat(LEGACY_B + 1, 0, '[::1]:7000');
    expect(registry.legacyWorkerAt('10.0.0.1:5000')).toBe(LEGACY_A);
    expect(registry.legacyWorkerAt('10.0.0.1:5001')).toBe(LEGACY_B);
    // Two original workers behind 10.0.0.1: a new port cannot be told apart.
    expect(registry.legacyWorkerAt('10.0.0.1:5999')).toBeUndefined();
    // One of our workers is never an original worker.
    expect(registry.legacyWorkerAt('10.0.0.2:6000')).toBeUndefined();
    expect(registry.legacyWorkerAt('[::1]:7999')).toBe(LEGACY_B + 1);
    expect(registry.legacyWorkerAt('::1:7999')).toBe(LEGACY_B + 1);
  });
});

describe('the retry budget counts executions', () => {
  test('a refused delivery and an eviction before the start cost nothing: one real failure is retried', async () => {
    const id = await newTask({ maxAttempts: 3 });
    const first = await claim(OURS);
    await handBackDispatches(db.pool, [{ id, attempt: first }]);
    await claim(OURS);
    await handBackWorkerTasks(db.pool, OURS);
    const third = await claim(OURS);
    expect(third).toBe(3);
    await recorder.record(report({ task_id: id, status: 'STARTED', attempt: third, worker_id: OURS, at_ms: Date.now() }));
    const outcome = await recorder.record(report({ task_id: id, status: 'FAILED', attempt: third, worker_id: OURS, at_ms: Date.now(), error: 'boom' }));
    expect(outcome).toMatchObject({ applied: true, final: false });
    expect(await row(id)).toMatchObject({ status: 'pending', attempt: 3, executions: 1, last_error: 'boom' });
  });

  test('the last execution that fails ends the task failed', async () => {
    const id = await newTask({ maxAttempts: 2 });
    for (const expected of [{ final: false, status: 'pending' }, { final: true, status: 'failed' }]) {
      await db.pool.query('UPDATE tasks SET scheduled_at = now() WHERE id = $1', [id]);
      const attempt = await claim(OURS);
      // A finish straight from `dispatched` (no STARTED) is an execution too.
      expect(await recorder.record(report({ task_id: id, status: 'FAILED', attempt, worker_id: OURS, at_ms: Date.now(), error: 'x' })))
        .toMatchObject({ applied: true, final: expected.final });
      expect(await row(id)).toMatchObject({ status: expected.status, executions: attempt });
    }
  });

  test('a running task handed back after its last execution ends failed, with the reason', async () => {
    const evicted = await newTask({ maxAttempts: 1 });
    const attempt = await claim(OURS);
    await recorder.record(report({ task_id: evicted, status: 'STARTED', attempt, worker_id: OURS, at_ms: Date.now() }));
    const handedBack = await handBackWorkerTasks(db.pool, OURS);
    expect(handedBack).toEqual([{ id: evicted, worker_id: OURS, failed: true }]);
    expect(await row(evicted)).toMatchObject({ status: 'failed', executions: 1, last_error: 'attempt 1 lost: worker evicted with no attempts left' });
    expect((await row(evicted)).failed_ms).not.toBeNull();
    const { rows } = await db.pool.query("SELECT message FROM events WHERE task_id = $1 AND type = 'failed'", [evicted]);
    expect(rows).toEqual([{ message: 'attempt 1 lost: worker evicted with no attempts left' }]);

    // The lease sweep the same way; with executions left, a running task goes back to pending.
    const expired = await newTask({ maxAttempts: 1 });
    const spare = await newTask({ maxAttempts: 2 });
    for (const task of await claimDueTasks(db.pool, [OURS, OURS], COMMAND_TASKS, 30_000)) {
      await recorder.record(report({ task_id: task.id, status: 'STARTED', attempt: task.attempt, worker_id: OURS, at_ms: Date.now() }));
    }
    await db.pool.query("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])", [[expired, spare]]);
    await handBackExpiredLeases(db.pool);
    expect(await row(expired)).toMatchObject({ status: 'failed', last_error: 'attempt 1 lost: lease expired with no attempts left' });
    expect(await row(spare)).toMatchObject({ status: 'pending', executions: 1, last_error: null });
  });
});

describe('a bad report is refused alone', () => {
  test('the rest of its batch is written; results are stored as JSON', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push(await newTask());
    const claimed = await claimDueTasks(db.pool, ids.map(() => OURS), COMMAND_TASKS, 30_000);
    const attemptOf = new Map(claimed.map((task) => [task.id, task.attempt]));
    const complete = (i: number, fields: Partial<UpdateTaskStatusRequest>) =>
      report({ task_id: ids[i], status: 'COMPLETE', attempt: attemptOf.get(ids[i])!, worker_id: OURS, at_ms: Date.now(), ...fields });
    const answers = await recorder.recordAll([
      complete(0, { result: '{"width": 64, "tags": ["a"]}' }),
      complete(1, { at_ms: 1e18 }),
      complete(2, { at_ms: -5 }),
      report({ task_id: ids[3], status: 'FAILED', attempt: attemptOf.get(ids[3])!, worker_id: OURS, at_ms: Date.now(), error: 'nul \u0000 here' }),
      complete(4, { result: 'text with \u0000' }),
      report({ task_id: ids[5], status: 'FAILED', attempt: attemptOf.get(ids[5])!, worker_id: OURS, error: 'e'.repeat(100_000) }),
      complete(6, { result: 'plain text, not JSON' }),
      // JSON that jsonb cannot hold (a \u0000 escape) is kept as the text it is.
      complete(7, { result: '{"a": "\\u0000"}' }),
      complete(8, { completed_at: -1 }),
    ]);
    expect(answers.map((answer) => answer.success)).toEqual([true, false, false, false, false, false, true, true, false]);
    expect(answers[1].message).toMatch(/^at_ms: /);
    expect(answers[2].message).toMatch(/^at_ms: /);
    expect(answers[3].message).toMatch(/^error: .*NUL/);
    expect(answers[4].message).toMatch(/^result: .*NUL/);
    expect(answers[5].message).toMatch(/^error: .*at most/);
    expect(answers[8].message).toMatch(/^completed_at: /);
    expect((await row(ids[0])).result).toEqual({ width: 64, tags: ['a'] });
    expect((await row(ids[6])).result).toBe('plain text, not JSON');
    expect((await row(ids[7])).result).toBe('{"a": "\\u0000"}');
    for (const i of [1, 2, 3, 4, 5, 8]) expect((await row(ids[i])).status).toBe('dispatched');
    // Refused reports never reach onRecorded: they were not written.
    expect(recorded.map((r) => r.update.task_id).sort()).toEqual([ids[0], ids[6], ids[7]].sort());
  });

  test('a single bad report is answered with the field at fault', async () => {
    const id = await newTask();
    const attempt = await claim(OURS);
    const outcome = await recorder.record(report({ task_id: id, status: 'STARTED', attempt, worker_id: OURS, at_ms: 1e18 }));
    expect(outcome).toMatchObject({ applied: false, problem: { field: 'at_ms' } });
  });
});
