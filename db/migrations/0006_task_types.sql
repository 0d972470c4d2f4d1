-- Named tasks with JSON input and output (the SDK), and retries that count executions.

ALTER TABLE tasks
  -- The task's type, such as 'send-email'; NULL for a command task (the original contract: `command` says
  -- what to run). The pattern is the API's, checked here too so that no way in can store another.
  ADD COLUMN name       TEXT CHECK (name ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  -- PostgreSQL checks every row version, and nearly every task is in the default queue: that case skips the regex.
  ADD COLUMN queue      TEXT NOT NULL DEFAULT 'default' CHECK (queue = 'default' OR queue ~ '^[a-z0-9][a-z0-9._:-]{0,127}$'),
  ADD COLUMN payload    JSONB,
  -- Attempts that ran: a STARTED applied, or a finish straight from `dispatched`. `attempt` still counts
  -- claims and is the fence; the retry budget (max_attempts) is spent by executions, so a delivery that
  -- never ran (refused, undelivered, evicted before it started) costs nothing.
  ADD COLUMN executions INTEGER NOT NULL DEFAULT 0;

-- A result was free text; it is JSON now. Old text results become JSON strings.
ALTER TABLE tasks ALTER COLUMN result TYPE JSONB USING to_jsonb(result);

-- A command task names its command instead; a named task may carry a command too (a label), not required.
ALTER TABLE tasks ALTER COLUMN command DROP NOT NULL;
ALTER TABLE tasks ADD CONSTRAINT tasks_name_or_command CHECK (name IS NOT NULL OR command IS NOT NULL);

-- No index by worker for what a worker holds: tasks_lease_idx holds every in-flight row, at most the slots of all
-- workers, and reading it whole is cheap. An index led by worker_id would take each claim's entry in the middle
-- of its tree rather than at the right edge, which made every claim slower (docs/performance.md).
