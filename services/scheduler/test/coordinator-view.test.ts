import { StreamWorker } from '../../coordinator/test/stream-worker';
import { coordinatorView } from '../src/coordinator-view';
import { startTestCoordinator, type TestCoordinator } from '../../../test/helpers/coordinator';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { freePort } from '../../../test/helpers/ports';

/*
 * With several coordinators each knows only the workers connected to it: the scheduler's view asks every
 * address the coordinators' name resolves to (a headless Service in the chart; a resolver stands in for
 * DNS here) and merges the answers.
 */

let db: TestDatabase;
const coordinators: TestCoordinator[] = [];
const workers: StreamWorker[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  for (let i = 0; i < 2; i++) coordinators.push(await startTestCoordinator(db, { HEARTBEAT_INTERVAL: '1s' }));
  for (const [i, { client }] of coordinators.entries()) {
    const worker = new StreamWorker(client, 701 + i, { handles: [`name-${i}`], command_tasks: false });
    await worker.beat([]);
    workers.push(worker);
  }
});
afterAll(async () => {
  for (const worker of workers) worker.close();
  for (const coordinator of coordinators) await coordinator.stop();
  await db.drop();
});

test('lists the workers of every coordinator the address resolves to, and of those that answer when one is down', async () => {
  const targets = coordinators.map((c) => c.address);
  const view = coordinatorView('coordinators.example:8080', 2000, async () => targets);
  try {
    const listed = await view.listWorkers();
    expect(listed?.map((w) => [w.workerId, w.handles]).sort()).toEqual([[701, ['name-0']], [702, ['name-1']]]);
  } finally {
    view.close();
  }
  const withDown = coordinatorView('coordinators.example:8080', 500, async () => [targets[0], `127.0.0.1:${await freePort()}`]);
  try {
    expect((await withDown.listWorkers())?.map((w) => w.workerId)).toEqual([701]);
  } finally {
    withDown.close();
  }
  const allDown = coordinatorView('coordinators.example:8080', 500, async () => [`127.0.0.1:${await freePort()}`]);
  try {
    expect(await allDown.listWorkers()).toBeNull();
  } finally {
    allDown.close();
  }
});

test('resolves the address\'s name itself: localhost reaches the coordinator listening on 127.0.0.1', async () => {
  const view = coordinatorView(`localhost:${coordinators[0].coordinator.port}`);
  try {
    expect((await view.listWorkers())?.map((w) => w.workerId)).toEqual([701]);
  } finally {
    view.close();
  }
});
