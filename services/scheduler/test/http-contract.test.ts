import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { countTasks, type TestDatabase } from '../../../test/helpers/database';
import { ApiAuth } from '../src/auth';
import { request, startSchedulerApp, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { metricsRoutes } from '../src/metrics';

let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({}, (running) => ({ db, app } = running));

/** Asserts a refused request: its status, the JSON error body naming the field, and no task written. */
async function expectRefused(path: string, init: Parameters<typeof request>[1], status: number, code: string, field?: string) {
  const before = await countTasks(db);
  const response = await request(app.url + path, init);
  expect(response.status).toBe(status);
  expect(response.body.error.code).toBe(code);
  expect(typeof response.body.error.message).toBe('string');
  if (field) expect(response.body.error.field).toBe(field);
  expect(await countTasks(db)).toBe(before);
  return response.body.error;
}

describe('POST /schedule and /api/schedule', () => {
  test.each(['/schedule', '/api/schedule'])('%s returns the original contract: command, epoch seconds, task id', async (path) => {
    const response = await request(app.url + path, { body: { command: 'demo-job', scheduled_at: '2030-01-27T12:30:00Z' } });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ command: 'demo-job', scheduled_at: Date.parse('2030-01-27T12:30:00Z') / 1000, task_id: expect.any(String) });
    const status = await request(`${app.url}/api/status?task_id=${response.body.task_id}`);
    expect(status.body).toMatchObject({ task_id: response.body.task_id, status: 'pending', attempt: 0, scheduled_at: '2030-01-27T12:30:00.000Z' });
    // Like the original, unset timestamps are absent rather than null.
    expect(status.body).not.toHaveProperty('picked_at');
    expect(status.body).not.toHaveProperty('completed_at');
  });

  test('a date-time without an offset is UTC; an idempotency key returns the first task', async () => {
    const first = await request(`${app.url}/api/schedule`, { body: { command: 'once', scheduled_at: '2030-05-01T10:00:00', idempotency_key: 'k-1' } });
    expect(first.body.scheduled_at).toBe(Date.parse('2030-05-01T10:00:00Z') / 1000);
    const again = await request(`${app.url}/api/schedule`, { body: { command: 'once', scheduled_at: '2030-05-01T10:00:00', idempotency_key: 'k-1' } });
    expect(again.status).toBe(200);
    expect(again.body.task_id).toBe(first.body.task_id);
  });

  test.each([
    ['malformed JSON', { rawBody: '{"command": ' }, 'invalid_json', 'body'],
    ['a body that is not an object', { rawBody: '[1,2]' }, 'invalid_argument', 'body'],
    ['a missing command', { body: { scheduled_at: '2030-01-01T00:00:00Z' } }, 'invalid_argument', 'command'],
    ['a non-string command', { body: { command: 42, scheduled_at: '2030-01-01T00:00:00Z' } }, 'invalid_argument', 'command'],
    ['an empty command', { body: { command: '   ', scheduled_at: '2030-01-01T00:00:00Z' } }, 'invalid_argument', 'command'],
    ['an absent scheduled_at', { body: { command: 'x' } }, 'invalid_argument', 'scheduled_at'],
    ['an unparsable scheduled_at', { body: { command: 'x', scheduled_at: 'tomorrow' } }, 'invalid_argument', 'scheduled_at'],
    ['an impossible date', { body: { command: 'x', scheduled_at: '2030-02-31T25:00:00Z' } }, 'invalid_argument', 'scheduled_at'],
    ['max_attempts out of range', { body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z', max_attempts: 0 } }, 'invalid_argument', 'max_attempts'],
  ])('refuses %s with 400 naming the field', async (_name, init, code, field) => {
    await expectRefused('/api/schedule', init, 400, code, field);
  });

  test('refuses an oversized body with 413', async () => {
    await expectRefused('/api/schedule', { body: { command: 'x'.repeat(5_000_000), scheduled_at: '2030-01-01T00:00:00Z' } }, 413, 'payload_too_large', 'body');
  });
});

describe('POST /api/schedule/batch', () => {
  test('inserts count tasks, all due after delay_seconds, with demo-job as the default command', async () => {
    const before = Date.now();
    const response = await request(`${app.url}/api/schedule/batch`, { body: { count: 25, delay_seconds: 3600 } });
    expect(response.status).toBe(201);
    expect(response.body.command).toBe('demo-job');
    expect(response.body.count).toBe(25);
    expect(new Set(response.body.task_ids).size).toBe(25);
    expect(response.body.scheduled_at).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 3599);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND status = $2', [response.body.task_ids, 'pending']);
    expect(rows[0].n).toBe(25);
  });

  test.each([
    [{ count: 0 }, 'count'],
    [{ count: 1001 }, 'count'],
    [{ count: 2.5 }, 'count'],
    [{ count: '10' }, 'count'],
    [{}, 'count'],
    [{ count: 5, delay_seconds: -1 }, 'delay_seconds'],
    [{ count: 5, command: '' }, 'command'],
  ])('refuses %j', async (body, field) => {
    await expectRefused('/api/schedule/batch', { body }, 400, 'invalid_argument', field);
  });
});

