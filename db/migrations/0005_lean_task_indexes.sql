-- Fewer index entries per task. Every transition changes `status`, which indexes reference, so no update of
-- a task is ever HOT: each of its three row versions (inserted, claimed, finished) gets an entry in every
-- full index, and in each partial index whose predicate it meets. Index maintenance was the largest part of
-- the database's time per task (docs/performance.md). The original design's indexes stay.

-- Idempotency keys are rare; NULLs need no entry. insert-tasks.ts names this predicate in ON CONFLICT.
ALTER TABLE tasks DROP CONSTRAINT tasks_idempotency_key_key;
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The same order as idx_tasks_scheduled_at, which serves the unfiltered task list too (ties on
-- scheduled_at, a batch's tasks, are sorted by id in memory).
DROP INDEX tasks_scheduled_id_idx;

-- Listing by status: finished successes are most of the table and are listed through idx_tasks_scheduled_at
-- (nearly every row matches), so they need no entry here.
DROP INDEX tasks_status_scheduled_idx;
CREATE INDEX tasks_status_scheduled_idx ON tasks (status, scheduled_at, id) WHERE status <> 'succeeded';
