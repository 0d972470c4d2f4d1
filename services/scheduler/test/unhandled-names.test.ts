import { createCoordinatorClient, type CoordinatorServiceClient } from '../../common/src/grpc/contract';
import { StreamWorker } from '../../coordinator/test/stream-worker';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';

/*
 * A task whose name no live worker runs stays pending and says so: /api/stats lists its name, and
 * /api/workers shows which names each worker runs.
 */

let scheduler: SchedulerUnderTest;
let client: CoordinatorServiceClient;

useSchedulerApp({}, (running) => {
  ({ app: scheduler } = running);
  client = createCoordinatorClient(`127.0.0.1:${scheduler.coordinator.port}`);
});
afterAll(() => client.close());

test('stats name the pending tasks no live worker runs; workers list the names they run', async () => {
  const worker = new StreamWorker(client, 801, { name: 'resizer-1', handles: ['resize-image'], command_tasks: false });
  try {
    await worker.beat([]);
    for (const name of ['send-email', 'send-email', 'resize-image']) {
      expect((await request(`${scheduler.url}/api/tasks`, { body: { name, payload: {}, scheduled_at: '2099-01-01T00:00:00Z' } })).status).toBe(201);
    }
    const stats = await request(`${scheduler.url}/api/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body.unhandled).toEqual([{ name: 'send-email', pending: 2 }]);
    const workers = await request(`${scheduler.url}/api/workers`);
    expect(workers.body.workers.find((w: { name: string }) => w.name === 'resizer-1')).toMatchObject({ handles: ['resize-image'], command_tasks: false });
  } finally {
    worker.close();
  }
});
