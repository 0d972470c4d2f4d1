/*
 * What a jsonb column can hold of JSON that JavaScript produces. JSON.stringify writes a NUL character and an
 * unpaired UTF-16 surrogate as \u escapes, which PostgreSQL's jsonb refuses, and PostgreSQL's parser recurses,
 * so too deep a document fails the statement; JSON.stringify itself overflows the stack long before 10,000
 * levels. A value refused here is a request's fault (400, INVALID_ARGUMENT), not the database's (500).
 */

/** Deepest nesting of arrays and objects stored; deeper is refused (or, for a report's result, kept as a string). */
export const MAX_JSON_DEPTH = 1000;

/** A \u0000 escape or an unpaired surrogate escape in JSON text (after an even number of backslashes): jsonb refuses both. */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})d[c-f][0-9a-f]{2})/i;

/** Whether valid JSON text nests arrays and objects deeper than `limit` (brackets inside strings do not count). */
export function deeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Why valid JSON text cannot be stored in a jsonb column, as a phrase that follows the field's name, or
 * undefined. Each scan runs only when the text could fail it.
 */
export function unstorableJsonProblem(text: string): string | undefined {
  if (text.includes('\\u') && UNSTORABLE_ESCAPE.test(text)) {
    return 'holds a NUL character or an unpaired UTF-16 surrogate, which PostgreSQL cannot store';
  }
  if (text.length > MAX_JSON_DEPTH && deeperThan(text, MAX_JSON_DEPTH)) return `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`;
  return undefined;
}

/**
 * A parsed JSON value as the text to store, or why it cannot be stored: JSON.stringify overflows the stack on
 * deep nesting (about 10,000 levels), which is then the answer rather than a crash.
 */
export function storableJson(value: unknown): { text: string; problem?: undefined } | { text?: undefined; problem: string } {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) return { problem: `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels` };
    throw err;
  }
  const problem = unstorableJsonProblem(text);
  return problem ? { problem } : { text };
}
