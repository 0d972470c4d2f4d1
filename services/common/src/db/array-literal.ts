/*
 * Array parameters of the batched statements as PostgreSQL array literals, built with one join; the SQL
 * casts each to its type ($1::uuid[] and so on). Given a JS array, node-postgres builds the literal itself,
 * several strings per element: for the claims, the status writes and the inserts that was over a third of
 * all the coordinator allocated and a sixth of the scheduler's, work for the garbage collector
 * (docs/performance.md).
 */

/** Numbers and nulls: {1,2.5,NULL}. */
export function numberArray(values: readonly (number | null)[]): string {
  const items = values.includes(null) ? values.map((value) => value ?? 'NULL') : values;
  return `{${items.join(',')}}`;
}

/** UUIDs, checked as such before they get here (an unquoted element must not hold a comma or a brace). */
export function uuidArray(values: readonly string[]): string {
  return `{${values.join(',')}}`;
}

/** Any text, and nulls: {"a","say \"hi\"",NULL}. */
export function textArray(values: readonly (string | null)[]): string {
  return `{${values.map(quoted).join(',')}}`;
}

/** Booleans: {t,f}. */
export function booleanArray(values: readonly boolean[]): string {
  return `{${values.map((value) => (value ? 't' : 'f')).join(',')}}`;
}

/** Times, as ISO 8601 in UTC: {2026-12-03T01:02:03.123Z}. */
export function timestampArray(values: readonly Date[]): string {
  return `{${values.map((value) => value.toISOString()).join(',')}}`;
}

const SPECIAL = /[\\"]/;

function quoted(value: string | null): string {
  if (value === null) return 'NULL';
  return `"${SPECIAL.test(value) ? value.replace(/[\\"]/g, '\\$&') : value}"`;
}
