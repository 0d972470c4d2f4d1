import pg from 'pg';
import { numberArray, textArray, timestampArray, uuidArray } from '../src/db/array-literal';

// Each literal goes through PostgreSQL's own array parser and comes back as the values it was built from.
let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: process.env.TASKMASTER_TEST_ADMIN_URL! });
  await client.connect();
});
afterAll(() => client.end());

async function roundTrip<T>(literal: string, type: string): Promise<T> {
  const { rows } = await client.query<{ value: T }>(`SELECT $1::${type} AS value`, [literal]);
  return rows[0].value;
}

test('text: quotes, backslashes, commas, braces, spaces, the word NULL, the empty string, non-ASCII and nulls', async () => {
  const texts = ['', 'plain', 'say "hi"', 'back\\slash', '\\"', 'comma, {brace}', 'NULL', ' spaces ', 'ünï€😀', null, '{"a":[1,2]}'];
  expect(await roundTrip(textArray(texts), 'text[]')).toEqual(texts);
});

test('numbers: integers, fractions, large times in ms and nulls; an empty array', async () => {
  const numbers = [1, 2.5, null, 1_764_720_000_123.456, -3, 0];
  expect(await roundTrip(numberArray(numbers), 'float8[]')).toEqual(numbers);
  expect(await roundTrip(numberArray([7, null, 2 ** 31 - 1]), 'bigint[]')).toEqual(['7', null, '2147483647']);
  expect(await roundTrip(numberArray([]), 'int[]')).toEqual([]);
});

test('timestamps keep their milliseconds; UUIDs', async () => {
  const dates = [new Date(1_764_720_000_123), new Date(0), new Date('2026-12-03T01:02:03.999Z')];
  expect(await roundTrip<Date[]>(timestampArray(dates), 'timestamptz[]')).toEqual(dates);
  const ids = ['0b7d3a1e-8f00-4c1e-9a3e-1234567890ab', 'ffffffff-ffff-4fff-bfff-ffffffffffff'];
  expect(await roundTrip(uuidArray(ids), 'uuid[]')).toEqual(ids);
});
