import fc from 'fast-check';
import { isUuid } from '../../services/common/src/validation';
import { NAME_PATTERN } from '../../services/sdk/src/task-fields';
import {
  anyJson, controlString, deepJson, hostileString, invalidCron, invalidDateTime, invalidTimezone, notBoolean, notNumber, notString, pathSegment,
  wildNumber,
} from './fuzz';

/*
 * Hostile requests for every route of the scheduler's HTTP app, keyed "METHOD /path" as Express declares the
 * route (test/e2e/fuzz-http.test.ts checks that the keys are exactly the app's routes). Each request says
 * what it must be answered: the statuses allowed and, for a 400, the field the error must name.
 */

export interface Hostile {
  method: string;
  path: string;
  /** A JSON body (sent as JSON.stringify of it) or raw text, with Content-Type application/json. */
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Statuses allowed; a 4xx must carry {error:{code,message}}. */
  status: readonly number[];
  /** For a 400: the field error.field must name, or a parent of it ("retry" covers "retry.backoff"). */
  field?: string;
}

export interface RouteFuzz {
  cases: fc.Arbitrary<Hostile>;
  runs: number;
}

const MAX_COMMAND = 4096;

/** A value for a field that takes a name such as send-email: anything that is not one. */
const badName = fc.oneof(notString, hostileString.filter((text) => !NAME_PATTERN.test(text)), fc.constant('a'.repeat(129)));
/** Whole numbers within [min, max] are the only good ones; everything else here is not. */
const badWhole = (min: number, max: number) => fc.oneof(
  notNumber,
  wildNumber.filter((n) => !(Number.isInteger(n) && n >= min && n <= max)),
  fc.integer({ min: max + 1, max: max + 1_000_000 }),
);
const badSeconds = (max: number) => fc.oneof(notNumber, wildNumber.filter((n) => !(n >= 0 && n <= max)));
const badText = (maxLength: number) => fc.oneof(notString, controlString, fc.constant('x'.repeat(maxLength + 1)));
const badDateTime = fc.oneof(notString, invalidDateTime);
const badRetry = fc.oneof(
  anyJson.filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)),
  fc.record({ backoff: fc.oneof(notString, hostileString.filter((s) => s !== 'fixed' && s !== 'exponential')) }),
  fc.record({ delay_seconds: badSeconds(86400) }),
  fc.record({ max_delay_seconds: badSeconds(86400) }),
  fc.record({ jitter: notBoolean }),
  fc.dictionary(hostileString.filter((key) => !['backoff', 'delay_seconds', 'max_delay_seconds', 'jitter'].includes(key)), anyJson, { minKeys: 1, maxKeys: 3 }),
);

/** Numbers that overflow float64 and nesting that overflows recursive code, as raw JSON text for a field. */
const RAW_VALUES = ['1e400', '-1e400', '123456789012345678901234567890', deepJson(10_000), deepJson(10_000, 'object'), deepJson(100_000)];

/**
 * A valid body with one field made hostile: the request must be a 400 naming that field. Sometimes the value
 * is raw JSON text (RAW_VALUES) that no JSON.stringify could produce.
 */
function oneBadField(base: Record<string, unknown>, fields: Record<string, fc.Arbitrary<unknown>>, at: (field: string) => string = (field) => field) {
  const replaced = fc.constantFrom(...Object.keys(fields)).chain((field) => fields[field].map((value) => ({ field, value })));
  const raw = fc.tuple(fc.constantFrom(...Object.keys(fields)), fc.constantFrom(...RAW_VALUES))
    .map(([field, text]) => ({ field, text }));
  return fc.oneof(
    { weight: 5, arbitrary: replaced.map(({ field, value }) => ({ body: { ...base, [field]: value }, raw: undefined, field: at(field) })) },
    {
      weight: 1,
      arbitrary: raw.map(({ field, text }) => ({
        body: undefined,
        raw: JSON.stringify({ ...base, [field]: '\u0000RAW\u0000' }).replace('"\\u0000RAW\\u0000"', () => text),
        field: at(field),
      })),
    },
  );
}

/** Bodies that are not a JSON object at all: other JSON values, text that is not JSON, deep nesting. */
const notAnObject = fc.oneof(
  anyJson.filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)).map((body) => ({ raw: JSON.stringify(body) })),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 60 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }).map((raw) => ({ raw })),
  fc.constantFrom(deepJson(10_000), `[${deepJson(100_000, 'object')}]`, '{"a":1,"a":2', '1e400', '"\\u0000"').map((raw) => ({ raw })),
);

