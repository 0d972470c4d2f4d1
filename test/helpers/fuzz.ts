import fc from 'fast-check';
import type { Pool } from '../../services/common/src/db/pool';

/*
 * What the property-based hostile-input tests (test/e2e/fuzz-*.test.ts) share: the seed, a runner that counts
 * and prints the cases of each property, a fingerprint of the tables a refused request must not touch, and
 * arbitraries of hostile values.
 */

/** One seed per run, printed with every summary: FUZZ_SEED=<n> replays a run. */
export const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

/** FUZZ_RUNS_FACTOR scales every property's case count (e.g. 10 for a longer hunt); default 1. */
const FACTOR = Number(process.env.FUZZ_RUNS_FACTOR ?? 1);

/**
 * Runs an async property `numRuns` times (scaled by FUZZ_RUNS_FACTOR) with the run's seed, then prints one
 * line: "fuzz: <name> <n> cases (seed <seed>)". Returns how many cases ran, so a test can check it ran any.
 */
export async function runProperty<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number): Promise<number> {
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      cases += 1;
      await predicate(value);
    }),
    { numRuns: Math.max(1, Math.round(numRuns * FACTOR)), seed: SEED, endOnFailure: true },
  );
  console.log(`fuzz: ${name} ${cases} cases (seed ${SEED})`);
  return cases;
}

/** The tables a refused request must leave as they were. */
const TABLES = ['tasks', 'events', 'schedules', 'queues', 'concurrency_limits', 'concurrency_keys', 'worker_owners'];

/**
 * A fingerprint of every row of those tables (md5 of the rows' text, in a stable order): equal fingerprints
 * before and after a request mean it wrote nothing. The fuzzed databases stay small, so one query is cheap.
 */
export async function databaseFingerprint(pool: Pool): Promise<Record<string, string>> {
  const columns = TABLES.map((table) => `(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ${table} t) AS ${table}`);
  const { rows } = await pool.query<Record<string, string>>(`SELECT ${columns.join(', ')}`);
  return rows[0];
}

// ---- Hostile values ----

/** Strings of C0 controls and DEL, alone or inside printable text. */
export const controlString = fc.tuple(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 }).map((s) => (s.length % 2 === 0 ? s : s + '\u007f')),
  fc.string({ maxLength: 8 }),
).map(([a, control, b]) => a + control + b);

/** Any code point of the whole Unicode range (astral planes, combining marks, RTL overrides, BOM). */
export const unicodeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\u202e\u0644\u0627', '\ufeff', 'e\u0301\u0301\u0301', '\u{1f4a9}', '\u200b', 'Ａ', 'ß'.repeat(3), '\uffff'),
);

/** Text that may carry anything: controls, any code point, JSON and SQL metacharacters, path tricks. */
export const hostileString = fc.oneof(
  controlString,
  unicodeString,
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.constantFrom("'; DROP TABLE tasks; --", '%', '_', '\\', '..', '../../etc/passwd', '$(reboot)', '{"a":1}', 'null', 'NaN', '-0', ' ', '\u0000', '__proto__', 'constructor', 'valueOf', 'toString'),
);

/** Numbers no field takes whole: fractions, negatives, past every range, beyond float64's exact integers. */
export const wildNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-1, 0.5, -0.000001, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer({ min: -(2 ** 31), max: -1 }),
);

/** A value of some type, for fields that expect another (objects and arrays nested a little). */
export const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Any JSON value that is not a string. */
export const notString = anyJson.filter((value) => typeof value !== 'string');
/** Any JSON value that is not a number. */
export const notNumber = anyJson.filter((value) => typeof value !== 'number');
/** Any JSON value that is not a boolean (null included: optional booleans refuse it). */
export const notBoolean = anyJson.filter((value) => typeof value !== 'boolean');

/**
 * Date-times that are not ones: impossible calendar days and clock times (which Date would roll over into the
 * next month or day), offsets past ±23:59, zone names where an offset belongs, years past 9999, other formats.
 */
export const invalidDateTime = fc.oneof(
  fc.constantFrom(
    '2026-02-30T00:00:00Z', '2026-02-29T12:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z',
    '2026-01-00T00:00:00Z', '2026-01-01T25:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:61Z', '2026-01-01T00:00:00+25:00',
    '2026-01-01T00:00:00+05:75', '2026-01-01T00:00:00 Europe/Paris', '2026-01-01T00:00:00[Europe/Paris]', '+275760-09-13T00:00:01Z',
    '10000-01-01T00:00:00Z', '2026-01-01', '01/02/2026 10:00', 'now', 'tomorrow', '', '2026-01-01T00:00:00ZZ', '1e400', '2026-01-01T00:00:00Z\u0000',
  ),
  fc.tuple(fc.integer({ min: 2000, max: 2100 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 29, max: 31 }))
    .filter(([year, month, day]) => day > new Date(Date.UTC(year, month, 0)).getUTCDate())
    .map(([year, month, day]) => `${year}-${String(month).padStart(2, '0')}-${day}T10:00:00Z`),
  hostileString,
);

/** Cron patterns nothing should accept: wrong field counts, values out of range, broken steps and ranges. */
export const invalidCron = fc.oneof(
  fc.constantFrom(
    '', '* * * *', '* * * * * * *', '61 * * * *', '* 24 * * *', '* * 32 * *', '* * * 13 *', '* * * * 8', '*/0 * * * *', '5-1/0 * * * *',
    '1-2-3 * * * *', 'a b c d e', '@never', '@', '* * * * *\n* * * * *', '0 0 1,,2 * *', '1e400 * * * *', '-1 * * * *',
  ),
  // Valid to croner, but longer than the 200 characters a schedule stores.
  fc.integer({ min: 100, max: 400 }).map((n) => `0 9 * * ${Array.from({ length: n }, () => '1').join(',')}`),
  hostileString.filter((text) => text.trim().split(/\s+/).length < 5),
);

/** Names no IANA zone has (and offsets written as zones). */
export const invalidTimezone = fc.oneof(
  fc.constantFrom('Mars/Olympus_Mons', 'UTC+99', 'Europe/Paris\u0000', '../../etc/passwd', 'Europe/', '+25:00', 'Etc/GMT+15', ' UTC', 'utc ', 'Local'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map((text) => `Zz/${text}`),
);

/** JSON text nesting `depth` arrays, or objects, around a value: the shape that overflows recursive parsers. */
export function deepJson(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Path segments for ids and names: hostile text, percent-encoded so that "." and ".." stay segments. */
export function pathSegment(text: string): string {
  return encodeURIComponent(text).replace(/\./g, '%2E');
}
