-- Cancelling held tasks, and why a task stopped (docs/architecture.md, "Cancelling and timeouts").
--
-- A cancel now applies to a task a worker holds (dispatched or running), not only to a pending one; the
-- cancel statement stores the operator's reason in last_error and NOTIFYs taskmaster_cancels so that the
-- coordinator of the worker stops the attempt at once (scheduler db/tasks.ts). The trigger below is 0007's
-- with one change: a 'cancelled' event carries last_error as its message, as 'failed' and 'retried' do, so the
-- task's timeline says why it stopped.
CREATE OR REPLACE FUNCTION record_task_transitions() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  requeued INTEGER;
BEGIN
  WITH recorded AS (
    INSERT INTO events (type, task_id, attempt, worker_id, command, message)
    SELECT s.type, t.id, t.attempt, t.worker_id, t.command,
           CASE WHEN s.type IN ('failed', 'retried', 'cancelled') THEN t.last_error END
    FROM (
      SELECT n.id, n.attempt, COALESCE(n.worker_id, o.worker_id) AS worker_id, COALESCE(n.name, n.command) AS command,
             n.last_error, o.status AS old_status, task_event_type(o.status, n.status, o.failed_at, n.failed_at) AS type
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      -- Computes each row's type once, rather than again in the lateral filter below.
      OFFSET 0
    ) t
    -- The rows of a VALUES list come out in order, so the 'started' event takes the smaller id.
    CROSS JOIN LATERAL (VALUES (1, 'started'), (2, t.type)) AS s(step, type)
    WHERE t.type IS NOT NULL
      AND (s.step = 2 OR (t.old_status = 'dispatched' AND t.type IN ('completed', 'failed', 'retried')))
    RETURNING type
  )
  SELECT count(*) INTO requeued FROM recorded WHERE type IN ('retried', 'reassigned');
  -- Tasks handed back or retried are work for the coordinators to claim.
  IF requeued > 0 THEN
    PERFORM pg_notify('taskmaster_tasks', '');
  END IF;
  RETURN NULL;
END
$$;

-- A timeout longer than a week is a mistake rather than a plan (the API says so first, with the field's name).
UPDATE tasks SET timeout_seconds = 604800 WHERE timeout_seconds > 604800;
ALTER TABLE tasks ADD CONSTRAINT tasks_timeout_range CHECK (timeout_seconds <= 604800);
