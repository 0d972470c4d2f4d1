import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { createLogger } from '../../services/common/src/logger';
import type { Pool } from '../../services/common/src/db/pool';
import { buildOpenApiDocument } from '../../services/sdk/src/http/openapi';
import { createApp } from '../../services/scheduler/src/app';
import { ApiAuth } from '../../services/scheduler/src/auth';
import type { CoordinatorView } from '../../services/scheduler/src/coordinator-view';
import type { EventFeed } from '../../services/scheduler/src/events/event-feed';
import type { Scaler } from '../../services/scheduler/src/scaler/scaler';
import type { TestDatabase } from '../helpers/database';
import { SEED, anyJson, databaseFingerprint, deepJson, hostileString, runProperty } from '../helpers/fuzz';
import { routeCases, type Hostile } from '../helpers/http-fuzz-cases';
import { useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/*
 * Hostile input at every HTTP route, property-based (issue 13): malformed and mistyped bodies, huge and deeply
 * nested JSON, any Unicode and control characters, overflowing numbers, impossible dates, unknown time zones,
 * broken cron patterns, undecodable paths, callers without a token or with a viewer's. Every answer must be a
 * 4xx with {error:{code,message}} naming the field at fault (or the read asked for), never a 5xx, and a
 * refused request must leave the database as it was. The routes are read from the app itself, so a route
 * added without hostile cases fails the first test. FUZZ_SEED replays a run; FUZZ_RUNS_FACTOR runs more.
 */

const VIEWER = 'fuzz-viewer-token-0123456789';
const OPERATOR = 'fuzz-operator-token-0123456789';
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const auth = new ApiAuth([{ role: 'viewer', name: 'fuzz-viewer', sha256: sha(VIEWER) }, { role: 'operator', name: 'fuzz-operator', sha256: sha(OPERATOR) }]);

let app: SchedulerUnderTest;
let db: TestDatabase;
useSchedulerApp({ auth }, (running) => ({ app, db } = running));

/** The routes of an app built as the scheduler builds it, as "METHOD /path" (Express 5's router stack). */
function appRoutes(): string[] {
  const built = createApp({
    pool: {} as Pool, logger: createLogger('test', 'silent'), feed: {} as EventFeed, coordinator: {} as CoordinatorView, scaler: {} as Scaler, auth, sseKeepAliveMs: 1000,
  });
  interface Layer { route?: { path: string | RegExp; methods: Record<string, boolean> }; handle: { stack?: Layer[] }; rawPath?: string }
  const walk = (stack: Layer[], prefix: string): string[] => stack.flatMap((layer) => {
    if (layer.route) {
      return Object.keys(layer.route.methods).filter((method) => method !== '_all').map((method) => `${method.toUpperCase()} ${prefix}${String(layer.route!.path)}`);
    }
    if (layer.handle.stack) return walk(layer.handle.stack, prefix + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''));
    return [];
  });
  return walk((built as unknown as { router: { stack: Layer[] } }).router.stack, '');
}

/** The routes no hostile input reaches: the dashboard's files (static, any path answers the page or a 404). */
const DASHBOARD = (route: string) => route === 'GET /' || route.startsWith('GET /^');

interface Answer {
  status: number;
  body: any;
}

