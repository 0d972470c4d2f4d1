-- taskmaster.enqueue() and enqueue_command() take the task controls the API takes (docs/sql-enqueue.md):
-- options.timeout_seconds (1 to 604800, as migration 0013 allows) and options.retry (the policy of 0014). The
-- queue controls and concurrency keys of 0017 need nothing here: the insert triggers gate a task whatever
-- inserted it. insert_task is 0007's with these two options.

-- A retry policy as the API takes it (sdk task-fields.ts retryPolicyProblem), with the same messages, so that
-- a bad one names its part rather than failing 0014's CHECK.
CREATE FUNCTION checked_retry_policy(policy jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = taskmaster, pg_catalog, pg_temp AS $$
DECLARE
  unknown_keys text;
  part text;
BEGIN
  IF jsonb_typeof(policy) <> 'object' THEN
    PERFORM reject('options.retry', 'must be an object');
  END IF;
  SELECT string_agg(k, ', ') INTO unknown_keys FROM jsonb_object_keys(policy) AS k
  WHERE k NOT IN ('backoff', 'delay_seconds', 'max_delay_seconds', 'jitter');
  IF unknown_keys IS NOT NULL THEN
    PERFORM reject('options.retry', format('has unknown keys (%s); known: backoff, delay_seconds, max_delay_seconds, jitter', unknown_keys));
  END IF;
  IF policy ? 'backoff' AND coalesce(policy ->> 'backoff', '') NOT IN ('exponential', 'fixed') THEN
    PERFORM reject('options.retry', 'backoff must be exponential or fixed');
  END IF;
  FOREACH part IN ARRAY ARRAY['delay_seconds', 'max_delay_seconds'] LOOP
    IF policy ? part THEN
      -- Under its full name, so that a bad one is reported as options.retry.<part>.
      PERFORM option_number(jsonb_build_object('retry.' || part, policy -> part), 'retry.' || part, 0, 86400, false);
    END IF;
  END LOOP;
  IF policy ? 'jitter' AND jsonb_typeof(policy -> 'jitter') <> 'boolean' THEN
    PERFORM reject('options.retry', 'jitter must be true or false');
  END IF;
  RETURN policy;
END
$$;
REVOKE ALL ON FUNCTION checked_retry_policy(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION insert_task(task_name text, task_command text, task_payload jsonb, run_at timestamptz, options jsonb)
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
  timeout int;
  retry_policy jsonb;
  due timestamptz;
  found_id uuid;
BEGIN
  IF jsonb_typeof(opts) <> 'object' THEN
    PERFORM reject('options', 'must be a JSON object such as ''{"queue": "emails"}''');
  END IF;
  SELECT string_agg(k, ', ') INTO unknown_keys FROM jsonb_object_keys(opts) AS k
  WHERE k NOT IN ('queue', 'max_attempts', 'priority', 'idempotency_key', 'delay_seconds', 'timeout_seconds', 'retry');
  IF unknown_keys IS NOT NULL THEN
    PERFORM reject('options', format('has unknown keys (%s); known: queue, max_attempts, priority, idempotency_key, delay_seconds, timeout_seconds, retry', unknown_keys));
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
  IF opts ? 'timeout_seconds' THEN
    timeout := option_number(opts, 'timeout_seconds', 1, 604800, true);
  END IF;
  IF opts ? 'retry' THEN
    retry_policy := checked_retry_policy(opts -> 'retry');
  END IF;

  IF run_at IS NOT NULL AND NOT isfinite(run_at) THEN
    PERFORM reject('run_at', 'must be a finite time');
  END IF;
  due := coalesce(run_at, now()) + delay * interval '1 second';
  IF task_payload IS NOT NULL AND octet_length(task_payload::text) > payload_limit THEN
    PERFORM reject('payload', format('takes %s bytes as JSON; the limit is %s (taskmaster.payload_max_bytes)',
                                     octet_length(task_payload::text), payload_limit));
  END IF;

  INSERT INTO tasks (name, command, queue, payload, scheduled_at, max_attempts, priority, idempotency_key, timeout_seconds, retry)
  VALUES (task_name, task_command, task_queue, task_payload, due, attempts, task_priority, idem_key, timeout, retry_policy)
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
