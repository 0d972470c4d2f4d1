-- Priorities the claim uses (docs/architecture.md, "Priorities"). A task of priority p is claimed as though it
-- had become due p minutes earlier: higher first among due tasks, first-due-first-out within a priority, and a
-- task never waits behind a task of higher priority that became due more than the difference in minutes after
-- it (aging, so a flood of high priorities cannot starve the rest).

-- The API, the SDK and taskmaster.enqueue() already keep priorities in this range; the claim's bound below relies
-- on it, so no way in may store another. Rows written past it by hand are clamped first.
UPDATE tasks SET priority = greatest(-1000, least(1000, priority)) WHERE priority NOT BETWEEN -1000 AND 1000;
ALTER TABLE tasks ADD CONSTRAINT tasks_priority_range CHECK (priority BETWEEN -1000 AND 1000);

-- Tasks of priority 0, nearly all, stay in tasks_pending_due_idx alone and pay no upkeep here; the claim merges
-- the first tasks of the three (claim-due-tasks.ts). Higher and lower priorities have an index each because
-- their keys bound the scan differently: a due task of priority p > 0 has a key before now, one of p < 0 a key
-- up to -p minutes after it. The key is a timestamp without time zone because timestamptz minus an interval is
-- not immutable (a day's length depends on the zone); minutes do not.
CREATE INDEX tasks_pending_higher_idx ON tasks (((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND priority > 0;
CREATE INDEX tasks_pending_lower_idx ON tasks (((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute'), id)
  WHERE status = 'pending' AND priority < 0;