/** POST routes that create or change from a body: a hostile field (400 naming it) or a body that is no object (400). */
function bodyRoute(method: string, path: string, base: Record<string, unknown>, fields: Record<string, fc.Arbitrary<unknown>>, runs: number, at?: (field: string) => string): RouteFuzz {
  return {
    runs,
    cases: fc.oneof(
      { weight: 4, arbitrary: oneBadField(base, fields, at).map(({ body, raw, field }) => ({ method, path, body, raw, status: [400], field })) },
      { weight: 1, arbitrary: notAnObject.map(({ raw }) => ({ method, path, raw, status: [400] })) },
    ),
  };
}

/** Text for a path segment: "." and ".." (encoded or not) are resolved by the client's URL parser, not sent. */
const segmentText = hostileString.filter((text) => text !== '' && text !== '.' && text !== '..');

/** Percent-encodings that decode to no UTF-8 text: in a path they are a 400 naming "path". */
const undecodable = fc.constantFrom('%FF', '%ED%A0%80', '%E0%A4%A', '%C0%AF').map((segment) => ({ segment, status: [400], field: 'path' }));

/**
 * An id as a path segment (or a query value): anything that is not an id is a 400 naming `field`; an id
 * nothing has is a 404.
 */
function idParameter(field: string, where: 'path' | 'query' = 'path'): fc.Arbitrary<{ segment: string; status: number[]; field: string }> {
  return fc.oneof(
    segmentText.filter((text) => !isUuid(text)).map((text) => ({ segment: pathSegment(text), status: [400], field })),
    fc.constantFrom('%00', '%2e%2e%2fetc', `${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(13)}`).map((segment) => ({ segment, status: [400], field })),
    where === 'path' ? undecodable : undecodable.map(({ segment }) => ({ segment, status: [400], field })),
    fc.uuid().map((id) => ({ segment: id, status: [404], field })),
  );
}

/** A queue or task name in the path: anything that is not a name is a 400 naming "name". */
const badNameSegment = fc.oneof(
  segmentText.filter((text) => !NAME_PATTERN.test(text)).map((text) => ({ segment: pathSegment(text), status: [400], field: 'name' })),
  fc.constantFrom('%00', 'a'.repeat(129)).map((segment) => ({ segment, status: [400], field: 'name' })),
  undecodable,
);
/** A name no queue or limit has: 404. */
const unknownName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/).map((name) => `fuzz-none-${name}`);

const byId = (method: string, template: string, runs = 40): RouteFuzz => ({
  runs,
  cases: idParameter('id').map(({ segment, status, field }) => ({ method, path: template.replace(':id', segment), status, field })),
});

/** Routes without input: any query string is ignored, and the answer is the read. */
const plainRead = (path: string, status: readonly number[] = [200], runs = 15): RouteFuzz => ({
  runs,
  cases: fc.dictionary(fc.string({ maxLength: 10 }), hostileString, { maxKeys: 3 }).map((query) => ({
    method: 'GET', path: `${path}?${new URLSearchParams(query).toString()}`, status,
  })),
});

