-- Idempotency keys that expire and that refuse a different request (docs/api.md, "Idempotency").
--
-- The fingerprint is a hash of the request that first used the key (its task fields as sent, without the key),
-- computed by the way in (the API, gRPC SubmitTask). A later request with the key and another fingerprint is a
-- conflict, refused inside the insert itself, so a batch holding one is written not at all. A task inserted
-- without a fingerprint (taskmaster.enqueue() in SQL, rows from before this) matches any request.
ALTER TABLE tasks ADD COLUMN idempotency_fingerprint TEXT;

-- Raised from the insert's ON CONFLICT branch: SQLSTATE TM409, which insert-tasks.ts answers as a 409.
CREATE FUNCTION reject_idempotency_reuse(key text, existing uuid) RETURNS text LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'idempotency_key "%" was first used for a different request (task %)', left(key, 100), existing
    USING ERRCODE = 'TM409';
END
$$;
