import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { callUnary, createCoordinatorClient, type CoordinatorServiceClient, type UpdateTaskStatusRequest } from '../../services/common/src/grpc/contract';
import { startWorker, type Worker } from '../../services/sdk/src/worker/start-worker';
import { defineTask } from '../../services/sdk/src/define-task';
import { createTestCa, type TestCa } from '../helpers/certificates';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { FAST_TIMINGS, startService, type ServiceProcess } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/*
 * Mutual TLS between real processes (issue 13, docs/security.md): a coordinator serving TLS with client
 * certificates and, beside it, a plaintext port for original workers; a scheduler and SDK workers with their
 * own certificates, all signed by a CA made here with openssl. Who may call what is decided by the
 * certificate's OU, a worker id stays with the certificate that first used it, and a rotated certificate is
 * served without a restart.
 */

const OPERATOR_TOKEN = 'grpc-operator-token';
const VIEWER_TOKEN = 'grpc-viewer-token';

let db: TestDatabase;
let ca: TestCa;
let rogue: TestCa;
let coordinator: ServiceProcess;
let scheduler: ServiceProcess;
let tlsAddress: string;
let plaintextAddress: string;
let schedulerUrl: string;
const workers: Worker[] = [];
const clients: grpc.Client[] = [];

const tlsOf = (name: string, authority: TestCa = ca) => {
  const { cert, key } = authority.issue(name, { ous: name.startsWith('worker') ? ['worker'] : name.startsWith('scheduler') ? ['scheduler'] : ['client'] });
  return { ca: ca.caFile, cert, key, serverName: 'coordinator.test' };
};

function client(address: string, security: Parameters<typeof createCoordinatorClient>[1] = {}): CoordinatorServiceClient {
  const created = createCoordinatorClient(address, security);
  clients.push(created);
  return created;
}

const beat = (c: CoordinatorServiceClient, workerId: number, extra: Record<string, unknown> = {}) =>
  callUnary(c, c.SendHeartbeat, { workerId, address: '127.0.0.1:1', slots_total: 2, reports_held: true, ...extra }, 5000);
/** A report as a worker sends it; proto-loader fills in the fields left out. */
const reportOf = (taskId: string, workerId: number) =>
  ({ task_id: taskId, status: 'COMPLETE', attempt: 1, worker_id: workerId }) as unknown as UpdateTaskStatusRequest;
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'OK', (err: grpc.ServiceError) => grpc.status[err.code]);

