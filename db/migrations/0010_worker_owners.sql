-- Which coordinator each worker belongs to: the one it is connected to (DESIGN.md §9, "Several
-- coordinators"). A coordinator claims a worker when the worker joins it or reconnects to it, which bumps the
-- generation; it evicts the worker or hands back its tasks only while it still holds that generation, so a
-- coordinator that lost a worker to another one can never hand back tasks the worker still runs there.
CREATE TABLE worker_owners (
  worker_id      BIGINT PRIMARY KEY,
  coordinator_id UUID NOT NULL,
  generation     BIGINT NOT NULL,
  claimed_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
