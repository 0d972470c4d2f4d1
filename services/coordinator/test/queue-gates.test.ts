import { insertTasks, type NewTask } from '../../common/src/db/insert-tasks';
import { listConcurrencyLimits, listQueues, releaseQueue, removeConcurrencyLimit, setConcurrencyLimit, setQueueControls } from '../../common/src/db/queue-controls';
import { retryTask } from '../../scheduler/src/db/tasks';
import { claimDueTasks, nextDueInMs } from '../src/db/claim-due-tasks';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { measureQueue } from '../../common/src/db/measure-queue';

/*
 * The gates of migration 0017 against a real PostgreSQL: the claim statement itself with queue controls and
 * concurrency keys, and the counts the triggers keep as tasks move.
 */
let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});

afterEach(async () => {
  await db.drop();
});

const WORKER = 7;
const RUNS_CHARGE = { names: ['charge', 'report'], commandTasks: true, commandsWithoutPayload: false };

const due = () => new Date(Date.now() - 1000);

async function enqueue(tasks: Array<Partial<NewTask>>): Promise<string[]> {
  return (await insertTasks(db.pool, tasks.map((task) => ({ scheduledAt: due(), ...task })))).map((task) => task.id);
}

async function claim(slots: number) {
  return claimDueTasks(db.pool, Array.from({ length: slots }, () => WORKER), RUNS_CHARGE, 30_000);
}

async function finish(ids: string[], status: 'succeeded' | 'pending' = 'succeeded'): Promise<void> {
  await db.pool.query(
    `UPDATE tasks SET status = $2::task_status, worker_id = CASE WHEN $2 = 'pending' THEN NULL ELSE worker_id END, updated_at = now()
     WHERE id = ANY($1::uuid[])`, [ids, status]);
}

async function gates() {
  const { rows } = await db.pool.query(`SELECT name, key, running, next_due < 'infinity' AS has_pending FROM concurrency_keys ORDER BY key`);
  return rows;
}

test('a concurrency key lets one task per customer run at a time, and the next one in when it finishes', async () => {
  await setConcurrencyLimit(db.pool, 'charge', { keyField: 'customer.id', maxRunning: 1 }, 'api');
  const a = await enqueue([1, 2, 3].map((n) => ({ name: 'charge', payload: { customer: { id: 'a' }, n } })));
  const b = await enqueue([1, 2].map((n) => ({ name: 'charge', payload: { customer: { id: 'b' }, n } })));
  const free = await enqueue([{ name: 'charge', payload: { n: 0 } }, { command: 'noop' }]);

  const first = (await claim(10)).map((task) => task.id);
  // One of each key (a batch's tasks are due together: any one), and the two without a key (no customer.id, a command).
  expect(first).toHaveLength(4);
  expect(first.filter((id) => a.includes(id))).toHaveLength(1);
  expect(first.filter((id) => b.includes(id))).toHaveLength(1);
  expect(first).toEqual(expect.arrayContaining(free));
  const runningA = first.find((id) => a.includes(id))!;
  expect(await claim(10)).toEqual([]);
  expect(await gates()).toEqual([
    { name: 'charge', key: 'a', running: 1, has_pending: true },
    { name: 'charge', key: 'b', running: 1, has_pending: true },
  ]);

  await finish([runningA]);
  const [next] = (await claim(10)).map((task) => task.id);
  expect(a.filter((id) => id !== runningA)).toContain(next);
  // Handed back (a worker died): the slot is free again and the task is claimable again, first of its key.
  await finish([next], 'pending');
  expect((await claim(10)).map((task) => task.id)).toEqual([next]);

  const [limit] = await listConcurrencyLimits(db.pool);
  expect(limit).toMatchObject({ name: 'charge', key_field: 'customer.id', max_running: 1, keys: 2, keys_at_limit: 2, running: 2 });
});