const TASK = { name: 'fuzz-task', delay_seconds: 3600 };
const TASK_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  name: badName,
  queue: badName,
  scheduled_at: badDateTime,
  delay_seconds: badSeconds(365 * 86400),
  max_attempts: badWhole(1, 100),
  priority: badWhole(-1000, 1000),
  idempotency_key: fc.oneof(notString, controlString, fc.constant(''), fc.constant('k'.repeat(256))),
  timeout_seconds: badWhole(1, 7 * 86400),
  retry: badRetry,
};
const COMMAND = { command: 'fuzz-command', scheduled_at: '2031-01-01T00:00:00Z' };
const COMMAND_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  command: fc.oneof(notString.filter((value) => value !== null), controlString, fc.constant('c'.repeat(MAX_COMMAND + 1)), fc.constantFrom('', '   ', '\t')),
  scheduled_at: badDateTime.filter((value) => value !== null),
  max_attempts: badWhole(1, 100).filter((value) => value !== null),
  priority: badWhole(-1000, 1000).filter((value) => value !== null),
  idempotency_key: fc.oneof(controlString, fc.constant(''), fc.constant('k'.repeat(256)), fc.integer()),
  queue: badName.filter((value) => value !== null),
  timeout_seconds: badWhole(1, 7 * 86400).filter((value) => value !== null),
  retry: badRetry.filter((value) => value !== null),
};
const SCHEDULE = { name: 'fuzz-schedule', cron: '0 9 * * 1-5', paused: true };
const SCHEDULE_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  key: badName,
  name: badName,
  cron: fc.oneof(notString, invalidCron),
  timezone: fc.oneof(notString, invalidTimezone),
  queue: badName,
  priority: badWhole(-1000, 1000),
  max_attempts: badWhole(1, 100),
  timeout_seconds: badWhole(1, 7 * 86400),
  overlap: fc.oneof(notString, hostileString.filter((s) => s !== 'skip' && s !== 'allow')),
  catch_up: fc.oneof(notString, hostileString.filter((s) => !['none', 'last', 'all'].includes(s))),
  paused: notBoolean,
};
const BULK = { action: 'cancel', filter: { name: 'fuzz-none' }, dry_run: true };
const BULK_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  action: fc.oneof(notString, hostileString.filter((s) => !['cancel', 'retry', 'delete'].includes(s))),
  filter: fc.oneof(
    anyJson.filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)),
    fc.constant({}),
    fc.record({ status: fc.oneof(notString.filter((v) => !Array.isArray(v) || v.length === 0), fc.array(hostileString, { minLength: 1, maxLength: 3 })) }),
    fc.record({ name: badName }),
    fc.record({ queue: badName }),
    fc.record({ created_after: badDateTime }),
    fc.record({ created_before: badDateTime }),
    fc.record({ error: fc.oneof(notString, fc.constant(''), fc.constant('e'.repeat(201))) }),
    fc.record({ ids: fc.oneof(notString.filter((v) => !Array.isArray(v)), fc.constant([]), fc.array(hostileString.filter((s) => !isUuid(s)), { minLength: 1, maxLength: 3 })) }),
  ),
  limit: badWhole(1, 10_000),
  reason: badText(500),
  dry_run: notBoolean,
};

