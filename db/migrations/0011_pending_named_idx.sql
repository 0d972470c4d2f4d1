-- Pending named tasks by name: the count of tasks waiting for a worker that runs their name (the API's and the
-- coordinator's "no live worker runs it"), without reading the command tasks. Command tasks, which are all
-- of the benchmark's, never enter it, so they pay no index upkeep for it.
CREATE INDEX tasks_pending_named_idx ON tasks (name, scheduled_at) WHERE status = 'pending' AND name IS NOT NULL;