/** Sends one request; an event stream is read up to its headers and closed. */
async function send(request: Hostile, token: string | null = OPERATOR): Promise<Answer> {
  const aborter = new AbortController();
  const headers: Record<string, string> = { 'content-type': 'application/json', ...request.headers };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const body = request.raw ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  const response = await fetch(`${app.url}${request.path}`, { method: request.method, headers, body, signal: aborter.signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    aborter.abort();
    return { status: response.status, body: undefined };
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the checks below say so
  }
  return { status: response.status, body: parsed };
}

/** The shape every refusal has, and the field it names (a parent of the expected one is not enough: the field itself or inside it). */
function expectRefusal(request: Hostile, answer: Answer): void {
  const context = { method: request.method, path: request.path.slice(0, 200), status: answer.status, error: answer.body?.error };
  expect({ ...context, allowed: request.status.includes(answer.status) }).toEqual({ ...context, allowed: true });
  if (answer.status < 400) return;
  expect(context.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
  if (answer.status === 400 && request.field !== undefined) {
    const field: unknown = answer.body.error.field;
    const names = typeof field === 'string' && (field === request.field || field.startsWith(`${request.field}.`) || field.startsWith(`${request.field}[`));
    expect({ ...context, expected: request.field, names }).toEqual({ ...context, expected: request.field, names: true });
  }
}

let last: Record<string, string>;

/** Sends a hostile request and checks its answer; a refusal (or a read) must have left every table as it was. */
async function check(request: Hostile, token: string | null = OPERATOR): Promise<Answer> {
  const answer = await send(request, token);
  const before = last;
  // Taken before any check can fail, so that one failure is not blamed on every later request.
  last = await databaseFingerprint(db.pool);
  expectRefusal(request, answer);
  if (answer.status >= 400 || request.method === 'GET') expect({ request: request.path.slice(0, 200), tables: last }).toEqual({ request: request.path.slice(0, 200), tables: before });
  return answer;
}

beforeAll(async () => {
  last = await databaseFingerprint(db.pool);
});

const cases = routeCases();

test('every route of the app, and every operation of the OpenAPI document, has hostile cases', () => {
  const routes = appRoutes().filter((route) => !DASHBOARD(route));
  expect(routes.length).toBeGreaterThan(30);
  expect([...new Set(routes)].sort()).toEqual(Object.keys(cases).sort());
  const documented = Object.entries(buildOpenApiDocument().paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
  expect(documented.filter((route) => !(route in cases))).toEqual([]);
});

describe.each(Object.keys(cases).sort())('%s', (route) => {
  test('answers hostile input with a 4xx naming the field, and writes nothing', async () => {
    const { cases: arbitrary, runs } = cases[route];
    expect(await runProperty(route, arbitrary, async (request) => void (await check(request)), runs)).toBeGreaterThan(0);
  });
});

test('a caller without a valid token is 401 and a viewer changing anything is 403, on every route that needs a token', async () => {
  const guarded = Object.keys(cases).filter((route) => !/ \/(healthz|readyz|api\/openapi\.json)$/.test(route));
  const caller = fc.oneof(
    fc.constant({ token: null as string | null, status: 401 }),
    hostileString.filter((text) => /^[\x21-\x7e]+$/.test(text) && text !== VIEWER && text !== OPERATOR).map((token) => ({ token, status: 401 })),
    fc.constant({ token: OPERATOR.slice(0, -1), status: 401 }),
    fc.constant({ token: VIEWER, status: 403 }),
  );
  const arbitrary = fc.tuple(fc.constantFrom(...guarded), caller, anyJson).filter(([route, who]) => {
    // A viewer may read, and ask for a stream ticket (a read, though a POST).
    const read = route.startsWith('GET ') || route === 'POST /api/logs/ticket';
    return !(who.token === VIEWER && read);
  });
  await runProperty('unauthenticated and wrong-role callers, every guarded route', arbitrary, async ([route, who, body]) => {
    const [method, template] = route.split(' ');
    const path = template.replace(':id', '3f1c2a64-0b7e-4a59-9d2e-1c1f1e2d3c4b').replace(':name', 'fuzz-guarded');
    const answer = await check({ method, path, body: method === 'GET' || method === 'DELETE' ? undefined : body, status: [who.status] }, who.token);
    expect(answer.body.error.code).toBe(who.status === 401 ? 'unauthorized' : 'forbidden');
  }, 200);
});

test('a payload PostgreSQL or JSON.stringify cannot take (NUL, unpaired surrogates, 10k-deep nesting) is a 400 naming it, never a 500', async () => {
  const unstorable = fc.oneof(
    fc.constantFrom('"\\u0000"', '{"\\u0000":1}', '"a\\ud800b"', '["\\udc00"]', '{"k":"\\ud83d"}', deepJson(1001), deepJson(10_000), deepJson(10_000, 'object'), deepJson(1_000_000)),
    fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('"\\u0000"', '"\\udfff"', deepJson(2000))).map(([value, bad]) => JSON.stringify({ ok: value, bad }).replace(/}$/, `,"x":${bad}}`)),
  );
  const routes = [
    { path: '/api/tasks', wrap: (payload: string) => `{"name":"fuzz-payload","delay_seconds":3600,"payload":${payload}}`, field: 'payload' },
    { path: '/api/tasks', wrap: (payload: string) => `{"name":"fuzz-payload","delay_seconds":3600,"idempotency_key":"k","payload":${payload}}`, field: 'payload' },
    { path: '/api/tasks/batch', wrap: (payload: string) => `{"tasks":[{"name":"fuzz-payload"},{"name":"fuzz-payload","payload":${payload}}]}`, field: 'tasks[1].payload' },
    { path: '/api/schedule', wrap: (payload: string) => `{"command":"fuzz","scheduled_at":"2031-01-01T00:00:00Z","payload":${payload}}`, field: 'payload' },
    { path: '/api/schedule/batch', wrap: (payload: string) => `{"count":2,"payload":${payload}}`, field: 'payload' },
    { path: '/api/schedules', wrap: (payload: string) => `{"name":"fuzz-payload","cron":"0 9 * * *","paused":true,"payload":${payload}}`, field: 'payload' },
  ];
  await runProperty('unstorable payloads on every route that takes one', fc.tuple(fc.constantFrom(...routes), unstorable), async ([route, payload]) => {
    await check({ method: 'POST', path: route.path, raw: route.wrap(payload), status: [400], field: route.field });
  }, 60);
});

test('any JSON payload that is accepted reads back, and every answer is below 500', async () => {
  // Accepted tasks are due in a year: nothing runs them, so the database changes only by this test's writes.
  await runProperty('arbitrary payloads on POST /api/tasks', fc.jsonValue({ maxDepth: 6 }), async (payload) => {
    const answer = await check({ method: 'POST', path: '/api/tasks', body: { name: 'fuzz-any', delay_seconds: 365 * 86400, payload }, status: [201, 400], field: 'payload' });
    if (answer.status !== 201) return;
    const read = await send({ method: 'GET', path: `/api/tasks/${answer.body.task_id}`, status: [200] });
    expect(read.status).toBe(200);
    expect(read.body.payload).toEqual(JSON.parse(JSON.stringify(payload)));
  }, 80);
});

test('regressions the fuzzing found', async () => {
  const refused: Hostile[] = [
    // An impossible calendar day was taken and rolled into the next month (Date's arithmetic).
    { method: 'POST', path: '/api/tasks', body: { name: 'fuzz-regression', scheduled_at: '2026-02-30T10:00:00Z' }, status: [400], field: 'scheduled_at' },
    { method: 'POST', path: '/api/schedule', body: { command: 'x', scheduled_at: '2026-04-31T00:00:00+02:00' }, status: [400], field: 'scheduled_at' },
    { method: 'POST', path: '/api/tasks/bulk', body: { action: 'cancel', filter: { created_after: '2027-02-29T00:00:00Z' } }, status: [400], field: 'filter.created_after' },
    // A 10k-deep payload made JSON.stringify overflow the stack: a 500.
    { method: 'POST', path: '/api/tasks', raw: `{"name":"fuzz-regression","payload":${deepJson(10_000)}}`, status: [400], field: 'payload' },
    // NUL and unpaired surrogates in a payload are JSON, but jsonb refuses them: the insert failed, a 500.
    { method: 'POST', path: '/api/tasks', raw: '{"name":"fuzz-regression","payload":{"a":"\\u0000"}}', status: [400], field: 'payload' },
    { method: 'POST', path: '/api/schedules', raw: '{"name":"fuzz-regression","cron":"0 9 * * *","payload":"\\ud800"}', status: [400], field: 'payload' },
    // A cron pattern croner takes but of more than 200 characters broke the schedules table's check: a 500.
    { method: 'POST', path: '/api/schedules', body: { name: 'fuzz-regression', cron: `0 9 * * ${Array.from({ length: 100 }, () => '1').join(',')}` }, status: [400], field: 'cron' },
    // A status filter named after a property of every object found Object.prototype's: a 500.
    { method: 'GET', path: '/api/tasks?status=valueOf', status: [400], field: 'status' },
    { method: 'GET', path: '/api/tasks?status=pending,constructor', status: [400], field: 'status' },
    // A free-text search with NUL failed the query (PostgreSQL text holds no NUL): a 500.
    { method: 'GET', path: '/api/tasks?q=%00', status: [400], field: 'q' },
    // A cursor whose time PostgreSQL cannot hold failed the query: a 500.
    { method: 'GET', path: `/api/tasks?cursor=${Buffer.from('-100000-01-01T00:00:00Z|3f1c2a64-0b7e-4a59-9d2e-1c1f1e2d3c4b').toString('base64url')}`, status: [400], field: 'cursor' },
    // A Last-Event-ID past float64's integers was sent to PostgreSQL as 1e+23 once the stream had opened.
    { method: 'GET', path: '/api/logs/stream?last_event_id=99999999999999999999999', status: [400], field: 'last_event_id' },
    // A path that is not percent-encoded UTF-8 was a 400 without a field or our error code.
    { method: 'GET', path: '/api/tasks/%FF', status: [400], field: 'path' },
  ];
  for (const request of refused) await check(request);
  console.log(`fuzz: regressions ${refused.length} cases (seed ${SEED})`);
});