describe('GET /status and /api/status', () => {
  test.each([
    ['/api/status', 400, 'invalid_argument'],
    ['/api/status?task_id=not-a-uuid', 400, 'invalid_argument'],
    ['/status?task_id=00000000-0000-4000-8000-000000000000', 404, 'not_found'],
  ])('%s answers %i', async (path, status, code) => {
    await expectRefused(path, {}, status, code, 'task_id');
  });
});

describe('GET /api/tasks', () => {
  test('pages through tasks by scheduled_at with a cursor, filtered by status and command', async () => {
    const batch = await request(`${app.url}/api/schedule/batch`, { body: { command: 'paged-job', count: 7, delay_seconds: 7200 } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { tasks: Array<{ task_id: string; command: string; status: string }>; next_cursor: string | null } } =
        await request(`${app.url}/api/tasks?status=pending&q=paged&limit=3&order=asc${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.tasks.length).toBeLessThanOrEqual(3);
      for (const task of page.body.tasks) {
        expect(task.command).toBe('paged-job');
        expect(task.status).toBe('pending');
        seen.push(task.task_id);
      }
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...batch.body.task_ids].sort());
  });

  test('finds a task by id', async () => {
    const one = await request(`${app.url}/api/schedule`, { body: { command: 'findme', scheduled_at: '2031-01-01T00:00:00Z' } });
    const page = await request(`${app.url}/api/tasks?q=${one.body.task_id}`);
    expect(page.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([one.body.task_id]);
  });

  test.each([
    ['?status=bogus', 'status'],
    ['?limit=0', 'limit'],
    ['?limit=501', 'limit'],
    ['?order=sideways', 'order'],
    ['?cursor=garbage', 'cursor'],
  ])('refuses %s', async (query, field) => {
    await expectRefused(`/api/tasks${query}`, {}, 400, 'invalid_argument', field);
  });
});

describe('cancel and retry', () => {
  test('a pending task can be cancelled once, then retried', async () => {
    const one = await request(`${app.url}/api/schedule`, { body: { command: 'later', scheduled_at: '2032-01-01T00:00:00Z' } });
    const cancelled = await request(`${app.url}/api/tasks/${one.body.task_id}/cancel`, { method: 'POST' });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelled_at: expect.any(String) });
    await expectRefused(`/api/tasks/${one.body.task_id}/cancel`, { method: 'POST' }, 409, 'conflict');
    const retried = await request(`${app.url}/api/tasks/${one.body.task_id}/retry`, { method: 'POST' });
    expect(retried.body.status).toBe('pending');
    const timeline = await request(`${app.url}/api/tasks/${one.body.task_id}/events`);
    expect(timeline.body.events.map((e: { type: string }) => e.type)).toEqual(['scheduled', 'cancelled', 'retried']);
  });

  test('an unknown task is 404', async () => {
    await expectRefused('/api/tasks/00000000-0000-4000-8000-000000000000/cancel', { method: 'POST' }, 404, 'not_found', 'id');
  });
});

describe('stats, workers, logs, health', () => {
  test('GET /api/stats counts tasks by status and asks the coordinator for workers', async () => {
    const response = await request(`${app.url}/api/stats`);
    expect(response.status).toBe(200);
    const { rows } = await db.pool.query("SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*)::int AS total FROM tasks");
    expect(response.body).toMatchObject({ pending: rows[0].pending, total: rows[0].total, workers: 0, coordinator_reachable: true });
  });

  test('GET /api/workers shows the scaler and the registry', async () => {
    const response = await request(`${app.url}/api/workers`);
    expect(response.body).toEqual({
      workers: [],
      scaler: { kind: 'local', desired: 0, actual: 0 },
      pools: [{ name: 'default', deployment: '', owner: 'manual', desired: 0, actual: 0, queues: [], tasks: [] }],
      coordinator_reachable: true,
    });
  });

  test.each([
    [{ count: 0 }, 'count'],
    [{ count: 51 }, 'count'],
    [{}, 'count'],
  ])('POST /api/workers/scale refuses %j', async (body, field) => {
    await expectRefused('/api/workers/scale', { body }, 400, 'invalid_argument', field);
  });

  test.each([
    [{}, 400, 'invalid_argument'],
    [{ name: 'worker-1; rm -rf /' }, 400, 'invalid_argument'],
    [{ name: '../etc' }, 400, 'invalid_argument'],
    [{ name: 'no-such-worker' }, 404, 'not_found'],
  ])('POST /api/workers/kill refuses %j', async (body, status, code) => {
    await expectRefused('/api/workers/kill', { body }, status, code, 'name');
  });

  test('GET /api/logs returns recent events, oldest first', async () => {
    const response = await request(`${app.url}/api/logs`);
    const ids = response.body.events.map((e: { id: number }) => e.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThanOrEqual(250);
    expect([...ids].sort((a: number, b: number) => a - b)).toEqual(ids);
    expect(response.body.events[0]).toMatchObject({ type: expect.any(String), at: expect.any(String), message: expect.any(String) });
  });

  test('/healthz and /readyz answer, an unknown API route is a JSON 404, and X-Request-Id is echoed', async () => {
    expect((await request(`${app.url}/healthz`)).body).toEqual({ status: 'ok' });
    expect((await request(`${app.url}/readyz`)).body).toEqual({ status: 'ready' });
    const missing = await request(`${app.url}/api/nope`, { headers: { 'x-request-id': 'req-123' } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect(missing.headers.get('x-request-id')).toBe('req-123');
  });
});

describe('authentication', () => {
  const sha = (token: string) => createHash('sha256').update(token).digest('hex');
  const VIEWER = 'viewer-token-0123456789';
  const OPERATOR = 'operator-token-0123456789';
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  test('with tokens every /api route and the original ones need one: a viewer\'s reads, an operator\'s changes', async () => {
    const guarded = await startSchedulerApp(db, { auth: new ApiAuth([
      { role: 'viewer', name: 'grafana', sha256: sha(VIEWER) },
      { role: 'operator', name: 'alice', sha256: sha(OPERATOR) },
    ]) });
    try {
      const unknownTask = '00000000-0000-4000-8000-000000000000';
      for (const path of ['/api/stats', '/api/tasks', '/api/queues', '/api/logs', '/api/workers', '/api/openapi.json', `/status?task_id=${unknownTask}`]) {
        const anonymous = await request(`${guarded.url}${path}`);
        expect({ path, status: anonymous.status, code: anonymous.body.error?.code }).toEqual({ path, status: 401, code: 'unauthorized' });
        expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
        expect({ path, status: (await request(`${guarded.url}${path}`, { headers: bearer(VIEWER) })).status }).toEqual({ path, status: path.startsWith('/status') ? 404 : 200 });
      }
      expect((await request(`${guarded.url}/api/stats`, { headers: bearer('not-a-token-at-all') })).status).toBe(401);
      expect((await request(`${guarded.url}/healthz`)).status).toBe(200);

      const body = { command: 'x', scheduled_at: '2030-01-01T00:00:00Z' };
      expect((await request(`${guarded.url}/api/schedule`, { body })).status).toBe(401);
      expect((await request(`${guarded.url}/schedule`, { body })).status).toBe(401);
      // Checked before the body is read: a stranger's malformed (or huge) body is a 401, not parsed first.
      expect((await request(`${guarded.url}/api/tasks`, { rawBody: '{not json' })).status).toBe(401);
      const asViewer = await request(`${guarded.url}/api/schedule`, { body, headers: bearer(VIEWER) });
      expect(asViewer.status).toBe(403);
      expect(asViewer.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('grafana') });
      const made = await request(`${guarded.url}/api/schedule`, { body, headers: bearer(OPERATOR) });
      expect(made.status).toBe(201);

      // Who did it is in the log stream.
      const cancelled = await request(`${guarded.url}/api/tasks/${made.body.task_id}/cancel`, { method: 'POST', headers: bearer(OPERATOR) });
      expect(cancelled.status).toBe(200);
      const { rows } = await db.pool.query("SELECT message FROM events WHERE type = 'operator' ORDER BY id DESC LIMIT 1");
      expect(rows).toEqual([{ message: `task ${made.body.task_id} cancelled by alice (operator)` }]);

      // The event stream: a header, or a ticket a viewer asks for, as a browser's EventSource must.
      const ticket = await request(`${guarded.url}/api/logs/ticket`, { method: 'POST', headers: bearer(VIEWER) });
      expect(ticket.status).toBe(200);
      const stream = async (query: string) => {
        const controller = new AbortController();
        const response = await fetch(`${guarded.url}/api/logs/stream${query}`, { signal: controller.signal });
        controller.abort();
        return { status: response.status, type: response.headers.get('content-type') };
      };
      expect(await stream(`?ticket=${encodeURIComponent(ticket.body.ticket)}`)).toEqual({ status: 200, type: expect.stringMatching(/^text\/event-stream/) });
      const tampered = ticket.body.ticket.replace(/^./, (c: string) => (c === 'e' ? 'f' : 'e'));
      expect((await stream(`?ticket=${encodeURIComponent(tampered)}`)).status).toBe(401);
      expect((await stream('')).status).toBe(401);
      // A ticket opens the stream only.
      expect((await request(`${guarded.url}/api/stats?ticket=${encodeURIComponent(ticket.body.ticket)}`)).status).toBe(401);
    } finally {
      await guarded.stop();
    }
  });

  test('/metrics is open unless METRICS_AUTH=token, and then a viewer\'s token reads it', async () => {
    const auth = new ApiAuth([{ role: 'viewer', name: 'prometheus', sha256: sha(VIEWER) }]);
    for (const protectMetrics of [false, true]) {
      const guarded = await startSchedulerApp(db, { auth, app: { extraRoutes: metricsRoutes(), protectMetrics } });
      try {
        const anonymous = await fetch(`${guarded.url}/metrics`);
        expect({ protectMetrics, status: anonymous.status }).toEqual({ protectMetrics, status: protectMetrics ? 401 : 200 });
        const scraped = await fetch(`${guarded.url}/metrics`, { headers: bearer(VIEWER) });
        expect(scraped.status).toBe(200);
        expect(await scraped.text()).toContain('taskmaster_http_requests_total');
        expect((await request(`${guarded.url}/healthz`)).status).toBe(200);
      } finally {
        await guarded.stop();
      }
    }
  });

  test('API_TOKEN alone is one operator token, for reads too', async () => {
    const guarded = await startSchedulerApp(db, { apiToken: 's3cret' });
    try {
      const refused = await request(`${guarded.url}/api/schedule`, { body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z' } });
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('unauthorized');
      const allowed = await request(`${guarded.url}/api/schedule`, { body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z' }, headers: bearer('s3cret') });
      expect(allowed.status).toBe(201);
      expect((await request(`${guarded.url}/api/stats`)).status).toBe(401);
      expect((await request(`${guarded.url}/api/stats`, { headers: bearer('s3cret') })).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  });
});

describe('hardening', () => {
  test('TRUST_PROXY: the rate limit keys on the address a proxy forwarded', async () => {
    const proxied = await startSchedulerApp(db, { app: { trustProxy: '1', rateLimitPerMinute: 1 } });
    const post = (from: string) => request(`${proxied.url}/api/schedule`, {
      body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z' }, headers: { 'x-forwarded-for': from },
    });
    try {
      expect((await post('10.0.0.1')).status).toBe(201);
      expect((await post('10.0.0.1')).status).toBe(429);
      expect((await post('10.0.0.2')).status).toBe(201);
    } finally {
      await proxied.stop();
    }
  });

  test('security headers: a same-origin CSP, no framing, no sniffing', async () => {
    const response = await fetch(`${app.url}/api/stats`);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(response.headers.get('content-security-policy')).not.toMatch(/upgrade-insecure-requests/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('a Host outside the allowlist is 421 (DNS rebinding), probes answer whatever the Host; changes past the rate are 429 with Retry-After; streams past the cap are 503', async () => {
    const guarded = await startSchedulerApp(db, { app: { allowedHosts: ['localhost', '127.0.0.1'], rateLimitPerMinute: 3, sseMaxClients: 1 } });
    const port = new URL(guarded.url).port;
    const raw = (path: string, host: string, method = 'GET') => new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { host, 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end(method === 'POST' ? JSON.stringify({ command: 'x', scheduled_at: '2030-01-01T00:00:00Z' }) : undefined);
    });
    try {
      const rebound = await raw('/api/stats', 'attacker.example:8081');
      expect(rebound.status).toBe(421);
      expect(JSON.parse(rebound.body).error.code).toBe('misdirected_request');
      expect((await raw('/healthz', '10.1.2.3:8081')).status).toBe(200);
      expect((await raw('/api/stats', `localhost:${port}`)).status).toBe(200);

      for (let i = 0; i < 3; i++) expect((await raw('/api/schedule', `127.0.0.1:${port}`, 'POST')).status).toBe(201);
      const limited = await raw('/api/schedule', `127.0.0.1:${port}`, 'POST');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(limited.body).error.code).toBe('rate_limited');
      // Reads are not limited.
      expect((await raw('/api/stats', `127.0.0.1:${port}`)).status).toBe(200);

      const first = new AbortController();
      const open = await fetch(`${guarded.url}/api/logs/stream`, { signal: first.signal });
      expect(open.status).toBe(200);
      const second = await fetch(`${guarded.url}/api/logs/stream`);
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('5');
      first.abort();
    } finally {
      await guarded.stop();
    }
  });
});

describe('event ids', () => {
  test.each([
    ['/api/logs?after=abc', {}, 'after'],
    ['/api/logs?after=1234567890123456', {}, 'after'],
    ['/api/logs/stream', { headers: { 'Last-Event-ID': '12x' } }, 'Last-Event-ID'],
    ['/api/logs/stream?last_event_id=-1', {}, 'last_event_id'],
  ])('%s with a bad event id is a 400 naming the field', async (path, init, field) => {
    await expectRefused(path, init, 400, 'invalid_argument', field);
  });
});
