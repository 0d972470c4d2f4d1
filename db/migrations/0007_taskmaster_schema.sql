-- TaskMaster's objects move into their own schema, `taskmaster`, so that they never collide with an
-- application's `tasks` or `events` in the same database, and an application can enqueue inside its own
-- transaction with taskmaster.enqueue() (docs/sql-enqueue.md).
--
-- The migrator (services/common/src/db/migrate.ts) creates the schema and runs every migration with
-- search_path = taskmaster, so on a new install 0001-0006 already created everything there and there is
-- nothing to move. An install migrated before this file has everything in public (the migrator has just moved
-- its ledger, schema_migrations): ALTER ... SET SCHEMA moves it, data, indexes, constraints, triggers and the
-- events id sequence included. Anything else in public (an application's tables) is left alone.
DO $$
BEGIN
  IF to_regclass('taskmaster.tasks') IS NULL THEN
    -- Functions first: their signatures name public.task_status until the type moves.
    ALTER FUNCTION public.task_event_type(public.task_status, public.task_status, timestamptz, timestamptz) SET SCHEMA taskmaster;
    ALTER FUNCTION public.record_task_inserts() SET SCHEMA taskmaster;
    ALTER FUNCTION public.record_task_transitions() SET SCHEMA taskmaster;
    ALTER FUNCTION public.notify_events() SET SCHEMA taskmaster;
    ALTER TYPE public.task_status SET SCHEMA taskmaster;
    ALTER TABLE public.tasks SET SCHEMA taskmaster;
    ALTER TABLE public.events SET SCHEMA taskmaster;
  END IF;
END
$$;

-- PL/pgSQL resolves the names in its statements through the search_path of the session that runs it. The
-- triggers run in an application's sessions too (taskmaster.enqueue, or an INSERT into taskmaster.tasks),
-- whose search_path does not name taskmaster, so each function fixes its own. pg_temp goes last explicitly:
-- left out, it would be searched first, and a session's temporary `events` table would receive our rows.
ALTER FUNCTION notify_events() SET search_path = taskmaster, pg_catalog, pg_temp;
-- task_event_type is left without one: its body names no table or function (only pg_catalog operators,
-- which are always found), and a SET clause would stop PostgreSQL inlining it into the transition trigger's
-- query, where it runs once per row.

-- Events name what a task runs: its name for a named task (whose command is NULL), its command otherwise.
-- Otherwise the two trigger functions are those of 0003 and 0004, unchanged (0004's notes on the plan hold:
-- nested loops off, the lateral VALUES for the folded 'started' event).
CREATE OR REPLACE FUNCTION record_task_inserts() RETURNS trigger LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO events (type, task_id, attempt, command)
  SELECT 'scheduled', n.id, n.attempt, COALESCE(n.name, n.command) FROM new_rows n;
  -- One wake-up per statement for the coordinators; the payload is not used, the claim query decides.
  PERFORM pg_notify('taskmaster_tasks', '');
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION record_task_transitions() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  requeued INTEGER;
BEGIN
  WITH recorded AS (
    INSERT INTO events (type, task_id, attempt, worker_id, command, message)
    SELECT s.type, t.id, t.attempt, t.worker_id, t.command,
           CASE WHEN s.type IN ('failed', 'retried') THEN t.last_error END
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

-- Raises a bad-input error naming `field`, in the message and in the error's column field (node-postgres:
-- err.column), so that an application can tell which argument to fix.
CREATE FUNCTION reject(field text, message text) RETURNS void LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'taskmaster: % %', field, message USING ERRCODE = 'invalid_parameter_value', COLUMN = field;
END
$$;

-- A numeric option, checked: a JSON number from `low` to `high`, and whole if `whole`. Nested IFs rather
-- than one condition, since SQL does not promise to evaluate an OR's operands in order (the cast would fail
-- on a string).
CREATE FUNCTION option_number(opts jsonb, option text, low numeric, high numeric, whole boolean) RETURNS numeric
LANGUAGE plpgsql SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  value jsonb := opts -> option;
  n numeric;