test('a limit set on a backlog re-keys it and counts what runs; removing it frees every task', async () => {
  const ids = await enqueue([1, 2, 3, 4].map((n) => ({ name: 'charge', payload: { customer: 'c', n } })));
  expect(await claim(1)).toHaveLength(1);
  await setConcurrencyLimit(db.pool, 'charge', { keyField: 'customer', maxRunning: 2 }, 'api');
  expect(await gates()).toEqual([{ name: 'charge', key: 'c', running: 1, has_pending: true }]);
  expect(await claim(10)).toHaveLength(1);
  expect(await claim(10)).toHaveLength(0);

  expect(await removeConcurrencyLimit(db.pool, 'charge')).toBe(true);
  expect(await gates()).toEqual([]);
  const rest = await claim(10);
  expect(rest).toHaveLength(2);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS gated FROM tasks WHERE id = ANY($1::uuid[]) AND (gated OR concurrency_key IS NOT NULL)`, [ids]);
  expect(rows[0].gated).toBe(0);
});

test('a paused queue is skipped, its backlog gated once, and resuming lets it run', async () => {
  const reports = await enqueue([1, 2, 3].map((n) => ({ name: 'report', queue: 'reports', payload: { n } })));
  await setQueueControls(db.pool, 'reports', { paused: true });
  const others = await enqueue([{ command: 'noop' }, { name: 'report', queue: 'reports', payload: { n: 4 } }]);

  expect((await claim(10)).map((task) => task.id)).toEqual([others[0]]);
  const [queue] = await listQueues(db.pool);
  expect(queue).toMatchObject({ name: 'reports', paused: true, pending: 4, running: 0, max_running: null, tokens: null });
  // Nothing claimable: the paused queue's tasks do not make the dispatcher spin.
  expect(await nextDueInMs(db.pool)).toBeNull();

  await setQueueControls(db.pool, 'reports', { paused: false });
  expect((await claim(10)).map((task) => task.id).sort()).toEqual([...reports, others[1]].sort());
});

test('max_running counts the queue\'s tasks in flight, those claimed before it was set included', async () => {
  const ids = await enqueue([1, 2, 3, 4, 5].map((n) => ({ name: 'report', queue: 'reports', payload: { n } })));
  const early = await claim(1);
  await setQueueControls(db.pool, 'reports', { maxRunning: 2 });
  expect((await listQueues(db.pool))[0]).toMatchObject({ running: 1, max_running: 2, pending: 4 });
  expect(await claim(10)).toHaveLength(1);
  expect(await claim(10)).toHaveLength(0);
  await finish([early[0].id]);
  expect(await claim(10)).toHaveLength(1);
  expect((await listQueues(db.pool))[0]).toMatchObject({ running: 2, pending: 2 });

  await setQueueControls(db.pool, 'reports', { maxRunning: null });
  expect(await claim(10)).toHaveLength(2);
  expect(await releaseQueue(db.pool, 'reports')).toBe(true);
  expect(await listQueues(db.pool)).toEqual([]);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS gated FROM tasks WHERE id = ANY($1::uuid[]) AND gated AND status <> 'succeeded'`, [ids]);
  expect(rows[0].gated).toBe(0);
});

test('a finished task retried is gated as controls are now', async () => {
  const [id] = await enqueue([{ name: 'charge', queue: 'billing', payload: { customer: 'a' } }]);
  await claim(1);
  await finish([id]);
  await setConcurrencyLimit(db.pool, 'charge', { keyField: 'customer', maxRunning: 1 }, 'api');
  await setQueueControls(db.pool, 'billing', { paused: true });
  await db.pool.query(`UPDATE tasks SET status = 'failed' WHERE id = $1`, [id]);
  expect(await retryTask(db.pool, id)).toBeDefined();
  expect(await claim(1)).toHaveLength(0);
  expect(await gates()).toEqual([{ name: 'charge', key: 'a', running: 0, has_pending: true }]);
  await releaseQueue(db.pool, 'billing');
  await removeConcurrencyLimit(db.pool, 'charge');
  expect(await claim(1)).toHaveLength(1);
});

test('max_per_second takes a token per start and says when the next one is due', async () => {
  await setQueueControls(db.pool, 'mail', { maxPerSecond: 2 });
  await enqueue([1, 2, 3, 4, 5].map((n) => ({ name: 'report', queue: 'mail', payload: { n } })));
  expect(await claim(10)).toHaveLength(2);
  expect(await claim(10)).toHaveLength(0);
  const wait = await nextDueInMs(db.pool);
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(500);
  await new Promise((resolve) => setTimeout(resolve, 600));
  expect(await claim(10)).toHaveLength(1);
});

test('a keyed task of a controlled queue needs room in both gates', async () => {
  await setConcurrencyLimit(db.pool, 'charge', { keyField: 'customer', maxRunning: 5 }, 'api');
  await setQueueControls(db.pool, 'billing', { maxRunning: 2 });
  await enqueue(['a', 'a', 'a', 'b', 'b'].map((customer) => ({ name: 'charge', queue: 'billing', payload: { customer } })));
  expect(await claim(10)).toHaveLength(2);
  expect(await claim(10)).toHaveLength(0);
  await setQueueControls(db.pool, 'billing', { paused: true, maxRunning: null });
  expect(await claim(10)).toHaveLength(0);
  await setQueueControls(db.pool, 'billing', { paused: false });
  expect(await claim(10)).toHaveLength(3);
});

test('the queue depth counts gated tasks that could start now, not a paused or full queue\'s backlog', async () => {
  await enqueue([{ command: 'noop' }, { command: 'noop' }]);
  await setQueueControls(db.pool, 'reports', { maxRunning: 2 });
  await enqueue([1, 2, 3, 4, 5].map((n) => ({ name: 'report', queue: 'reports', payload: { n } })));
  await setConcurrencyLimit(db.pool, 'charge', { keyField: 'customer', maxRunning: 1 }, 'api');
  await enqueue(['a', 'a', 'b'].map((customer) => ({ name: 'charge', payload: { customer } })));
  // 2 commands, 2 of the 5 reports (its room), one of each key.
  expect((await measureQueue(db.pool)).depth).toBe(6);
  await setQueueControls(db.pool, 'reports', { paused: true });
  expect((await measureQueue(db.pool)).depth).toBe(4);
});
