import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { grpcApi } from '../../services/common/src/grpc/contract';
import type { TestDatabase } from '../helpers/database';
import { useTestCoordinator, type TestCoordinator } from '../helpers/coordinator';
import { SEED, controlString, databaseFingerprint, deepJson, hostileString, invalidCron, invalidTimezone, runProperty, unicodeString } from '../helpers/fuzz';

/*
 * Hostile input at every CoordinatorService method, property-based (issue 13): malformed fields, numbers past
 * every range, any Unicode and control characters, unstorable JSON, broken cron patterns and time zones,
 * messages out of order on the streams, bytes that are no protobuf message, callers without a token or with a
 * viewer's. Each must be answered with the code that says why (INVALID_ARGUMENT, NOT_FOUND,
 * FAILED_PRECONDITION, PERMISSION_DENIED, UNAUTHENTICATED), never INTERNAL or UNKNOWN, and a refused call must
 * leave the database as it was. The methods are read from the proto, so a method added without cases fails.
 */

const VIEWER = 'grpc-fuzz-viewer-token-0123';
const OPERATOR = 'grpc-fuzz-operator-token-0123';

let coordinator: TestCoordinator & { db: TestDatabase };
useTestCoordinator({ API_TOKENS: `viewer:fuzz-viewer:${VIEWER},operator:fuzz-operator:${OPERATOR}` }, (running) => (coordinator = running));

type Client = grpc.Client & Record<string, (...args: unknown[]) => any>;
let client: Client;
beforeAll(() => {
  client = new (grpcApi().CoordinatorService)(coordinator.address, grpc.credentials.createInsecure()) as unknown as Client;
});
afterAll(() => client?.close());

const { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED, UNAUTHENTICATED, OK } = grpc.status;

interface Outcome {
  code: grpc.status;
  details: string;
  response?: any;
}

function metadata(token: string | null = OPERATOR): grpc.Metadata {
  const meta = new grpc.Metadata();
  if (token !== null) meta.set('authorization', `Bearer ${token}`);
  return meta;
}

/** One unary call; its status whatever it is. */
function unary(method: string, request: unknown, token: string | null = OPERATOR): Promise<Outcome> {
  return new Promise((resolve) => {
    client[method](request, metadata(token), { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, response: unknown) =>
      resolve(err ? { code: err.code, details: err.details } : { code: OK, details: '', response }));
  });
}

/** Writes `messages` on a bidirectional stream, then half-closes it; resolves with the answers and how it ended. */
function stream(method: string, messages: unknown[]): Promise<Outcome & { answers: any[] }> {
  return new Promise((resolve) => {
    const call = client[method](metadata(), { deadline: Date.now() + 10_000 }) as grpc.ClientDuplexStream<unknown, unknown>;
    const answers: unknown[] = [];
    call.on('data', (answer) => answers.push(answer));
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details, answers }));
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === OK) resolve({ code: OK, details: status.details, answers });
    });
    for (const message of messages) call.write(message);
    call.end();
  });
}

let last: Record<string, string>;
beforeAll(async () => {
  last = await databaseFingerprint(coordinator.db.pool);
});

/** The outcome's code must be one of `allowed`, never INTERNAL or UNKNOWN; refused, the tables are as they were. */
async function expectAnswer(what: string, outcome: Outcome, allowed: readonly grpc.status[], writes = false): Promise<void> {
  const before = last;
  last = await databaseFingerprint(coordinator.db.pool);
  const seen = { what: what.slice(0, 300), code: grpc.status[outcome.code], details: outcome.details.slice(0, 300) };
  expect({ ...seen, allowed: allowed.includes(outcome.code) }).toEqual({ ...seen, allowed: true });
  if (outcome.code !== OK || !writes) expect({ what: seen.what, tables: last }).toEqual({ what: seen.what, tables: before });
}

let nextWorkerId = 3_000_000_000;
const freshWorker = () => ++nextWorkerId;
const UUID = '3f1c2a64-0b7e-4a59-9d2e-1c1f1e2d3c4b';

/** A heartbeat the coordinator takes; each case makes one field of it hostile. */
const heartbeat = (workerId: number) => ({ workerId, address: '127.0.0.1:1', slots_total: 1, slots_free: 1, name: `fuzz-${workerId}` });
const DECLARATION = { name: 'fuzz-declared', cron: '0 9 * * *', timezone: '', payload: '', queue: '', overlap: '', catch_up: '' };
const UNSTORABLE_JSON = ['"\\u0000"', '{"a":"\\ud800"}', deepJson(2000), deepJson(10_000), '{', 'nul\u0000'];

