import { pruneEvents } from '../src/db/prune-events';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

test('deletes events older than the retention, in batches, and keeps newer ones', async () => {
  await db.pool.query(`INSERT INTO events (type, message, at) SELECT 'scale', 'old', now() - interval '8 days' FROM generate_series(1, 25)`);
  await db.pool.query(`INSERT INTO events (type, message, at) SELECT 'scale', 'recent', now() - interval '1 day' FROM generate_series(1, 5)`);
  expect(await pruneEvents(db.pool, 7 * 86_400_000, 10)).toBe(25);
  const { rows } = await db.pool.query('SELECT message, count(*)::int AS n FROM events GROUP BY message');
  expect(rows).toEqual([{ message: 'recent', n: 5 }]);
});
