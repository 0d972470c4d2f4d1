-- Every status transition, and the operator events around them, as one ordered feed.
--
-- The scheduler tails this table by id to build /api/logs and the SSE stream, so the stream is complete
-- and identical whichever scheduler replica serves it. Rows are written by statement-level triggers on
-- tasks (one INSERT ... SELECT per statement, not one per row, so batched transitions stay batched) and
-- directly by the services for worker and scaling events.
CREATE TABLE events (
  id        BIGSERIAL PRIMARY KEY,
  at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  -- scheduled | assigned | started | completed | failed | retried | reassigned | cancelled
  -- | worker_joined | worker_left | worker_evicted | scale | kill
  type      TEXT NOT NULL,
  task_id   UUID,
  attempt   INTEGER,
  worker_id BIGINT,
  command   TEXT,
  message   TEXT
);

CREATE INDEX events_at_idx ON events (at);

-- Maps one row's transition to its event type; NULL when the row changed without a transition
-- (a lease renewal, say).
CREATE FUNCTION task_event_type(old_status task_status, new_status task_status,
                                old_failed_at TIMESTAMPTZ, new_failed_at TIMESTAMPTZ)
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN old_status = new_status THEN NULL
    WHEN new_status = 'dispatched' THEN 'assigned'
    WHEN new_status = 'running' THEN 'started'
    WHEN new_status = 'succeeded' THEN 'completed'
    WHEN new_status = 'failed' THEN 'failed'
    WHEN new_status = 'cancelled' THEN 'cancelled'
    -- Back to pending: after a reported failure (failed_at moved) or an operator's retry of a finished
    -- task it is a retry; from a worker's hands otherwise it is a hand-back.
    WHEN new_status = 'pending' AND new_failed_at IS DISTINCT FROM old_failed_at THEN 'retried'
    WHEN new_status = 'pending' AND old_status IN ('failed', 'cancelled') THEN 'retried'
    WHEN new_status = 'pending' THEN 'reassigned'
  END
$$;

CREATE FUNCTION record_task_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (type, task_id, attempt, command)
  SELECT 'scheduled', n.id, n.attempt, n.command FROM new_rows n;
  -- One wake-up per statement for the coordinators; the payload is not used, the claim query decides.
  PERFORM pg_notify('taskmaster_tasks', '');
  RETURN NULL;
END
$$;

CREATE FUNCTION record_task_transitions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  requeued INTEGER;
BEGIN
  INSERT INTO events (type, task_id, attempt, worker_id, command, message)
  SELECT e.type, n.id, n.attempt, COALESCE(n.worker_id, o.worker_id), n.command,
         CASE WHEN e.type IN ('failed', 'retried') THEN n.last_error END
  FROM new_rows n
  JOIN old_rows o ON o.id = n.id
  CROSS JOIN LATERAL (SELECT task_event_type(o.status, n.status, o.failed_at, n.failed_at) AS type) e
  WHERE e.type IS NOT NULL;
  -- Tasks handed back or cancelled free work for the coordinators to claim.
  SELECT count(*) INTO requeued FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.status = 'pending' AND o.status <> 'pending';
  IF requeued > 0 THEN
    PERFORM pg_notify('taskmaster_tasks', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_record_inserts AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION record_task_inserts();

CREATE TRIGGER tasks_record_transitions AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION record_task_transitions();

-- Wakes the schedulers' event feeds once per statement (NOTIFY also folds repeats within a transaction).
CREATE FUNCTION notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('taskmaster_events', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION notify_events();

-- A task's timeline in the dashboard.
CREATE INDEX events_task_idx ON events (task_id, id) WHERE task_id IS NOT NULL;
