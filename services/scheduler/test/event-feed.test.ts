import type { PoolClient } from 'pg';
import { createLogger } from '../../common/src/logger';
import { EventFeed } from '../src/events/event-feed';
import type { EventView } from '../src/api-types';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';

/*
 * The scheduler's event feed against real PostgreSQL, with commits out of id order: ids come from a sequence
 * before commit, so a later id can become visible first. The feed must hold the later one back until the
 * earlier one commits (then deliver both in order) or is rolled back (then skip it, without waiting out the
 * bound, which these tests set far beyond their own timeouts).
 */

let db: TestDatabase;
const feeds: EventFeed[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(feeds.map((feed) => feed.close()));
  await db.drop();
});

function newFeed(): EventFeed {
  const feed = new EventFeed({ pool: db.pool, database: db.config, logger: createLogger('test', 'silent'), gapTimeoutMs: 120_000 });
  feeds.push(feed);
  return feed;
}

/** A subscriber that records what it receives. */
function collector(): { ids: number[]; sink: (events: readonly EventView[]) => void } {
  const ids: number[] = [];
  return { ids, sink: (events) => ids.push(...events.map((event) => event.id)) };
}

/** Opens a transaction that has inserted one event and not committed; returns its id. */
async function openInsert(message: string): Promise<{ client: PoolClient; id: number }> {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ id: number }>(`INSERT INTO events (type, message) VALUES ('scale', $1) RETURNING id`, [message]);
  return { client, id: rows[0].id };
}

async function finish(tx: { client: PoolClient }, how: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  await tx.client.query(how);
  tx.client.release();
}

async function insertEvent(message: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO events (type, message) VALUES ('scale', $1) RETURNING id`, [message]);
  return rows[0].id;
}

async function headId(): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM events');
  return rows[0].id;
}

test('a later id committed first is held back until the earlier one commits, then both arrive in order', async () => {
  const feed = newFeed();
  const seen = collector();
  const unsubscribe = await feed.subscribe(seen.sink, { after: await headId() });
  try {
    const early = await openInsert('early');
    const late = await openInsert('late');
    expect(late.id).toBeGreaterThan(early.id);
    await finish(late, 'COMMIT');
    const marker = await insertEvent('marker');
    // The tail has been woken by both commits; nothing after the open id may have been delivered.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(seen.ids).toEqual([]);

    await finish(early, 'COMMIT');
    await waitFor(() => seen.ids.length >= 3, 15_000, 'the three events');
    expect(seen.ids).toEqual([early.id, late.id, marker]);
  } finally {
    unsubscribe();
  }
});

test('an id whose transaction rolled back is skipped as soon as it rolled back, not after the bound', async () => {
  const feed = newFeed();
  const seen = collector();
  const unsubscribe = await feed.subscribe(seen.sink, { after: await headId() });
  try {
    const doomed = await openInsert('doomed');
    const kept = await insertEvent('kept');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.ids).toEqual([]);
    await finish(doomed, 'ROLLBACK');
    // The bound is 120 s; this waits 15 s at most, so only the snapshot rule can pass it.
    await waitFor(() => seen.ids.length >= 1, 15_000, 'the event after the rolled-back id');
    expect(seen.ids).toEqual([kept]);
  } finally {
    unsubscribe();
  }
});

test('a tail that starts while a lower id is uncommitted waits for it, so its first subscriber misses nothing', async () => {
  const before = await headId();
  const early = await openInsert('early, committed after the tail started');
  const late = await insertEvent('late');
  const feed = newFeed();
  const seen = collector();
  let subscribed = false;
  const subscription = feed.subscribe(seen.sink).then((unsubscribe) => {
    subscribed = true;
    return unsubscribe;
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(subscribed).toBe(false);
  await finish(early, 'COMMIT');
  const unsubscribe = await subscription;
  try {
    const after = await insertEvent('live');
    await waitFor(() => seen.ids.includes(after), 15_000, 'the live event');
    const fromBefore = seen.ids.filter((id) => id > before);
    expect(fromBefore).toEqual([early.id, late, after]);
  } finally {
    unsubscribe();
  }
});

test('concurrent writers committing out of order: two subscribers that start together get the same complete sequence', async () => {
  const start = await headId();
  const feed = newFeed();
  const a = collector();
  const b = collector();
  const [stopA, stopB] = await Promise.all([feed.subscribe(a.sink, { after: start }), feed.subscribe(b.sink, { after: start })]);
  try {
    // 40 rounds of 5 concurrent single-row transactions, each holding its row a random moment before commit.
    for (let round = 0; round < 40; round++) {
      await Promise.all(Array.from({ length: 5 }, async (_, i) => {
        const tx = await openInsert(`round ${round} writer ${i}`);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
        await finish(tx, Math.random() < 0.1 ? 'ROLLBACK' : 'COMMIT');
      }));
    }
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM events WHERE id > $1 ORDER BY id', [start]);
    const expected = rows.map((row) => row.id);
    await waitFor(() => a.ids.length >= expected.length && b.ids.length >= expected.length, 30_000, () => `all ${expected.length} events (a ${a.ids.length}, b ${b.ids.length})`);
    console.log(`out-of-order writers: ${expected.length} events committed (about 10 % of 200 rolled back), each subscriber received ${a.ids.length} and ${b.ids.length}`);
    expect(a.ids).toEqual(expected);
    expect(b.ids).toEqual(expected);
  } finally {
    stopA();
    stopB();
  }
});
