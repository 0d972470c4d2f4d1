-- Recurring schedules (docs/schedules.md): a cron pattern in a time zone that creates a task per occurrence.
-- The coordinators fire them (schedule-ticker.ts). Each occurrence's task carries the idempotency key
-- 'schedule:<id>:<occurrence in Unix ms>', so an occurrence becomes exactly one task whichever coordinator
-- fires it, however often, and across restarts; next_run_at is the first occurrence not fired yet.
CREATE TABLE schedules (
  id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Declared schedules (a task type's cron in the SDK, the chart's values) are upserted by key; NULL for one
  -- made through the API without a key.
  key             TEXT UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  -- The task each occurrence creates.
  name            TEXT NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  payload         JSONB,
  queue           TEXT NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  priority        INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
  max_attempts    INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  timeout_seconds INTEGER CHECK (timeout_seconds BETWEEN 1 AND 604800),
  -- 5 or 6 fields (seconds first), checked by the services with croner; the zone is an IANA name.
  cron            TEXT NOT NULL CHECK (length(cron) BETWEEN 1 AND 200),
  timezone        TEXT NOT NULL DEFAULT 'UTC',
  -- skip: no new task while the previous one has not finished.
  overlap         TEXT NOT NULL DEFAULT 'allow' CHECK (overlap IN ('skip', 'allow')),
  -- Occurrences missed while nothing fired them (downtime, a pause is not one): none, the last, or all.
  catch_up        TEXT NOT NULL DEFAULT 'last' CHECK (catch_up IN ('none', 'last', 'all')),
  paused          BOOLEAN NOT NULL DEFAULT false,
  -- NULL: the pattern has no further occurrence.
  next_run_at     TIMESTAMPTZ,
  last_run_at     TIMESTAMPTZ,
  last_task_id    UUID,
  source          TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'worker', 'config')),
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The ticker's question: which active schedules are due, earliest first.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE NOT paused AND next_run_at IS NOT NULL;

-- Wakes the coordinators' tickers when a schedule is made, changed or resumed (one per statement).
CREATE FUNCTION notify_schedules() RETURNS trigger LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_notify('taskmaster_schedules', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER schedules_notify AFTER INSERT OR UPDATE OF cron, timezone, paused, next_run_at ON schedules
  FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules();