BEGIN
  IF jsonb_typeof(value) = 'number' THEN
    n := (value #>> '{}')::numeric;
    IF n BETWEEN low AND high AND (NOT whole OR n = trunc(n)) THEN
      RETURN n;
    END IF;
  END IF;
  PERFORM reject('options.' || option, format('must be %s from %s to %s (got %s)',
                 CASE WHEN whole THEN 'a whole number' ELSE 'a number of seconds' END, low, high, left(value::text, 40)));
  RETURN NULL;
END
$$;

-- One task from SQL, for enqueue() and enqueue_command(): validates what the HTTP API validates, with the
-- same limits (services/scheduler/src/validation.ts), and inserts it. The insert trigger records the
-- 'scheduled' event and NOTIFYs the coordinators; both take effect only when the caller's transaction
-- commits, so a rolled-back enqueue leaves no trace and wakes no one.
CREATE FUNCTION insert_task(task_name text, task_command text, task_payload jsonb, run_at timestamptz, options jsonb)
RETURNS uuid LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  pattern CONSTANT text := '^[a-z0-9][a-z0-9._:-]{0,127}$';
  -- PAYLOAD_MAX_BYTES is the scheduler's setting; the database's own is this custom parameter.
  payload_limit CONSTANT bigint := coalesce(nullif(current_setting('taskmaster.payload_max_bytes', true), '')::bigint, 262144);
  opts jsonb := coalesce(options, '{}');
  unknown_keys text;
  task_queue text := 'default';
  attempts int := 3;
  task_priority int := 0;
  idem_key text;
  delay numeric := 0;
  due timestamptz;
  found_id uuid;
BEGIN
  IF jsonb_typeof(opts) <> 'object' THEN
    PERFORM reject('options', 'must be a JSON object such as ''{"queue": "emails"}''');
  END IF;
  SELECT string_agg(k, ', ') INTO unknown_keys FROM jsonb_object_keys(opts) AS k
  WHERE k NOT IN ('queue', 'max_attempts', 'priority', 'idempotency_key', 'delay_seconds');
  IF unknown_keys IS NOT NULL THEN
    PERFORM reject('options', format('has unknown keys (%s); known: queue, max_attempts, priority, idempotency_key, delay_seconds', unknown_keys));
  END IF;

  IF opts ? 'queue' THEN
    IF jsonb_typeof(opts->'queue') <> 'string' OR opts->>'queue' !~ pattern THEN
      PERFORM reject('options.queue', format('must be a string matching %s (got %s)', pattern, left((opts->'queue')::text, 140)));
    END IF;
    task_queue := opts->>'queue';
  END IF;
  IF opts ? 'max_attempts' THEN
    attempts := option_number(opts, 'max_attempts', 1, 100, true);
  END IF;
  IF opts ? 'priority' THEN
    task_priority := option_number(opts, 'priority', -1000, 1000, true);
  END IF;
  IF opts ? 'idempotency_key' THEN
    IF jsonb_typeof(opts->'idempotency_key') <> 'string' OR length(opts->>'idempotency_key') NOT BETWEEN 1 AND 200 THEN
      PERFORM reject('options.idempotency_key', 'must be a string of 1 to 200 characters');
    END IF;
    idem_key := opts->>'idempotency_key';
  END IF;
  IF opts ? 'delay_seconds' THEN
    delay := option_number(opts, 'delay_seconds', 0, 31536000, false);
  END IF;

  IF run_at IS NOT NULL AND NOT isfinite(run_at) THEN
    PERFORM reject('run_at', 'must be a finite time');
  END IF;
  due := coalesce(run_at, now()) + delay * interval '1 second';
  IF task_payload IS NOT NULL AND octet_length(task_payload::text) > payload_limit THEN
    PERFORM reject('payload', format('takes %s bytes as JSON; the limit is %s (taskmaster.payload_max_bytes)',
                                     octet_length(task_payload::text), payload_limit));
  END IF;

  INSERT INTO tasks (name, command, queue, payload, scheduled_at, max_attempts, priority, idempotency_key)
  VALUES (task_name, task_command, task_queue, task_payload, due, attempts, task_priority, idem_key)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id INTO found_id;
  IF found_id IS NULL THEN
    -- The key was taken (by a committed task, or by one whose transaction we waited for and which
    -- committed): that task is the answer, as for POST /schedule.
    SELECT id INTO found_id FROM tasks WHERE idempotency_key = idem_key;
  END IF;
  RETURN found_id;
END
$$;

-- Enqueues a named task (a type that SDK workers handle) inside the caller's transaction and returns its id.
-- options: queue, max_attempts, priority, idempotency_key (a repeated key returns the existing task's id),
-- delay_seconds (added to run_at). SECURITY DEFINER so that an application role needs EXECUTE on this
-- function only, not rights on the tables (docs/sql-enqueue.md).
CREATE FUNCTION enqueue(name text, payload jsonb DEFAULT NULL, run_at timestamptz DEFAULT now(), options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  IF enqueue.name IS NULL THEN
    PERFORM reject('name', 'is required');
  END IF;
  IF enqueue.name !~ '^[a-z0-9][a-z0-9._:-]{0,127}$' THEN
    PERFORM reject('name', format('must match ^[a-z0-9][a-z0-9._:-]{0,127}$ (got %s)', left(quote_literal(enqueue.name), 140)));
  END IF;
  RETURN insert_task(enqueue.name, NULL, enqueue.payload, enqueue.run_at, enqueue.options);
END
$$;

-- Enqueues a command task (the original contract: `noop`, `sleep 5`, ...), as POST /schedule does.
CREATE FUNCTION enqueue_command(command text, run_at timestamptz DEFAULT now(), options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  trimmed text := btrim(enqueue_command.command, E' \t\r\n');
BEGIN
  IF trimmed IS NULL OR trimmed = '' THEN
    PERFORM reject('command', 'is required and must not be empty');
  END IF;
  IF length(trimmed) > 4096 THEN
    PERFORM reject('command', 'must be at most 4096 characters');
  END IF;
  RETURN insert_task(NULL, trimmed, NULL, enqueue_command.run_at, enqueue_command.options);
END
$$;

-- EXECUTE is granted to PUBLIC by default; these run with the owner's rights, so only roles granted them
-- may call them. The helpers are for the two entry points only.
REVOKE ALL ON FUNCTION enqueue(text, jsonb, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION enqueue_command(text, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION insert_task(text, text, jsonb, timestamptz, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION reject(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION option_number(jsonb, text, numeric, numeric, boolean) FROM PUBLIC;
