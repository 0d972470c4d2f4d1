-- The original TaskMaster schema, kept column for column so its tools and queries keep working.
-- gen_random_uuid() is built into PostgreSQL 13+, so no extension is needed.
CREATE TABLE tasks (
  id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  command      TEXT NOT NULL,
  scheduled_at TIMESTAMPTZ NOT NULL,
  picked_at    TIMESTAMPTZ,
  started_at   TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  failed_at    TIMESTAMPTZ,
  worker_id    INTEGER
);

CREATE INDEX idx_tasks_scheduled_at ON tasks (scheduled_at);
CREATE INDEX idx_tasks_worker_id ON tasks (worker_id);