const badHeartbeatField: fc.Arbitrary<{ field: string; value: Record<string, unknown> }> = fc.oneof(
  fc.constant({ field: 'workerId', value: { workerId: 0 } }),
  hostileString.filter((address) => !/^[^\s]+:\d{1,5}$/.test(address)).map((address) => ({ field: 'address', value: { address } })),
  fc.integer({ min: 100_001, max: 2 ** 32 - 1 }).map((slots) => ({ field: 'slots_total', value: { slots_total: slots } })),
  fc.array(hostileString.filter((name) => !/^[a-z0-9][a-z0-9._:-]{0,127}$/.test(name)), { minLength: 1, maxLength: 3 }).map((handles) => ({ field: 'handles', value: { handles } })),
  hostileString.filter((id) => !/^[0-9a-f-]{36}$/i.test(id)).map((task_id) => ({ field: 'held', value: { held: [{ task_id, attempt: 1 }], reports_held: true } })),
  fc.oneof(
    invalidCron.map((cron) => ({ cron })),
    invalidTimezone.map((timezone) => ({ timezone })),
    hostileString.filter((name) => !/^[a-z0-9][a-z0-9._:-]{0,127}$/.test(name)).map((name) => ({ name })),
    fc.constantFrom(...UNSTORABLE_JSON).map((payload) => ({ payload })),
    fc.constant({ cron: `0 9 * * ${Array.from({ length: 100 }, () => '1').join(',')}` }),
    hostileString.filter((s) => s !== '' && s !== 'skip' && s !== 'allow').map((overlap) => ({ overlap })),
  ).map((bad) => ({ field: 'schedules[0]', value: { schedules: [{ ...DECLARATION, ...bad }] } })),
  fc.oneof(
    hostileString.filter((key) => !/^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/.test(key)).map((key) => ({ key, max_running: 1 })),
    fc.constantFrom(0, 1_000_001, 2 ** 32 - 1).map((max_running) => ({ key: 'id', max_running })),
  ).map((bad) => ({ field: 'concurrency_limits[0]', value: { concurrency_limits: [{ name: 'fuzz-limited', ...bad }] } })),
);

/** A report the coordinator refuses alone (INVALID_ARGUMENT naming the field), or one about no task (NOT_FOUND). */
const badReport: fc.Arbitrary<{ field: string; report: Record<string, unknown> }> = fc.oneof(
  hostileString.filter((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)).map((task_id) => ({ field: 'task_id', report: { task_id, status: 'STARTED', attempt: 1 } })),
  fc.constantFrom('QUEUED', 0, 7, 99).map((status) => ({ field: 'status', report: { task_id: UUID, status, attempt: 1 } })),
  fc.tuple(fc.constantFrom('at_ms', 'started_at_ms', 'started_at', 'completed_at', 'failed_at'), fc.oneof(fc.integer({ min: -(2 ** 40), max: -1 }), fc.constantFrom(2 ** 53 - 1, 9e15, 253402300800001)))
    .filter(([field, value]) => value < 0 || (field.endsWith('_ms') ? value > 253402300799999 : value > 253402300799))
    .map(([field, value]) => ({ field, report: { task_id: UUID, status: 'COMPLETE', attempt: 1, [field]: value } })),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => ({ field: 'error', report: { task_id: UUID, status: 'FAILED', attempt: 1, error: `${a}\u0000${b}` } })),
  fc.constant({ field: 'error', report: { task_id: UUID, status: 'FAILED', attempt: 1, error: 'e'.repeat(64 * 1024 + 1) } }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => ({ field: 'result', report: { task_id: UUID, status: 'COMPLETE', attempt: 1, result: `${a}\u0000${b}` } })),
  fc.uuid().map((task_id) => ({ field: 'task_id', report: { task_id, status: 'COMPLETE', attempt: 1, result: '{"ok":true}' } })),
);

