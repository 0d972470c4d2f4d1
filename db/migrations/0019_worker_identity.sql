-- The identity a worker's id is bound to (docs/security.md): the CN of the client certificate its first
-- heartbeat came with, NULL for a worker on a plaintext port. A coordinator claims a worker only for the same
-- identity, so a caller with another certificate cannot take over an id (ids are listed in /api/workers) or
-- make it leave. The row, and with it the binding, goes when the worker leaves or is evicted.
ALTER TABLE worker_owners ADD COLUMN identity TEXT;
