-- The task lifecycle of DESIGN.md §2: explicit status, attempts with fencing, leases, retries.
--
--   pending -> dispatched -> running -> succeeded | failed | cancelled
--   dispatched/running -> pending   (worker evicted or lease expired: "reassigned"; failure with attempts left: "retried")

CREATE TYPE task_status AS ENUM ('pending', 'dispatched', 'running', 'succeeded', 'failed', 'cancelled');

-- Worker ids are uint32 on the wire; INTEGER would overflow for half of them.
ALTER TABLE tasks ALTER COLUMN worker_id TYPE BIGINT;

ALTER TABLE tasks
  ADD COLUMN status           task_status NOT NULL DEFAULT 'pending',
  -- Incremented by every claim; a status report must echo it (fencing against zombie workers).
  ADD COLUMN attempt          INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  ADD COLUMN priority         INTEGER NOT NULL DEFAULT 0,
  -- Set while dispatched/running; renewed by the worker's heartbeats; expiry hands the task back.
  ADD COLUMN lease_expires_at TIMESTAMPTZ,
  ADD COLUMN timeout_seconds  INTEGER CHECK (timeout_seconds > 0),
  ADD COLUMN last_error       TEXT,
  ADD COLUMN result           TEXT,
  ADD COLUMN idempotency_key  TEXT UNIQUE,
  ADD COLUMN cancelled_at     TIMESTAMPTZ,
  ADD COLUMN created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  ADD COLUMN updated_at       TIMESTAMPTZ NOT NULL DEFAULT now();

-- The claim query's index: only pending rows, in due order, so a large finished history costs nothing.
CREATE INDEX tasks_pending_due_idx ON tasks (scheduled_at, id) WHERE status = 'pending';
-- The lease sweep's index: only rows that hold a lease.
CREATE INDEX tasks_lease_idx ON tasks (lease_expires_at) WHERE status IN ('dispatched', 'running');
-- Task lists filtered by status and paged by (scheduled_at, id).
CREATE INDEX tasks_status_scheduled_idx ON tasks (status, scheduled_at, id);
CREATE INDEX tasks_scheduled_id_idx ON tasks (scheduled_at, id);
