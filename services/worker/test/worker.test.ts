import type { WorkerConfig } from '../../common/src/config';
import { createLogger } from '../../common/src/logger';
import type { Worker } from '../../sdk/src/index';
import { FakeCoordinator, taskUuid, waitFor } from '../../sdk/test/fake-coordinator';
import { ConfigError } from '../../common/src/errors';
import { startServiceWorker } from '../src/worker';

const config: WorkerConfig = {
  port: 0,
  address: '127.0.0.1',
  coordinatorAddress: '',
  poolSize: 10,
  queues: [],
  tasks: [],
  taskProcessTimeMs: 30,
  heartbeatIntervalMs: 100,
  drainTimeoutMs: 500,
  defaultTaskTimeoutSeconds: undefined,
  id: 4242,
  name: 'worker-test',
  metricsPort: 0,
  http: { allowHosts: [], maxBodyBytes: 65_536, maxRedirects: 5, defaultTimeoutMs: 10_000 },
  shell: { allowlist: ['echo'], maxOutputBytes: 65_536, defaultTimeoutMs: 10_000, killGraceMs: 1000 },
};

let coordinator: FakeCoordinator;
let worker: Worker;

beforeAll(async () => {
  coordinator = await FakeCoordinator.start();
  worker = await startServiceWorker({ ...config, coordinatorAddress: coordinator.address }, createLogger('worker', 'silent'));
  await waitFor(() => worker.connected, 'the worker to connect');
});

afterAll(async () => {
  await worker.stop();
  coordinator.stop();
});

const outcome = (label: string) => waitFor(() => coordinator.reports.find((r) => r.task_id === taskUuid(label) && r.status !== 'STARTED'), `the outcome of ${label}`);

describe('the shipped worker service', () => {
  test('registers as the SDK runtime: the built-in names, command tasks, its id, name and pool size, no address', () => {
    expect(coordinator.heartbeats[0]).toMatchObject({ workerId: 4242, name: 'worker-test', address: '', slots_total: 10, command_tasks: true, reports_held: true });
    expect([...coordinator.heartbeats[0].handles].sort()).toEqual(['demo-job', 'fail', 'http', 'noop', 'shell', 'sleep']);
    expect(coordinator.heartbeats[0].queues).toEqual([]);
  });

  test("as a worker pool's worker: declares WORKER_QUEUES, runs only the WORKER_TASKS types and no command tasks", async () => {
    const pool = await FakeCoordinator.start();
    const limited = await startServiceWorker(
      { ...config, id: 4343, name: 'reports-worker', coordinatorAddress: pool.address, queues: ['reports', 'exports'], tasks: ['http', 'sleep'] },
      createLogger('worker', 'silent'),
    );
    try {
      await waitFor(() => pool.heartbeats[0], 'the pool worker to beat');
      expect(pool.heartbeats[0]).toMatchObject({ queues: ['reports', 'exports'], command_tasks: false });
      expect([...pool.heartbeats[0].handles].sort()).toEqual(['http', 'sleep']);
    } finally {
      await limited.stop();
      pool.stop();
    }
  });

  test('refuses a WORKER_TASKS name that is no built-in type, naming the variable, before connecting', () => {
    const start = () => startServiceWorker({ ...config, tasks: ['resize-images'] }, createLogger('worker', 'silent'));
    expect(start).toThrow(ConfigError);
    expect(start).toThrow(/WORKER_TASKS names resize-images/);
  });

  test('runs the built-in task types by name, with their payloads checked', async () => {
    const answers = await coordinator.sendTasks([
      { task_id: taskUuid('n1'), attempt: 1, name: 'noop' },
      { task_id: taskUuid('s1'), attempt: 1, name: 'sleep', payload: '{"seconds":0.01}' },
      { task_id: taskUuid('s2'), attempt: 1, name: 'sleep', payload: '{"seconds":"soon"}' },
      { task_id: taskUuid('f1'), attempt: 1, name: 'fail', payload: '{"message":"disk full"}' },
      { task_id: taskUuid('d1'), attempt: 1, name: 'demo-job' },
    ]);
    expect(answers.every((answer) => answer.success)).toBe(true);
    expect(await outcome('n1')).toMatchObject({ status: 'COMPLETE', result: '"ok"', worker_id: 4242 });
    expect(await outcome('s1')).toMatchObject({ status: 'COMPLETE', result: '"slept 0.01s"' });
    expect((await outcome('s2')).error).toMatch(/does not match the schema of "sleep": seconds/);
    expect(await outcome('f1')).toMatchObject({ status: 'FAILED', error: 'disk full' });
    expect(await outcome('d1')).toMatchObject({ status: 'COMPLETE', result: '"demo-job done"' });
  });

  test('runs command tasks as before: noop, sleep, fail, anything else simulated', async () => {
    await coordinator.sendTasks([
      { task_id: taskUuid('c1'), attempt: 1, data: 'noop' },
      { task_id: taskUuid('c2'), attempt: 1, data: 'sleep 0.01' },
      { task_id: taskUuid('c3'), attempt: 1, data: 'fail bad input' },
      { task_id: taskUuid('c4'), attempt: 1, data: 'resize-images' },
    ]);
    expect(await outcome('c1')).toMatchObject({ status: 'COMPLETE', result: '"ok"' });
    expect(await outcome('c2')).toMatchObject({ status: 'COMPLETE', result: '"slept 0.01s"' });
    expect(await outcome('c3')).toMatchObject({ status: 'FAILED', error: 'bad input' });
    expect(await outcome('c4')).toMatchObject({ status: 'COMPLETE', result: '"resize-images done"' });
  });

  test('shell runs by name, or as a command task with a payload', async () => {
    await coordinator.sendTasks([
      { task_id: taskUuid('sh1'), attempt: 1, name: 'shell', payload: '{"argv":["echo","by name"]}' },
      { task_id: taskUuid('sh2'), attempt: 1, data: 'shell', payload: '{"argv":["echo","as a command"]}' },
      { task_id: taskUuid('sh3'), attempt: 1, name: 'shell', payload: '{"argv":["rm","-rf","/tmp/nothing"]}' },
    ]);
    expect(JSON.parse((await outcome('sh1')).result)).toMatchObject({ stdout: 'by name\n' });
    expect(JSON.parse((await outcome('sh2')).result)).toMatchObject({ stdout: 'as a command\n' });
    expect(await outcome('sh3')).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/"rm" is not in SHELL_ALLOWLIST/) });
  });
});
