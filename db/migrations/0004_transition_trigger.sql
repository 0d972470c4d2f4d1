-- The transition trigger of 0003, rewritten for two reasons (docs/performance.md).
--
-- 1. Its plan. PL/pgSQL caches the plan of the INSERT ... SELECT, and a cached plan sees the transition
--    tables as one row each, so it joined new_rows to old_rows with a nested loop: n² comparisons, 249,500
--    for a 500-task claim (30 ms; 5 ms as a hash join). That was two thirds of the database's CPU per task
--    (162 µs of it; 76 µs after). With nested loops off for this function the join is a hash join at any
--    size; the lateral VALUES below can only be a nested loop and still is one. The count of re-queued
--    tasks, a second join of the same tables, now reads the inserted events instead.
--
-- 2. Folded starts. A worker whose task finished before its STARTED report was sent folds the start into
--    the finish (started_at_ms): one row version instead of two. The log stream must not lose the start,
--    so a finish straight from `dispatched` records a 'started' event first, in the same statement, with a
--    smaller id. Old workers that never send STARTED get their 'started' event this way too.
CREATE OR REPLACE FUNCTION record_task_transitions() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
DECLARE
  requeued INTEGER;
BEGIN
  WITH recorded AS (
    INSERT INTO events (type, task_id, attempt, worker_id, command, message)
    SELECT s.type, t.id, t.attempt, t.worker_id, t.command,
           CASE WHEN s.type IN ('failed', 'retried') THEN t.last_error END
    FROM (
      SELECT n.id, n.attempt, COALESCE(n.worker_id, o.worker_id) AS worker_id, n.command, n.last_error,
             o.status AS old_status, task_event_type(o.status, n.status, o.failed_at, n.failed_at) AS type
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