/** The hostile calls of each method, and what they must be answered. */
const METHODS: Record<string, { runs: number; run: () => Promise<number> }> = {
  SubmitTask: {
    runs: 120,
    run: () => runProperty('grpc SubmitTask', fc.oneof(
      fc.oneof(controlString, fc.constantFrom('', '   ', 'c'.repeat(4097))).map((data) => ({ data, scheduled_at: 0, idempotency_key: '' })),
      fc.oneof(fc.integer({ min: -(2 ** 40), max: -1 }), fc.constantFrom(8.64e12 + 1, 2 ** 53 - 1, 2 ** 60))
        .map((scheduled_at) => ({ data: 'fuzz', scheduled_at, idempotency_key: '' })),
      fc.oneof(controlString, fc.constant('k'.repeat(256))).map((idempotency_key) => ({ data: 'fuzz', scheduled_at: 0, idempotency_key })),
    ), async (request) => expectAnswer(`SubmitTask ${JSON.stringify(request).slice(0, 200)}`, await unary('SubmitTask', request), [INVALID_ARGUMENT]), 120),
  },
  SendHeartbeat: {
    runs: 150,
    run: () => runProperty('grpc SendHeartbeat', badHeartbeatField, async ({ field, value }) => {
      const request = { ...heartbeat(freshWorker()), ...value };
      const outcome = await unary('SendHeartbeat', request);
      await expectAnswer(`SendHeartbeat ${field} ${JSON.stringify(value).slice(0, 200)}`, outcome, [INVALID_ARGUMENT]);
      expect(outcome.details.startsWith(field.replace(/\[\d+\]$/, '')) || outcome.details.includes(field)).toBe(true);
    }, 150),
  },
  UpdateTaskStatus: {
    runs: 120,
    run: () => runProperty('grpc UpdateTaskStatus', badReport, async ({ field, report }) => {
      const outcome = await unary('UpdateTaskStatus', report);
      await expectAnswer(`UpdateTaskStatus ${field}`, outcome, field === 'task_id' && /^[0-9a-f-]{36}$/.test(String(report.task_id)) ? [NOT_FOUND] : [INVALID_ARGUMENT]);
    }, 120),
  },
  UpdateTaskStatuses: {
    runs: 60,
    run: () => runProperty('grpc UpdateTaskStatuses', fc.array(badReport, { minLength: 1, maxLength: 5 }), async (reports) => {
      const outcome = await unary('UpdateTaskStatuses', { updates: reports.map((r) => r.report) });
      await expectAnswer('UpdateTaskStatuses', outcome, [OK]);
      // Each refused report is answered alone, its message starting with the field at fault.
      expect(outcome.response.results.map((result: { success: boolean; message: string }) => result.success)).toEqual(reports.map(() => false));
    }, 60),
  },
  StreamTaskStatuses: {
    runs: 40,
    run: () => runProperty('grpc StreamTaskStatuses', fc.array(fc.array(badReport, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }), async (batches) => {
      const outcome = await stream('StreamTaskStatuses', batches.map((batch) => ({ updates: batch.map((r) => r.report) })));
      await expectAnswer('StreamTaskStatuses', outcome, [OK]);
      expect(outcome.answers).toHaveLength(batches.length);
    }, 40),
  },
  ListWorkers: {
    runs: 20,
    run: () => runProperty('grpc ListWorkers', fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 3 }), async (request) => {
      // Unknown fields are no fields: the answer is the list.
      await expectAnswer('ListWorkers', await unary('ListWorkers', request, VIEWER), [OK]);
    }, 20),
  },
  Connect: {
    runs: 80,
    run: () => runProperty('grpc Connect', fc.oneof(
      // The first message must be a heartbeat with slots.
      fc.constantFrom<unknown[]>([{ seq: 1, reports: { updates: [] } }], [{ seq: 1, accepted: { results: [] } }], [{ seq: 1 }])
        .map((messages) => ({ messages, field: 'heartbeat' })),
      fc.constant({ messages: [{ seq: 1, heartbeat: { ...heartbeat(0), address: '' } }], field: 'workerId' }),
      fc.constant({ messages: [{ seq: 1, heartbeat: { ...heartbeat(1), slots_total: 0 } }], field: 'slots_total' }),
      badHeartbeatField.filter(({ field }) => field !== 'address').map(({ field, value }) => ({ messages: [{ seq: 1, heartbeat: { ...heartbeat(freshWorker()), address: '', ...value } }], field })),
    ), async ({ messages, field }) => {
      const outcome = await stream('Connect', messages.map((message) => {
        const m = message as { heartbeat?: { workerId: number } };
        return m.heartbeat?.workerId === 1 ? { ...m, heartbeat: { ...m.heartbeat, workerId: freshWorker() } } : m;
      }));
      await expectAnswer(`Connect ${field}`, outcome, [INVALID_ARGUMENT]);
      expect(outcome.details).toContain(field.replace(/\[\d+\]$/, ''));
    }, 80),
  },
};

test('every CoordinatorService method has hostile cases', () => {
  const methods = Object.keys((grpcApi().CoordinatorService as unknown as { service: Record<string, unknown> }).service);
  expect(methods.sort()).toEqual(Object.keys(METHODS).sort());
});

describe.each(Object.keys(METHODS).sort())('%s', (method) => {
  test('answers hostile input with the code that says why, never INTERNAL, and writes nothing', async () => {
    expect(await METHODS[method].run()).toBeGreaterThan(0);
  });
});

