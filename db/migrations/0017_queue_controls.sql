-- Queue controls and per-key concurrency (docs/queues.md).
--
-- A queue can be paused and given a maximum of tasks running and of tasks started per second; a task type can
-- be limited per concurrency key, a field of its payload ("one at a time per customer"). The claim must keep
-- to them without reading a backlog it may not take, so a task under a control is "gated": it leaves the
-- claim's three indexes for two of its own, and the claim reaches it through a gate, a row of `queues` (one
-- per controlled queue, few) or of `concurrency_keys` (one per key, found through an index of the keys that
-- have a due task and a free slot). Gates count their tasks in flight, kept by the triggers below as tasks
-- move. Only gated tasks fire them, and the default queue takes no controls, so the path of ordinary tasks is
-- unchanged but for its indexes' predicates.

ALTER TABLE tasks
  -- Claimed through a gate, not through the three pending indexes; set by task_gate() (on insert and on a
  -- retry) and by the functions that control or release a queue or a limit, never by hand.
  ADD COLUMN gated BOOLEAN NOT NULL DEFAULT false,
  -- The value of the task type's concurrency key in the payload; NULL for a task without one.
  ADD COLUMN concurrency_key TEXT;

-- A row per controlled queue; a queue without one has no controls. The default queue takes none: its tasks are
-- the path nothing gates or counts (work that may need pausing or limiting goes to a named queue).
CREATE TABLE queues (
  name           TEXT PRIMARY KEY CHECK (name <> 'default' AND name ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  paused         BOOLEAN NOT NULL DEFAULT false,
  max_running    INTEGER CHECK (max_running BETWEEN 1 AND 1000000),
  max_per_second INTEGER CHECK (max_per_second BETWEEN 1 AND 1000000),
  -- The queue's tasks in flight (dispatched or running), kept by gate_transition().
  running        INTEGER NOT NULL DEFAULT 0,
  -- A token bucket for max_per_second: `tokens` at `refilled_at`, refilled at max_per_second a second up to
  -- max_per_second (a second's burst); each start takes one.
  tokens         DOUBLE PRECISION NOT NULL DEFAULT 0,
  refilled_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Tokens a queue has now: what it had plus the refill since, capped at a second's worth.
CREATE FUNCTION queue_tokens(q queues) RETURNS DOUBLE PRECISION LANGUAGE sql STABLE AS $$
  SELECT least(q.max_per_second, q.tokens + extract(epoch FROM now() - q.refilled_at) * q.max_per_second)::float8
$$;

-- How many more of a queue's tasks may start now: its free running slots and its tokens.
CREATE FUNCTION queue_room(q queues) RETURNS INTEGER LANGUAGE sql STABLE AS $$
  SELECT least(coalesce(q.max_running - q.running, 1000000),
               coalesce(floor(queue_tokens(q))::int, 1000000))
$$;

-- Per task type: the payload field (a dot path) whose value is the task's concurrency key, and how many tasks
-- of one key may be in flight at once.
CREATE TABLE concurrency_limits (
  name        TEXT PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  key_field   TEXT NOT NULL CHECK (key_field ~ '^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$'),
  max_running INTEGER NOT NULL CHECK (max_running BETWEEN 1 AND 1000000),
  source      TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'worker')),
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A gate per key in use: its tasks in flight and the due time of its first pending task ('infinity': none).
CREATE TABLE concurrency_keys (
  name        TEXT NOT NULL REFERENCES concurrency_limits (name) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  max_running INTEGER NOT NULL,
  running     INTEGER NOT NULL DEFAULT 0,
  next_due    TIMESTAMPTZ NOT NULL DEFAULT 'infinity',
  PRIMARY KEY (name, key)
);

-- The claim's question: which keys have a free slot, earliest due first. A key at its limit has no entry, so
-- a customer with a thousand tasks waiting costs the claim nothing while one of them runs.
CREATE INDEX concurrency_keys_ready_idx ON concurrency_keys (next_due) WHERE running < max_running;

-- The claim's indexes without the gated tasks (same names, same keys as 0002 and 0012).
CREATE INDEX tasks_pending_due_idx_0017 ON tasks (scheduled_at, id) WHERE status = 'pending' AND NOT gated;
DROP INDEX tasks_pending_due_idx;
ALTER INDEX tasks_pending_due_idx_0017 RENAME TO tasks_pending_due_idx;
CREATE INDEX tasks_pending_higher_idx_0017 ON tasks (((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND priority > 0 AND NOT gated;
DROP INDEX tasks_pending_higher_idx;
ALTER INDEX tasks_pending_higher_idx_0017 RENAME TO tasks_pending_higher_idx;
CREATE INDEX tasks_pending_lower_idx_0017 ON tasks (((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND priority < 0 AND NOT gated;
DROP INDEX tasks_pending_lower_idx;
ALTER INDEX tasks_pending_lower_idx_0017 RENAME TO tasks_pending_lower_idx;

-- A controlled queue's tasks without a key, in claim-key order per queue; split by the sign of the priority for
-- the reason of 0012 (a negative priority's key lies ahead of its due time, a positive one's behind).
CREATE INDEX tasks_pending_queued_idx ON tasks (queue, ((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority >= 0;
CREATE INDEX tasks_pending_queued_lower_idx ON tasks (queue, ((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority < 0;
-- A key's tasks, first due first (within a key, due order; priority orders them against other work).
CREATE INDEX tasks_pending_keyed_idx ON tasks (name, concurrency_key, scheduled_at, id)
  WHERE status = 'pending' AND gated AND concurrency_key IS NOT NULL;

-- Inserting gated tasks and moving tasks between the paths exclude each other (a shared and an exclusive hold
-- of one advisory lock, for the transaction), so no task is inserted ungated into a queue just controlled, or
-- gated behind a gate just removed.
CREATE FUNCTION lock_gates(exclusive BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF exclusive THEN
    PERFORM pg_advisory_xact_lock(hashtext('taskmaster'), 17);
  ELSE
    PERFORM pg_advisory_xact_lock_shared(hashtext('taskmaster'), 17);
  END IF;
END
$$;

-- The gate a task gets: its type's concurrency key from its payload, and whether a gate holds it (a key, or a
-- controlled queue). For a task inserted (gate_new_task) and for one retried (the API's retry, scheduler
-- db/tasks.ts RETRY_SET), under the shared hold of lock_gates.
CREATE FUNCTION task_gate(task_name TEXT, task_queue TEXT, task_payload JSONB, OUT key TEXT, OUT gated BOOLEAN)
LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  field TEXT;
BEGIN
  PERFORM lock_gates(false);
  key := NULL;
  IF task_name IS NOT NULL THEN
    SELECT key_field INTO field FROM concurrency_limits WHERE name = task_name;
    IF field IS NOT NULL THEN
      -- A key longer than 200 characters is cut: keys that share 200 characters share a limit.
      key := left(task_payload #>> string_to_array(field, '.'), 200);
    END IF;
  END IF;
  gated := key IS NOT NULL OR (task_queue <> 'default' AND EXISTS (SELECT 1 FROM queues WHERE name = task_queue));
END
$$;

-- Gates a new task. Runs for named tasks and tasks of named queues only (the trigger's WHEN): a command in the
-- default queue, most of the traffic, skips it.
CREATE FUNCTION gate_new_task() RETURNS trigger LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  SELECT g.key, g.gated INTO NEW.concurrency_key, NEW.gated FROM task_gate(NEW.name, NEW.queue, NEW.payload) g;
  RETURN NEW;
END
$$;
CREATE TRIGGER tasks_gate_new BEFORE INSERT ON tasks
  FOR EACH ROW WHEN (NEW.name IS NOT NULL OR NEW.queue <> 'default') EXECUTE FUNCTION gate_new_task();

-- A keyed task waiting: its key's gate exists and is due no later than it. Holds the key's row to the end of
-- the transaction, which gate_transition() takes before it reads the next due time.
CREATE FUNCTION open_key_gate(task_name TEXT, task_key TEXT, due TIMESTAMPTZ) RETURNS void LANGUAGE sql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
  INSERT INTO concurrency_keys AS k (name, key, max_running, next_due)
  SELECT task_name, task_key, l.max_running, due FROM concurrency_limits l WHERE l.name = task_name
  ON CONFLICT (name, key) DO UPDATE SET next_due = least(k.next_due, EXCLUDED.next_due)
$$;

-- A keyed task inserted (not one an ON CONFLICT skipped).
CREATE FUNCTION gate_inserted_task() RETURNS trigger LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  PERFORM open_key_gate(NEW.name, NEW.concurrency_key, NEW.scheduled_at);
  RETURN NULL;
END
$$;
CREATE TRIGGER tasks_gate_inserted AFTER INSERT ON tasks
  FOR EACH ROW WHEN (NEW.concurrency_key IS NOT NULL) EXECUTE FUNCTION gate_inserted_task();

-- A gated task changed status: its gates' counts of tasks in flight, its queue's tokens (a start takes one)
-- and its key's next due time follow. The key's row is locked before its next due time is read, in a statement
-- of its own, so that a task inserted meanwhile is seen (open_key_gate() holds the same row). A slot freed
-- wakes the coordinators.
CREATE FUNCTION gate_transition() RETURNS trigger LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  delta INTEGER := (NEW.status IN ('dispatched', 'running'))::int - (OLD.status IN ('dispatched', 'running'))::int;
BEGIN
  IF delta <> 0 AND NEW.gated AND NEW.queue <> 'default' THEN
    UPDATE queues q SET
      running = greatest(0, running + delta),
      tokens = CASE WHEN delta > 0 AND max_per_second IS NOT NULL THEN queue_tokens(q) - 1 ELSE tokens END,
      refilled_at = CASE WHEN delta > 0 AND max_per_second IS NOT NULL THEN now() ELSE refilled_at END
    WHERE name = NEW.queue;
  END IF;
  IF OLD.status IN ('succeeded', 'failed', 'cancelled') THEN
    -- Retried (gated again by RETRY_SET): its key's gate, as for an inserted task.
    IF NEW.concurrency_key IS NOT NULL THEN
      PERFORM open_key_gate(NEW.name, NEW.concurrency_key, NEW.scheduled_at);
    END IF;
  ELSIF NEW.concurrency_key IS NOT NULL THEN
    PERFORM 1 FROM concurrency_keys WHERE name = NEW.name AND key = NEW.concurrency_key FOR NO KEY UPDATE;
    UPDATE concurrency_keys SET
      running = greatest(0, running + delta),
      next_due = coalesce((
        SELECT scheduled_at FROM tasks
        WHERE status = 'pending' AND gated AND concurrency_key IS NOT NULL AND name = NEW.name AND concurrency_key = NEW.concurrency_key
        ORDER BY name, concurrency_key, scheduled_at, id LIMIT 1), 'infinity')
    WHERE name = NEW.name AND key = NEW.concurrency_key;
  END IF;
  IF delta < 0 THEN
    PERFORM pg_notify('taskmaster_tasks', '');
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tasks_gate_transition AFTER UPDATE OF status ON tasks
  FOR EACH ROW WHEN ((OLD.gated OR NEW.gated) AND OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION gate_transition();

-- Controls a queue: makes its row, and on the first control gates its unfinished tasks and counts those in
-- flight. Returns the row. Reads the queue's backlog once, here, rather than at every claim. Every unfinished
-- task of the queue is written, those already gated by a key too, so that none is claimed or finishes between
-- the count and the commit (a claim skips them, a report waits), which would leave the count wrong.
CREATE FUNCTION control_queue(queue_name TEXT) RETURNS queues LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  controlled queues;
BEGIN
  SELECT * INTO controlled FROM queues WHERE name = queue_name FOR NO KEY UPDATE;
  IF FOUND THEN RETURN controlled; END IF;
  PERFORM lock_gates(true);
  INSERT INTO queues (name) VALUES (queue_name) ON CONFLICT (name) DO NOTHING;
  IF FOUND THEN
    UPDATE tasks SET gated = true WHERE queue = queue_name AND status IN ('pending', 'dispatched', 'running');
    UPDATE queues SET running = (
      SELECT count(*) FROM tasks WHERE queue = queue_name AND status IN ('dispatched', 'running'))
    WHERE name = queue_name;
  END IF;
  SELECT * INTO controlled FROM queues WHERE name = queue_name FOR NO KEY UPDATE;
  RETURN controlled;
END
$$;

-- Sets a queue's controls, controlling it first; NULL leaves one as it is, a limit of 0 removes it. A rate
-- newly set or changed starts with a full second of tokens. Returns the row.
CREATE FUNCTION set_queue_controls(queue_name TEXT, pause BOOLEAN, running_limit INTEGER, rate_limit INTEGER)
RETURNS queues LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  controlled queues;
BEGIN
  PERFORM control_queue(queue_name);
  UPDATE queues SET
    paused = coalesce(pause, paused),
    max_running = CASE WHEN running_limit IS NULL THEN max_running ELSE nullif(running_limit, 0) END,
    max_per_second = CASE WHEN rate_limit IS NULL THEN max_per_second ELSE nullif(rate_limit, 0) END,
    tokens = CASE WHEN rate_limit > 0 AND max_per_second IS DISTINCT FROM rate_limit THEN rate_limit ELSE tokens END,
    refilled_at = CASE WHEN rate_limit > 0 AND max_per_second IS DISTINCT FROM rate_limit THEN now() ELSE refilled_at END,
    updated_at = now()
  WHERE name = queue_name
  RETURNING * INTO controlled;
  -- Resumed or given more room: the coordinators may claim now. A gate made: they claim through gates now.
  IF NOT controlled.paused THEN PERFORM pg_notify('taskmaster_tasks', ''); END IF;
  PERFORM pg_notify('taskmaster_gates', '');
  RETURN controlled;
END
$$;

-- Removes a queue's controls: its tasks without a key go back to the claim's own indexes.
CREATE FUNCTION release_queue(queue_name TEXT) RETURNS BOOLEAN LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  released BOOLEAN;
BEGIN
  PERFORM lock_gates(true);
  UPDATE tasks SET gated = false
  WHERE queue = queue_name AND status IN ('pending', 'dispatched', 'running') AND gated AND concurrency_key IS NULL;
  DELETE FROM queues WHERE name = queue_name;
  released := FOUND;
  PERFORM pg_notify('taskmaster_tasks', '');
  PERFORM pg_notify('taskmaster_gates', '');
  RETURN released;
END
$$;

-- Sets (field not NULL) or removes a task type's concurrency limit: re-keys its unfinished tasks, and rebuilds
-- its keys' gates from them, so that the counts are exact from the first claim on. A key's tasks that keep
-- their key are not written: a claim or report of one waits for the key's row, deleted and made again here,
-- and then counts against the new row. Returns whether a limit existed before.
CREATE FUNCTION set_concurrency_limit(task_name TEXT, field TEXT, limit_running INTEGER, limit_source TEXT)
RETURNS BOOLEAN LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  existed BOOLEAN;
BEGIN
  PERFORM lock_gates(true);
  existed := EXISTS (SELECT 1 FROM concurrency_limits WHERE name = task_name);
  IF field IS NULL THEN
    DELETE FROM concurrency_limits WHERE name = task_name;
  ELSE
    INSERT INTO concurrency_limits (name, key_field, max_running, source) VALUES (task_name, field, limit_running, limit_source)
    ON CONFLICT (name) DO UPDATE SET key_field = EXCLUDED.key_field, max_running = EXCLUDED.max_running,
      source = EXCLUDED.source, updated_at = now();
  END IF;
  WITH rekeyed AS (
    SELECT id, CASE WHEN field IS NOT NULL THEN left(payload #>> string_to_array(field, '.'), 200) END AS key,
           queue <> 'default' AND EXISTS (SELECT 1 FROM queues q WHERE q.name = tasks.queue) AS queue_gated
    FROM tasks WHERE name = task_name AND status IN ('pending', 'dispatched', 'running')
  )
  UPDATE tasks t SET concurrency_key = r.key, gated = r.key IS NOT NULL OR r.queue_gated
  FROM rekeyed r
  WHERE t.id = r.id AND t.status IN ('pending', 'dispatched', 'running')
    AND (t.concurrency_key IS DISTINCT FROM r.key OR t.gated <> (r.key IS NOT NULL OR r.queue_gated));
  DELETE FROM concurrency_keys WHERE name = task_name;
  IF field IS NOT NULL THEN
    INSERT INTO concurrency_keys (name, key, max_running, running, next_due)
    SELECT task_name, concurrency_key, limit_running,
           count(*) FILTER (WHERE status IN ('dispatched', 'running')),
           coalesce(min(scheduled_at) FILTER (WHERE status = 'pending'), 'infinity')
    FROM tasks
    WHERE name = task_name AND status IN ('pending', 'dispatched', 'running') AND concurrency_key IS NOT NULL
    GROUP BY concurrency_key;
  END IF;
  PERFORM pg_notify('taskmaster_tasks', '');
  PERFORM pg_notify('taskmaster_gates', '');
  RETURN existed;
END
$$;
