/**
 * TaskSchedule resources reconciled into schedules, against a real kube-apiserver (envtest) and the real
 * PostgreSQL: the CRD from the chart's crds/, the reconciler authenticated as the scheduler's ServiceAccount
 * with exactly the Role the chart renders (templates/scheduler/taskschedule-rbac.yaml), `kubectl` for what an
 * operator does, a real coordinator firing the schedules and an SDK worker running their tasks. Skipped with a
 * warning when the control plane binaries are missing (`bash scripts/build-testbin.sh`).
 */
import { join } from 'node:path';
import { loadConfig } from '../../common/src/config';
import { saveSchedule } from '../../common/src/db/schedules';
import { createLogger } from '../../common/src/logger';
import { defineTask } from '../../sdk/src/define-task';
import { startWorker, type Worker } from '../../sdk/src/worker/start-worker';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../../../test/helpers/envtest';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { CHART_DIR, runTool, templateArgs } from '../../../test/helpers/helm';
import { request, startSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { waitFor } from '../../../test/helpers/wait';
import { loadKubernetesClient, type KubeConfig } from '../src/scaler/kube-client';
import { LeaseLeaderElector } from '../src/scaler/leader-election';
import type { TaskSchedule } from '../src/taskschedules/task-schedule';
import { KubernetesTaskScheduleApi } from '../src/taskschedules/task-schedule-client';
import { TaskScheduleController } from '../src/taskschedules/task-schedule-controller';
import { TaskScheduleReconciler } from '../src/taskschedules/task-schedule-reconciler';
import { startTaskSchedules } from '../src/taskschedules/start-task-schedules';

const NAMESPACE = 'schedules';
const SERVICE_ACCOUNT = 'tm-taskmaster-scheduler';
const LEASE = 'tm-taskmaster-taskschedules';
const CRD = join(CHART_DIR, 'crds', 'taskschedules.yaml');
const logger = createLogger('test', 'silent');

interface ScheduleRowSeen {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  payload: unknown;
  queue: string;
  priority: number;
  overlap: string;
  paused: boolean;
  source: string;
  next_run_at: Date | null;
}

describeIfControlPlane('TaskSchedule resources on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let db: TestDatabase;
  let app: SchedulerUnderTest;
  let worker: Worker;
  let kubeConfig: KubeConfig;
  const controllers: TaskScheduleController[] = [];
  const ran: unknown[] = [];

  const kubectl = (args: string[], input?: string) => runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, '-n', NAMESPACE, ...args], { input });
  const ok = <T extends { status: number | null; stdout: string; stderr: string }>(result: T): T => {
    if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr || result.stdout}`);
    return result;
  };
  const apply = (name: string, spec: Record<string, unknown>) =>
    ok(kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'taskmaster.dev/v1alpha1', kind: 'TaskSchedule', metadata: { name }, spec })));
  const resource = (name: string): TaskSchedule => JSON.parse(ok(kubectl(['get', 'taskschedule', name, '-o', 'json'])).stdout);
  const ready = (name: string) => resource(name).status?.conditions?.find((condition) => condition.type === 'Ready');
  const row = async (name: string): Promise<ScheduleRowSeen | undefined> =>
    (await db.pool.query<ScheduleRowSeen>('SELECT * FROM schedules WHERE key = $1', [`k8s:${NAMESPACE}:${name}`])).rows[0];

  /** A reconciler as the scheduler builds it (start-task-schedules.ts), with short intervals for the test. */
  const startController = async (identity: string): Promise<TaskScheduleController> => {
    const api = await KubernetesTaskScheduleApi.create(kubeConfig, NAMESPACE);
    const elector = await LeaseLeaderElector.create({ kubeConfig, namespace: NAMESPACE, name: LEASE, identity, leaseDurationMs: 3000, purpose: 'TaskSchedule reconciler', logger });
    const reconciler = new TaskScheduleReconciler({
      pool: db.pool, namespace: NAMESPACE, writeStatus: (name, patch) => api.patchStatus(name, patch), limits: { payloadMaxBytes: 1024 }, logger,
    });
    const controller = new TaskScheduleController({ api, reconciler, elector, leaseCheckMs: 500, resyncMs: 2000, statusIntervalMs: 300, logger });
    controllers.push(controller);
    await controller.start();
    return controller;
  };

  beforeAll(async () => {
    cp = await startControlPlane();
    ok(runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'apply', '--server-side', '-f', CRD]));
    ok(runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'wait', '--for=condition=Established', 'crd/taskschedules.taskmaster.dev', '--timeout=60s']));
    ok(runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'create', 'namespace', NAMESPACE]));
    ok(kubectl(['create', 'serviceaccount', SERVICE_ACCOUNT]));
    // The chart's own Role and RoleBinding: the reconciler below has exactly what an install grants.
    const rbac = ok(runTool('helm', [
      ...templateArgs({ namespace: NAMESPACE, set: { 'scheduler.taskSchedules.enabled': true } }), '--show-only', 'templates/scheduler/taskschedule-rbac.yaml',
    ])).stdout;
    ok(kubectl(['apply', '-f', '-'], rbac));
    const minted = await apiRequest<{ status: { token: string } }>(cp, 'POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 },
    });
    expect(minted.status).toBe(201);
    const { KubeConfig } = await loadKubernetesClient();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'envtest', server: cp.server, caData: cp.caData && Buffer.from(cp.caData).toString('base64'), skipTLSVerify: cp.skipTLSVerify }],
      users: [{ name: SERVICE_ACCOUNT, token: minted.body.status.token }],
      contexts: [{ name: 'scheduler', cluster: 'envtest', user: SERVICE_ACCOUNT, namespace: NAMESPACE }],
      currentContext: 'scheduler',
    });

    db = await createTestDatabase();
    app = await startSchedulerApp(db);
    const tick = defineTask({ name: 'ts-tick', run: (payload: unknown) => void ran.push(payload) });
    worker = await startWorker({ coordinator: app.coordinatorAddress, tasks: [tick], slots: 2, heartbeatIntervalMs: 500, logger });
    await startController('scheduler-a');
  }, 180_000);

  afterAll(async () => {
    for (const controller of controllers) await controller.stop();
    await worker?.stop();
    await app?.stop();
    await db?.drop();
    await cp?.stop();
  }, 60_000);

  test('a TaskSchedule becomes a schedule owned by Kubernetes, fires, and shows Ready, nextRunAt, lastRunAt and lastResult', async () => {
    apply('tick', { task: 'ts-tick', cron: '* * * * * *', payload: { from: 'kubernetes', n: [1, 2] }, queue: 'default', priority: 5 });
    await waitFor(async () => (await row('tick')) !== undefined, 10_000, 'the schedule row of TaskSchedule tick');
    expect(await row('tick')).toMatchObject({ name: 'ts-tick', cron: '* * * * * *', timezone: 'UTC', payload: { from: 'kubernetes', n: [1, 2] }, priority: 5, source: 'kubernetes', paused: false });

    await waitFor(() => ready('tick')?.status === 'True', 10_000, 'Ready=True');
    const shown = resource('tick');
    expect(shown.status).toMatchObject({ observedGeneration: 1, scheduleId: (await row('tick'))!.id });
    expect(ready('tick')).toMatchObject({ reason: 'Scheduled', observedGeneration: 1 });
    expect(Date.parse(shown.status!.nextRunAt!)).toBeGreaterThan(Date.now() - 5000);

    // The coordinator fires it every second and the worker runs each task with the resource's payload.
    await waitFor(() => resource('tick').status?.lastResult === 'Succeeded', 20_000, 'lastResult Succeeded');
    expect(ran[0]).toEqual({ from: 'kubernetes', n: [1, 2] });
    const status = resource('tick').status!;
    expect(Date.parse(status.lastRunAt!)).toBeLessThanOrEqual(Date.now());
    const { rows: [task] } = await db.pool.query('SELECT name, status, idempotency_key FROM tasks WHERE id = $1', [status.lastTaskId]);
    expect(task).toMatchObject({ name: 'ts-tick', status: 'succeeded', idempotency_key: expect.stringMatching(`^schedule:${status.scheduleId}:`) });
  });

  test('kubectl get taskschedules shows the printer columns', async () => {
    const table = ok(kubectl(['get', 'taskschedules'])).stdout.trim().split('\n');
    expect(table[0].split(/\s{2,}/)).toEqual(['NAME', 'CRON', 'SUSPEND', 'NEXT RUN', 'LAST RESULT', 'READY', 'AGE']);
    const tick = table.find((line) => line.startsWith('tick '))!.split(/\s{2,}/);
    // suspend defaults to false in the CRD, so the column is never empty.
    expect(tick.slice(0, 3)).toEqual(['tick', '* * * * * *', 'false']);
    expect(tick[3]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(tick.slice(4, 6)).toEqual(['Succeeded', 'True']);
    const wide = ok(kubectl(['get', 'tsched', '-o', 'wide'])).stdout.split('\n')[0];
    expect(wide).toMatch(/TASK\s+LAST RUN$/);
  });

  test('an API change of a resource-owned schedule is refused with 409 naming the TaskSchedule', async () => {
    const { id } = (await row('tick'))!;
    const managed = new RegExp(`managed by the TaskSchedule ${NAMESPACE}/tick`);
    for (const [path, init] of [
      [`/api/schedules/${id}/pause`, { method: 'POST' }],
      [`/api/schedules/${id}/resume`, { method: 'POST' }],
      [`/api/schedules/${id}`, { method: 'DELETE' }],
      ['/api/schedules', { body: { key: `k8s:${NAMESPACE}:tick`, name: 'other', cron: '0 0 * * *' } }],
    ] as const) {
      const response = await request(`${app.url}${path}`, init);
      expect({ path, status: response.status }).toEqual({ path, status: 409 });
      expect(response.body.error.message).toMatch(managed);
    }
    expect(await row('tick')).toMatchObject({ id, name: 'ts-tick', paused: false });
    const listed = await request(`${app.url}/api/schedules/${id}`);
    expect(listed.body).toMatchObject({ source: 'kubernetes', key: `k8s:${NAMESPACE}:tick` });
  });

  test('an edit updates the schedule; suspend pauses it and resuming starts from the next occurrence', async () => {
    const { id } = (await row('tick'))!;
    apply('tick', { task: 'ts-tick', cron: '0 3 * * *', timezone: 'Europe/Paris', payload: { v: 2 }, overlap: 'skip', suspend: true });
    await waitFor(async () => (await row('tick'))?.cron === '0 3 * * *', 10_000, 'the edited cron');
    expect(await row('tick')).toMatchObject({ id, timezone: 'Europe/Paris', payload: { v: 2 }, overlap: 'skip', priority: 0, paused: true });
    await waitFor(() => ready('tick')?.reason === 'Suspended', 10_000, 'reason Suspended');
    const suspended = resource('tick').status!;
    expect(suspended.observedGeneration).toBe(2);
    expect(suspended.nextRunAt).toBeUndefined();
    // The last finished run stays shown.
    expect(suspended.lastResult).toBe('Succeeded');

    apply('tick', { task: 'ts-tick', cron: '0 3 * * *', timezone: 'Europe/Paris', payload: { v: 2 }, overlap: 'skip', suspend: false });
    await waitFor(async () => (await row('tick'))?.paused === false, 10_000, 'the schedule resumed');
    const next = (await row('tick'))!.next_run_at!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    // 03:00 in Paris is 01:00 or 02:00 UTC.
    expect([1, 2]).toContain(next.getUTCHours());
    await waitFor(() => resource('tick').status?.nextRunAt === next.toISOString(), 10_000, 'nextRunAt of the resumed schedule');
  });

  test('an invalid spec is Ready=False with the validation message: nothing is written, and an existing schedule keeps its settings', async () => {
    apply('broken', { task: 'ts-tick', cron: '61 * * * *' });
    await waitFor(() => ready('broken')?.status === 'False', 10_000, 'Ready=False of broken');
    expect(ready('broken')).toMatchObject({ reason: 'InvalidSpec', message: expect.stringMatching(/^spec\.cron is not a cron pattern: .*minute.*; no schedule is made$/) });
    expect(await row('broken')).toBeUndefined();

    const before = await row('tick');
    apply('tick', { task: 'ts-tick', cron: '0 3 * * *', timezone: 'Mars/Olympus' });
    await waitFor(() => ready('tick')?.status === 'False', 10_000, 'Ready=False of tick');
    expect(ready('tick')!.message).toMatch(/^spec\.timezone must be an IANA time zone .*; the schedule keeps its last valid settings$/);
    expect(resource('tick').status!.observedGeneration).toBe(4);
    expect(await row('tick')).toEqual(before);

    // What the CRD's schema says is refused by the API server itself, before the reconciler sees it.
    const refused = kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'taskmaster.dev/v1alpha1', kind: 'TaskSchedule', metadata: { name: 'refused' }, spec: { task: 'Bad Name', cron: '* * * * *', overlap: 'queue' } }));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/spec\.task.*should match/);
    expect(refused.stderr).toMatch(/spec\.overlap.*Unsupported value: "queue"/);

    // Fixed, it is in force again.
    apply('broken', { task: 'ts-tick', cron: '1 * * * *' });
    await waitFor(async () => (await row('broken'))?.cron === '1 * * * *' && ready('broken')?.status === 'True', 10_000, 'broken fixed');
  });

  test('a key another source holds is not taken over: Ready=False, KeyInUse', async () => {
    const made = await request(`${app.url}/api/schedules`, { body: { key: `k8s:${NAMESPACE}:taken`, name: 'by-api', cron: '0 0 * * *' } });
    expect(made.status).toBe(201);
    apply('taken', { task: 'ts-tick', cron: '0 1 * * *' });
    await waitFor(() => ready('taken')?.status === 'False', 10_000, 'Ready=False of taken');
    expect(ready('taken')).toMatchObject({ reason: 'KeyInUse', message: expect.stringContaining('no TaskSchedule made') });
    expect(await row('taken')).toMatchObject({ name: 'by-api', cron: '0 0 * * *', source: 'api' });
    expect(resource('taken').status!.scheduleId).toBeUndefined();
  });

  test('deleting the resource deletes its schedule; a resync deletes the schedules of resources deleted unseen', async () => {
    ok(kubectl(['delete', 'taskschedule', 'broken']));
    await waitFor(async () => (await row('broken')) === undefined, 10_000, 'the schedule of broken deleted');

    // As if a resource had been deleted while no scheduler ran: its schedule is left, and only it goes.
    const ghost = await saveSchedule(db.pool, { key: `k8s:${NAMESPACE}:ghost`, name: 'ts-tick', cron: '0 0 * * *', timezone: 'UTC' }, 'kubernetes');
    const elsewhere = await saveSchedule(db.pool, { key: 'k8s:another-namespace:ghost', name: 'ts-tick', cron: '0 0 * * *', timezone: 'UTC' }, 'kubernetes');
    await waitFor(async () => (await row('ghost')) === undefined, 10_000, 'the orphaned schedule deleted by a resync');
    const { rows } = await db.pool.query('SELECT id FROM schedules WHERE id = ANY($1)', [[ghost.id, elsewhere.id]]);
    expect(rows).toEqual([{ id: elsewhere.id }]);
    expect(await row('tick')).toBeDefined();
    expect(await row('taken')).toMatchObject({ source: 'api' });
  });

  test('one replica reconciles; another takes over when it stops', async () => {
    const second = await startController('scheduler-b');
    expect(controllers[0].isLeading).toBe(true);
    expect(second.isLeading).toBe(false);
    await controllers[0].stop();
    // The first gave the Lease up on stop, so the second leads at its next check rather than after expiry.
    await waitFor(() => second.isLeading, 10_000, 'the second replica leading');
    apply('after-takeover', { task: 'ts-tick', cron: '0 2 * * *' });
    await waitFor(async () => (await row('after-takeover'))?.cron === '0 2 * * *', 10_000, 'a resource reconciled by the new leader');
    await waitFor(() => ready('after-takeover')?.status === 'True', 10_000, 'its Ready=True');
  });

  test('the scheduler starts it from its configuration (TASK_SCHEDULES_*, KUBECONFIG), and not at all when it is off', async () => {
    expect(await startTaskSchedules(loadConfig({}), { pool: db.pool, logger })).toBeUndefined();
    const admin = (args: string[], input?: string) => ok(runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { input }));
    admin(['create', 'namespace', 'wired']);
    const config = loadConfig({
      TASK_SCHEDULES_ENABLED: 'true', TASK_SCHEDULES_NAMESPACE: 'wired', TASK_SCHEDULES_STATUS_INTERVAL: '300ms', KUBECONFIG: cp.kubeconfigPath, POD_NAME: 'scheduler-wired',
    });
    const controller = (await startTaskSchedules(config, { pool: db.pool, logger }))!;
    controllers.push(controller);
    expect(controller.isLeading).toBe(true);
    admin(['apply', '-n', 'wired', '-f', '-'], JSON.stringify({ apiVersion: 'taskmaster.dev/v1alpha1', kind: 'TaskSchedule', metadata: { name: 'hourly' }, spec: { task: 'ts-tick', cron: '0 * * * *' } }));
    await waitFor(async () => (await db.pool.query("SELECT cron FROM schedules WHERE key = 'k8s:wired:hourly'")).rows[0]?.cron === '0 * * * *', 10_000, 'the schedule of wired/hourly');
    const lease = JSON.parse(admin(['get', 'lease', 'taskmaster-taskschedules', '-n', 'wired', '-o', 'json']).stdout);
    expect(lease.spec.holderIdentity).toBe('scheduler-wired');
  });
});
