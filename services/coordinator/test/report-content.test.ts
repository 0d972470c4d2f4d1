import { resultAsJson } from '../src/report-content';

/*
 * A result is stored as JSON when PostgreSQL's jsonb can hold it, as a JSON string of its text otherwise; the
 * checks for what jsonb refuses run only when the text can fail them, so each case here takes its slow path.
 */
test('JSON results are kept; text and JSON that jsonb refuses become JSON strings', () => {
  expect(resultAsJson('')).toBe('');
  expect(resultAsJson('{"width": 64, "tags": ["a"]}')).toBe('{"width": 64, "tags": ["a"]}');
  expect(resultAsJson('done')).toBe('"done"');
  // Beyond float64: JSON.parse reads Infinity; also a run of 310 digits.
  expect(resultAsJson('1e999')).toBe('"1e999"');
  expect(resultAsJson('1'.repeat(310))).toBe(JSON.stringify('1'.repeat(310)));
  expect(resultAsJson('1e308')).toBe('1e308');
  // A \u0000 escape and an unpaired surrogate escape: jsonb refuses both; an escaped backslash before u is fine.
  expect(resultAsJson('"a\\u0000b"')).toBe(JSON.stringify('"a\\u0000b"'));
  expect(resultAsJson('"\\ud800"')).toBe(JSON.stringify('"\\ud800"'));
  expect(resultAsJson('"\\\\u0000"')).toBe('"\\\\u0000"');
  // Deeper than 1,000 levels of nesting.
  const deep = `${'['.repeat(1001)}${']'.repeat(1001)}`;
  expect(resultAsJson(deep)).toBe(JSON.stringify(deep));
  const shallow = `${'['.repeat(1000)}${']'.repeat(1000)}`;
  expect(resultAsJson(shallow)).toBe(shallow);
});
