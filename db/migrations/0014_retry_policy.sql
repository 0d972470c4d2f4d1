-- A retry policy per task (docs/architecture.md, "Retries"): how long a failed attempt waits before the next.
-- An object with any of backoff ('exponential' or 'fixed'), delay_seconds, max_delay_seconds and jitter (boolean),
-- stored as the API takes and shows it;
-- what it leaves out, or a NULL policy, is the coordinator's default (RETRY_BACKOFF_BASE, RETRY_BACKOFF_MAX,
-- exponential with jitter). One JSONB column rather than four: only a failure reads it, and a task without a
-- policy stores nothing. The API validates the keys; this keeps anything else out.
-- `retry IS NULL OR` first: every insert and update checks this, and for the tasks without a policy (nearly all)
-- the OR stops there instead of calling each function on NULL.
ALTER TABLE tasks ADD COLUMN retry JSONB CHECK (retry IS NULL OR (
  jsonb_typeof(retry) = 'object'
  AND (retry -> 'backoff' IS NULL OR retry ->> 'backoff' IN ('exponential', 'fixed'))
  AND (retry -> 'delay_seconds' IS NULL OR (jsonb_typeof(retry -> 'delay_seconds') = 'number' AND (retry ->> 'delay_seconds')::float8 BETWEEN 0 AND 86400))
  AND (retry -> 'max_delay_seconds' IS NULL OR (jsonb_typeof(retry -> 'max_delay_seconds') = 'number' AND (retry ->> 'max_delay_seconds')::float8 BETWEEN 0 AND 86400))
  AND (retry -> 'jitter' IS NULL OR jsonb_typeof(retry -> 'jitter') = 'boolean')
));