beforeAll(async () => {
  db = await createTestDatabase();
  ca = createTestCa();
  rogue = createTestCa('Somebody else');
  ca.issue('coordinator', { dns: ['coordinator.test', 'localhost'], ips: ['127.0.0.1'] });
  const [port, plainPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  tlsAddress = `127.0.0.1:${port}`;
  plaintextAddress = `127.0.0.1:${plainPort}`;
  coordinator = startService('coordinator', {
    ...FAST_TIMINGS, ...db.env,
    COORDINATOR_PORT: String(port),
    GRPC_PLAINTEXT_PORT: String(plainPort),
    GRPC_TLS_CA: ca.caFile,
    GRPC_TLS_CERT: `${ca.dir}/coordinator.crt`,
    GRPC_TLS_KEY: `${ca.dir}/coordinator.key`,
    GRPC_TLS_RELOAD: '200ms',
    API_TOKENS: `operator:ci:${OPERATOR_TOKEN},viewer:grafana:${VIEWER_TOKEN}`,
  });
  await coordinator.waitForLog((l) => l.msg === 'coordinator listening');
  const schedulerTls = tlsOf('scheduler');
  scheduler = startService('scheduler', {
    ...db.env,
    SCHEDULER_PORT: String(httpPort),
    COORDINATOR_ADDRESS: tlsAddress,
    SCALER: 'local',
    GRPC_TLS_CA: schedulerTls.ca,
    GRPC_TLS_CERT: schedulerTls.cert,
    GRPC_TLS_KEY: schedulerTls.key,
    GRPC_TLS_SERVER_NAME: 'coordinator.test',
  });
  await scheduler.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduler listening'));
  schedulerUrl = `http://127.0.0.1:${httpPort}`;
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(workers.map((w) => w.stop()));
  await scheduler?.stop();
  await coordinator?.stop();
  await db?.drop();
  ca?.remove();
  rogue?.remove();
});

test('the coordinator says which port is plaintext, at warn', () => {
  const warning = coordinator.warnings.find((l) => typeof l.msg === 'string' && l.msg.includes('GRPC_PLAINTEXT_PORT'));
  expect(warning?.msg).toMatch(/plaintext .*original-contract workers/);
});

test('an SDK worker with a worker certificate runs tasks over mutual TLS; the scheduler lists it with its own certificate', async () => {
  const echo = defineTask({ name: 'tls-echo', run: (payload: { n: number }) => ({ doubled: payload.n * 2 }) });
  const worker = await startWorker({ coordinator: tlsAddress, tls: tlsOf('worker-sdk'), tasks: [echo], name: 'tls-worker', heartbeatIntervalMs: 200 });
  workers.push(worker);
  await waitFor(() => worker.connected, 15_000, 'the TLS worker to connect');
  const [task] = await insertTasks(db.pool, [{ command: '', name: 'tls-echo', payload: { n: 21 }, scheduledAt: new Date() }]);
  await waitFor(async () => (await db.pool.query('SELECT status FROM tasks WHERE id = $1', [task.id])).rows[0].status === 'succeeded', 20_000, 'the task to succeed');
  const { rows: [row] } = await db.pool.query('SELECT result FROM tasks WHERE id = $1', [task.id]);
  expect(row.result).toEqual({ doubled: 42 });
  // The scheduler's ListWorkers went over TLS with OU=scheduler.
  let listed: string[] = [];
  await waitFor(async () => {
    const body = await (await fetch(`${schedulerUrl}/api/workers`)).json() as { workers: Array<{ name: string }> };
    listed = body.workers.map((w) => w.name);
    return listed.includes('tls-worker');
  }, 15_000, () => `the scheduler to list tls-worker (it lists ${JSON.stringify(listed)})`);
});

test('on the TLS port: no certificate, a certificate from another CA, or the wrong OU are refused per method', async () => {
  const anonymousTls = client(tlsAddress, { tls: undefined });
  // Plaintext to a TLS port: no connection at all.
  expect(await codeOf(beat(anonymousTls, 7001))).toBe('UNAVAILABLE');

  const foreign = client(tlsAddress, { tls: { ...tlsOf('worker-foreign', rogue), ca: ca.caFile } });
  expect(await codeOf(beat(foreign, 7002))).toBe('UNAUTHENTICATED');

  const schedulerCert = client(tlsAddress, { tls: tlsOf('scheduler-2') });
  expect(await codeOf(beat(schedulerCert, 7003))).toBe('PERMISSION_DENIED');
  expect(await codeOf(callUnary(schedulerCert, schedulerCert.ListWorkers, {}, 5000))).toBe('OK');

  const workerCert = client(tlsAddress, { tls: tlsOf('worker-lister') });
  expect(await codeOf(callUnary(workerCert, workerCert.ListWorkers, {}, 5000))).toBe('PERMISSION_DENIED');
  expect(await codeOf(callUnary(workerCert, workerCert.SubmitTask, { data: 'noop' }, 5000))).toBe('PERMISSION_DENIED');
  // A client certificate may submit; nothing was written by the refused calls above.
  const clientCert = client(tlsAddress, { tls: tlsOf('ci-client') });
  const before = (await db.pool.query("SELECT count(*)::int AS n FROM tasks WHERE command = 'tls-submitted'")).rows[0].n;
  expect(before).toBe(0);
  expect(await callUnary(clientCert, clientCert.SubmitTask, { data: 'tls-submitted', scheduled_at: 0 }, 5000)).toMatchObject({ message: 'Task submitted' });
});

test('a worker id stays with the certificate that first used it: another worker certificate cannot beat, leave or report as it', async () => {
  const alice = client(tlsAddress, { tls: tlsOf('worker-alice') });
  const mallory = client(tlsAddress, { tls: tlsOf('worker-mallory') });
  const id = 7100;
  expect(await beat(alice, id)).toMatchObject({ acknowledged: true });
  expect(await codeOf(beat(mallory, id))).toBe('PERMISSION_DENIED');
  expect(await codeOf(beat(mallory, id, { leaving: true }))).toBe('PERMISSION_DENIED');
  const report = reportOf('00000000-0000-4000-8000-000000000001', id);
  expect(await codeOf(callUnary(mallory, mallory.UpdateTaskStatus, report, 5000))).toBe('PERMISSION_DENIED');
  expect(await codeOf(callUnary(mallory, mallory.UpdateTaskStatuses, { updates: [report] }, 5000))).toBe('PERMISSION_DENIED');
  // Alice is still there, and still herself; the binding is in the database for every coordinator.
  expect(await beat(alice, id)).toMatchObject({ acknowledged: true });
  const { rows } = await db.pool.query('SELECT identity FROM worker_owners WHERE worker_id = $1', [id]);
  expect(rows).toEqual([{ identity: 'worker-alice' }]);
  expect(await beat(alice, id, { leaving: true })).toMatchObject({ acknowledged: true });
  expect((await db.pool.query('SELECT 1 FROM worker_owners WHERE worker_id = $1', [id])).rowCount).toBe(0);
});

test('a report from a certified worker applies only to attempts sent to that worker', async () => {
  const bob = client(tlsAddress, { tls: tlsOf('worker-bob') });
  const carol = client(tlsAddress, { tls: tlsOf('worker-carol') });
  await beat(bob, 7201);
  await beat(carol, 7202);
  // A task held by Bob's worker (as the claim leaves it), reported done by Carol's under her own id.
  const { rows: [task] } = await db.pool.query(
    "INSERT INTO tasks (command, status, attempt, worker_id, picked_at, scheduled_at) VALUES ('held-by-bob', 'dispatched', 1, 7201, now(), now()) RETURNING id");
  const stolen = await callUnary(carol, carol.UpdateTaskStatuses, { updates: [reportOf(task.id, 7202)] }, 5000);
  expect(stolen.results[0]).toMatchObject({ success: false });
  expect((await db.pool.query('SELECT status FROM tasks WHERE id = $1', [task.id])).rows[0].status).toBe('dispatched');
  const own = await callUnary(bob, bob.UpdateTaskStatuses, { updates: [reportOf(task.id, 7201)] }, 5000);
  expect(own.results[0]).toMatchObject({ success: true });
  await beat(bob, 7201, { leaving: true });
  await beat(carol, 7202, { leaving: true });
});

test('the plaintext port serves worker calls without a certificate, but SubmitTask and ListWorkers need a token', async () => {
  const plain = client(plaintextAddress);
  expect(await beat(plain, 7301, { slots_total: 0 })).toMatchObject({ acknowledged: true });
  // The id an anonymous worker uses is not a certified worker's, and a certified one's is not the anonymous one's.
  expect(await codeOf(beat(client(tlsAddress, { tls: tlsOf('worker-dave') }), 7301))).toBe('PERMISSION_DENIED');
  expect(await codeOf(callUnary(plain, plain.SubmitTask, { data: 'plain-anonymous' }, 5000))).toBe('UNAUTHENTICATED');
  expect(await codeOf(callUnary(plain, plain.ListWorkers, {}, 5000))).toBe('UNAUTHENTICATED');
  const viewer = client(plaintextAddress, { token: VIEWER_TOKEN });
  expect(await codeOf(callUnary(viewer, viewer.ListWorkers, {}, 5000))).toBe('OK');
  expect(await codeOf(callUnary(viewer, viewer.SubmitTask, { data: 'plain-viewer' }, 5000))).toBe('PERMISSION_DENIED');
  const wrong = client(plaintextAddress, { token: 'not-a-token' });
  expect(await codeOf(callUnary(wrong, wrong.SubmitTask, { data: 'plain-wrong' }, 5000))).toBe('UNAUTHENTICATED');
  const operator = client(plaintextAddress, { token: OPERATOR_TOKEN });
  expect(await callUnary(operator, operator.SubmitTask, { data: 'plain-operator', scheduled_at: 0 }, 5000)).toMatchObject({ message: 'Task submitted' });
  const { rows } = await db.pool.query("SELECT command FROM tasks WHERE command LIKE 'plain-%' ORDER BY command");
  expect(rows.map((r) => r.command)).toEqual(['plain-operator']);
  await beat(plain, 7301, { slots_total: 0, leaving: true });
});

test('a message over the 4 MiB limit is RESOURCE_EXHAUSTED for that call only', async () => {
  const operator = client(plaintextAddress, { token: OPERATOR_TOKEN });
  const huge = await codeOf(callUnary(operator, operator.SubmitTask, { data: 'x'.repeat(5 * 1024 * 1024) }, 10_000));
  expect(huge).toBe('RESOURCE_EXHAUSTED');
  expect(await codeOf(callUnary(operator, operator.ListWorkers, {}, 5000))).toBe('OK');
});

/** The serial number of the certificate the coordinator's TLS port presents to a new connection. */
function servedSerial(): Promise<string> {
  const [host, port] = tlsAddress.split(':');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(port), ca: readFileSync(ca.caFile), servername: 'coordinator.test', ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

test('a rotated certificate is served to new connections without a restart', async () => {
  const before = await servedSerial();
  ca.issue('coordinator', { dns: ['coordinator.test', 'localhost'], ips: ['127.0.0.1'] });
  let after = before;
  await waitFor(async () => (after = await servedSerial()) !== before, 10_000, 'the new certificate to be served');
  expect(after).not.toBe(before);
  // Workers connected before keep working, and new ones connect with the new certificate.
  const fresh = client(tlsAddress, { tls: tlsOf('worker-after-rotation') });
  expect(await beat(fresh, 7401)).toMatchObject({ acknowledged: true });
  await beat(fresh, 7401, { leaving: true });
  expect(coordinator.pid).toBeDefined();
});

test('a coordinator on a non-loopback address without TLS refuses to start unless GRPC_INSECURE=true', async () => {
  const refused = startService('coordinator', { ...db.env, BIND_HOST: '0.0.0.0', COORDINATOR_PORT: String(await freePort()) }, 'open-coordinator');
  expect(await refused.exited).toBe(1);
  expect(refused.logs.map((l) => l.msg).join('\n')).toMatch(/BIND_HOST=0\.0\.0\.0 is not a loopback address and gRPC has no TLS: set GRPC_TLS_CA.*GRPC_INSECURE=true/);
});
