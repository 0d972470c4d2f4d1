import { unstorableJsonProblem } from '../../common/src/storable-json';

/*
 * What a status report may carry into the database. A value PostgreSQL refuses (a NUL in text, a timestamp
 * out of its range, JSON it cannot store) would fail the whole batched statement and every report in it,
 * so each report is checked alone before it is queued (status-recorder.ts).
 */

/** 9999-12-31T23:59:59.999Z: later times are refused, not clamped; a sane clock never sends them. */
const MAX_TIME_MS = Date.UTC(10_000, 0, 1) - 1;
/** Longest error text stored; an error is a message, not a log. */
export const MAX_ERROR_LENGTH = 64 * 1024;
/**
 * Longest result text accepted: an outer bound for the protocol. The limit a task's result must keep is the
 * task type's (enforced where results are made); this one only keeps a runaway report out of a batch.
 */
export const MAX_RESULT_LENGTH = 1024 * 1024;
/** An unpaired UTF-16 surrogate: node writes it to the wire as U+FFFD anyway, so replacing it changes nothing. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

export function isStorableTime(ms: number, unitMs: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms * unitMs <= MAX_TIME_MS;
}

/**
 * A report's result as JSON text for the jsonb column: text that parses as JSON (and PostgreSQL can store) is
 * that JSON, any other text a JSON string of it; '' (no result) stays ''. The caller has refused NUL already.
 */
export function resultAsJson(result: string): string {
  if (result === '') return '';
  const text = wellFormed(result);
  if (isStorableJson(text)) return text;
  return JSON.stringify(text);
}

/** Text that could hold a number beyond float64 (a long exponent or a long run of digits). */
const HUGE_NUMBER = /[eE][+]?\d{3}|\d{309}/;

/*
 * Every report's result passes here, on the recorder's path: each costlier check runs only when the text can
 * fail it (a reviver on every node, or a scan of every character, for every result showed in the profile).
 */
function isStorableJson(text: string): boolean {
  let finite = true;
  try {
    if (!HUGE_NUMBER.test(text)) JSON.parse(text);
    // JSON.parse turns a number beyond float64 into Infinity; PostgreSQL may refuse it (numeric overflow).
    else JSON.parse(text, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) finite = false;
      return value;
    });
  } catch {
    return false;
  }
  // Deeper nesting, NUL and unpaired surrogate escapes: kept as a string (storable-json.ts).
  return finite && unstorableJsonProblem(text) === undefined;
}