/** The hostile requests of every route, by "METHOD /path". */
export function routeCases(): Record<string, RouteFuzz> {
  const legacySchedule = bodyRoute('POST', '/schedule', COMMAND, COMMAND_FIELDS, 60);
  return {
    'GET /healthz': plainRead('/healthz'),
    'GET /readyz': plainRead('/readyz'),
    'GET /api/openapi.json': plainRead('/api/openapi.json'),
    'POST /api/schedule': bodyRoute('POST', '/api/schedule', COMMAND, COMMAND_FIELDS, 120),
    'POST /schedule': legacySchedule,
    'POST /api/schedule/batch': bodyRoute('POST', '/api/schedule/batch', { count: 1, delay_seconds: 3600 }, {
      count: badWhole(1, 1000),
      command: COMMAND_FIELDS.command,
      delay_seconds: badSeconds(365 * 86400).filter((value) => value !== null),
      max_attempts: COMMAND_FIELDS.max_attempts,
      queue: COMMAND_FIELDS.queue,
      timeout_seconds: COMMAND_FIELDS.timeout_seconds,
    }, 80),
    'POST /api/tasks': bodyRoute('POST', '/api/tasks', TASK, TASK_FIELDS, 150),
    'POST /api/tasks/batch': {
      runs: 80,
      cases: fc.oneof(
        fc.tuple(fc.integer({ min: 0, max: 3 }), oneBadField(TASK, TASK_FIELDS)).map(([index, { body, raw, field }]) => {
          const others = Array.from({ length: index }, (_, i) => ({ ...TASK, name: `fuzz-batch-${i}` }));
          const task = raw ?? JSON.stringify(body);
          return { method: 'POST', path: '/api/tasks/batch', raw: `{"tasks":[${[...others.map((t) => JSON.stringify(t)), task].join(',')}]}`, status: [400], field: `tasks[${index}].${field}` };
        }),
        fc.oneof(notString, fc.constant([]), fc.constant(Array.from({ length: 1001 }, () => TASK)))
          .filter((tasks) => !(Array.isArray(tasks) && tasks.length > 0 && tasks.length <= 1000))
          .map((tasks) => ({ method: 'POST', path: '/api/tasks/batch', body: { tasks }, status: [400], field: 'tasks' })),
      ),
    },
    'POST /api/tasks/bulk': bodyRoute('POST', '/api/tasks/bulk', BULK, BULK_FIELDS, 100),
    'GET /api/status': {
      runs: 40,
      cases: idParameter('task_id', 'query').map(({ segment, status }) => ({ method: 'GET', path: `/api/status?task_id=${segment}`, status, field: 'task_id' })),
    },
    'GET /status': {
      runs: 20,
      cases: idParameter('task_id', 'query').map(({ segment, status }) => ({ method: 'GET', path: `/status?task_id=${segment}`, status, field: 'task_id' })),
    },
    'GET /api/tasks': {
      runs: 120,
      cases: fc.oneof(
        fc.constantFrom('status', 'name', 'queue', 'limit', 'order', 'cursor').chain((param) => {
          const value = {
            status: hostileString.filter((s) => s !== '' && s.split(',').some((part) => !['pending', 'dispatched', 'running', 'active', 'succeeded', 'completed', 'failed', 'cancelled'].includes(part.trim()))),
            name: hostileString.filter((s) => !NAME_PATTERN.test(s)),
            queue: hostileString.filter((s) => !NAME_PATTERN.test(s)),
            limit: fc.oneof(hostileString.filter((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 500), fc.constantFrom('0', '501', '99999999999999999999999', '1e3', '-1', '10.5')),
            order: hostileString.filter((s) => s !== 'asc' && s !== 'desc'),
            cursor: fc.oneof(
              hostileString.filter((s) => s !== ''),
              fc.tuple(fc.constantFrom('-100000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '0', 'x', '2026-02-30T00:00:00Z'), fc.uuid())
                .map(([when, id]) => Buffer.from(`${when}|${id}`).toString('base64url')),
            ),
          }[param]!;
          return value.map((text: string) => ({ method: 'GET', path: `/api/tasks?${param}=${pathSegment(text)}`, status: [400], field: param }));
        }),
        fc.constantFrom('status', 'name', 'limit').map((param) => ({ method: 'GET', path: `/api/tasks?${param}=1&${param}=2`, status: [400], field: param })),
        // Free text: any of it is a search (200) or refused naming q; never a failed query.
        hostileString.map((q) => ({ method: 'GET', path: `/api/tasks?q=${pathSegment(q)}`, status: [200, 400], field: 'q' })),
      ),
    },
    'GET /api/tasks/:id': byId('GET', '/api/tasks/:id'),
    'GET /api/tasks/:id/events': byId('GET', '/api/tasks/:id/events'),
    'POST /api/tasks/:id/cancel': {
      runs: 60,
      cases: fc.oneof(
        idParameter('id').map(({ segment, status, field }) => ({ method: 'POST', path: `/api/tasks/${segment}/cancel`, status, field })),
        fc.tuple(fc.uuid(), badText(500)).map(([id, reason]) => ({ method: 'POST', path: `/api/tasks/${id}/cancel`, body: { reason }, status: [400], field: 'reason' })),
        fc.tuple(fc.uuid(), notAnObject).map(([id, { raw }]) => ({ method: 'POST', path: `/api/tasks/${id}/cancel`, raw, status: [400, 404] })),
      ),
    },
    'POST /api/tasks/:id/retry': byId('POST', '/api/tasks/:id/retry'),
    'GET /api/stats': plainRead('/api/stats'),
    'POST /api/schedules': bodyRoute('POST', '/api/schedules', SCHEDULE, SCHEDULE_FIELDS, 150),
    'GET /api/schedules': plainRead('/api/schedules'),
    'GET /api/schedules/:id': byId('GET', '/api/schedules/:id'),
    'POST /api/schedules/:id/pause': byId('POST', '/api/schedules/:id/pause'),
    'POST /api/schedules/:id/resume': byId('POST', '/api/schedules/:id/resume'),
    'DELETE /api/schedules/:id': byId('DELETE', '/api/schedules/:id'),
    'GET /api/queues': plainRead('/api/queues'),
    ...queueRoutes(),
    'GET /api/concurrency-limits': plainRead('/api/concurrency-limits'),
    ...limitRoutes(),
    'GET /api/workers': plainRead('/api/workers'),
    'POST /api/workers/scale': bodyRoute('POST', '/api/workers/scale', { count: 'x' }, { count: badWhole(1, 50) }, 40),
    'POST /api/workers/kill': {
      runs: 40,
      cases: fc.oneof(
        fc.oneof(notString, hostileString.filter((s) => !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/.test(s)))
          .map((name) => ({ method: 'POST', path: '/api/workers/kill', body: { name }, status: [400], field: 'name' })),
        unknownName.map((name) => ({ method: 'POST', path: '/api/workers/kill', body: { name }, status: [404], field: 'name' })),
      ),
    },
    // The ticket takes no body: any JSON is ignored (200), text that is not JSON is a 400.
    'POST /api/logs/ticket': {
      runs: 20,
      cases: fc.oneof(anyJson.map((body) => ({ raw: JSON.stringify(body) })), notAnObject).map(({ raw }) => ({ method: 'POST', path: '/api/logs/ticket', raw, status: [200, 400] })),
    },
    'GET /api/logs': {
      runs: 40,
      cases: fc.oneof(hostileString.filter((s) => !/^\d{1,15}$/.test(s)), fc.constantFrom('9'.repeat(16), '1e3', '-1', '0x10', '99999999999999999999999'))
        .map((after) => ({ method: 'GET', path: `/api/logs?after=${pathSegment(after)}`, status: [400], field: 'after' })),
    },
    'GET /api/logs/stream': {
      runs: 30,
      cases: fc.oneof(hostileString.filter((s) => !/^\d{1,15}$/.test(s) && s !== ''), fc.constantFrom('9'.repeat(16), '99999999999999999999999', '-1', '1.5'))
        .chain((id) => fc.constantFrom(
          { method: 'GET', path: `/api/logs/stream?last_event_id=${pathSegment(id)}`, status: [400], field: 'last_event_id' },
          // fetch trims header values and refuses controls in them: only what it sends as given.
          ...(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(id) ? [{ method: 'GET', path: '/api/logs/stream', headers: { 'last-event-id': id }, status: [400], field: 'Last-Event-ID' }] : []),
        )),
    },
  };
}

function queueRoutes(): Record<string, RouteFuzz> {
  const named = (method: string, suffix = '', runs = 30): RouteFuzz => ({
    runs,
    cases: fc.oneof(
      badNameSegment,
      fc.constant({ segment: 'default', status: [400], field: 'name' }),
      ...(method === 'GET' || method === 'DELETE' || suffix === '/resume' ? [unknownName.map((name) => ({ segment: name, status: [404], field: 'name' }))] : []),
    ).map(({ segment, status, field }) => ({ method, path: `/api/queues/${segment}${suffix}`, status, field })),
  });
  const put = bodyRoute('PUT', '/api/queues/fuzz-queue', {}, {
    paused: notBoolean,
    max_running: badWhole(1, 1_000_000).filter((value) => value !== null),
    max_per_second: badWhole(1, 1_000_000).filter((value) => value !== null),
  }, 60);
  return {
    'GET /api/queues/:name': named('GET'),
    'PUT /api/queues/:name': { runs: 90, cases: fc.oneof(put.cases, named('PUT').cases) },
    'POST /api/queues/:name/pause': named('POST', '/pause'),
    'POST /api/queues/:name/resume': named('POST', '/resume'),
    'DELETE /api/queues/:name': named('DELETE'),
  };
}

function limitRoutes(): Record<string, RouteFuzz> {
  const named = (method: string): RouteFuzz => ({
    runs: 30,
    cases: fc.oneof(
      badNameSegment,
      ...(method === 'PUT' ? [] : [unknownName.map((name) => ({ segment: name, status: [404], field: 'name' }))]),
    ).map(({ segment, status, field }) => ({ method, path: `/api/concurrency-limits/${segment}`, body: method === 'PUT' ? { key: 'customer.id', max_running: 1 } : undefined, status, field })),
  });
  const put = bodyRoute('PUT', '/api/concurrency-limits/fuzz-limit', { key: 'customer.id', max_running: 1 }, {
    key: fc.oneof(notString, hostileString.filter((s) => !/^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/.test(s)), fc.constant('a.b.c.d.e.f.g.h.i')),
    max_running: badWhole(1, 1_000_000),
  }, 60);
  return {
    'GET /api/concurrency-limits/:name': named('GET'),
    'PUT /api/concurrency-limits/:name': { runs: 90, cases: fc.oneof(put.cases, named('PUT').cases) },
    'DELETE /api/concurrency-limits/:name': named('DELETE'),
  };
}