test('SubmitTask and ListWorkers without a valid token are UNAUTHENTICATED; a viewer submitting is PERMISSION_DENIED', async () => {
  const caller = fc.oneof(
    fc.constant({ token: null as string | null, submit: UNAUTHENTICATED, list: UNAUTHENTICATED }),
    hostileString.filter((text) => /^[\x21-\x7e]+$/.test(text) && text !== VIEWER && text !== OPERATOR).map((token) => ({ token, submit: UNAUTHENTICATED, list: UNAUTHENTICATED })),
    fc.constant({ token: VIEWER, submit: PERMISSION_DENIED, list: OK }),
  );
  await runProperty('grpc unauthenticated and wrong-role callers', fc.tuple(caller, unicodeString), async ([who, data]) => {
    await expectAnswer('SubmitTask', await unary('SubmitTask', { data: `fuzz ${data}`, scheduled_at: 0 }, who.token), [who.submit]);
    await expectAnswer('ListWorkers', await unary('ListWorkers', {}, who.token), [who.list]);
  }, 40);
});

test('bytes that are no protobuf message never reach a handler, and change nothing', async () => {
  const service = (grpcApi().CoordinatorService as unknown as { service: Record<string, { path: string; requestStream: boolean }> }).service;
  const bytes = fc.uint8Array({ minLength: 1, maxLength: 64 });
  const send = (method: string, payload: Uint8Array) => {
    const { path, requestStream } = service[method];
    const raw = (buffer: Buffer) => buffer;
    return new Promise<Outcome>((resolve) => {
      const done = (err: grpc.ServiceError | null) => resolve(err ? { code: err.code, details: err.details } : { code: OK, details: '' });
      if (!requestStream) {
        client.makeUnaryRequest(path, raw, raw, Buffer.from(payload), metadata(), { deadline: Date.now() + 5000 }, done);
        return;
      }
      const call = client.makeBidiStreamRequest(path, raw, raw, metadata(), { deadline: Date.now() + 5000 });
      call.on('data', () => {});
      call.on('error', done);
      call.on('status', (status) => status.code === OK && done(null));
      call.write(Buffer.from(payload));
      call.end();
    });
  };
  // 0xff starts a field with an unfinished varint key: no message of any type.
  for (const method of ['SubmitTask', 'Connect']) {
    expect(await send(method, Uint8Array.of(0xff))).toEqual({ code: INVALID_ARGUMENT, details: expect.stringMatching(new RegExp(`^the request is not a valid ${method} message: `)) });
  }
  await runProperty('grpc raw bytes, every method', fc.tuple(fc.constantFrom(...Object.keys(service)), bytes), async ([method, payload]) => {
    const outcome = await send(method, payload);
    // Bytes that happen to decode as a valid request are served (OK, and may write, as any valid call may).
    // Others are INVALID_ARGUMENT naming the method: grpc-js alone would answer INTERNAL "Error deserializing
    // request" before any handler ran (server.ts keeps the decode failure for the handler instead).
    await expectAnswer(`${method} raw ${Buffer.from(payload).toString('hex')}`, outcome, [OK, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION], true);
    if (outcome.code === INVALID_ARGUMENT && /not a valid/.test(outcome.details)) {
      expect(outcome.details).toMatch(new RegExp(`^the request is not a valid ${method} message: `));
    }
  }, 120);
});

test('regressions the fuzzing found', async () => {
  const cases: Array<[string, unknown, grpc.status]> = [
    // A declared schedule whose payload holds a NUL escape, or nests 10k deep, failed its insert: INTERNAL.
    ['SendHeartbeat', { ...heartbeat(freshWorker()), schedules: [{ ...DECLARATION, payload: '{"a":"\\u0000"}' }] }, INVALID_ARGUMENT],
    ['SendHeartbeat', { ...heartbeat(freshWorker()), schedules: [{ ...DECLARATION, payload: deepJson(10_000) }] }, INVALID_ARGUMENT],
    // A cron pattern of more than 200 characters broke the schedules table's check: INTERNAL.
    ['SendHeartbeat', { ...heartbeat(freshWorker()), schedules: [{ ...DECLARATION, cron: `0 9 * * ${Array.from({ length: 100 }, () => '1').join(',')}` }] }, INVALID_ARGUMENT],
    // scheduled_at past Date's range (about 8.64e12 s) reached the insert as an invalid time: INTERNAL.
    ['SubmitTask', { data: 'fuzz', scheduled_at: 2 ** 53 - 1 }, INVALID_ARGUMENT],
  ];
  for (const [method, request, code] of cases) await expectAnswer(`${method} regression`, await unary(method, request), [code]);
  // An `accepted` before any heartbeat was ignored, and the stream ended OK without a worker.
  const connect = await stream('Connect', [{ seq: 1, accepted: { results: [] } }]);
  await expectAnswer('Connect regression', connect, [INVALID_ARGUMENT]);
  console.log(`fuzz: grpc regressions ${cases.length + 1} cases (seed ${SEED})`);
});
