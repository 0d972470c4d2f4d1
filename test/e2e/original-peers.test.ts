import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { describeWithGoPeers, startGoPeer, type GoPeer, type GoPeerEvent } from '../helpers/go-peers';
import { startCluster, startService, type Cluster, type ServiceProcess } from '../helpers/processes';
import { request } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * Our services against peers built from the original contract only, with grpc-go (test/go-peers): the wire
 * compatibility DESIGN.md §3 promises, both ways (docs/protocol.md, "Compatibility").
 */
describeWithGoPeers('original-contract peers', () => {
  const started: Array<GoPeer | ServiceProcess> = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((peer) => peer.stop('SIGKILL')));
  });

  test('our worker takes tasks from an original coordinator and reports each with the unary UpdateTaskStatus, with no GOAWAY', async () => {
    const tasks = 10;
    const coordinator = startGoPeer('original-coordinator', ['-host', '127.0.0.1', '-dispatch', String(tasks), '-data', 'noop']);
    started.push(coordinator);
    const { port } = await coordinator.waitForEvent((e) => e.event === 'listening');
    // A heartbeat a minute: after the tasks, the connection carries nothing the coordinator answers, which
    // is when pings more frequent than grpc-go's enforcement allows earn GOAWAY (after 3 of them: 40 s at 10 s).
    const worker = startService('worker', {
      COORDINATOR_ADDRESS: `127.0.0.1:${port}`, WORKER_ADDRESS: '127.0.0.1', HEARTBEAT_INTERVAL: '60s', WORKER_NAME: 'ours',
    }, 'worker');
    started.push(worker);
    const connected = await coordinator.waitForEvent((e) => e.event === 'conn_begin');
    await coordinator.waitForEvent((e) => e.event === 'dispatch_done', 20_000);

    const dispatched = new Set(coordinator.events.filter((e) => e.event === 'dispatched' && e.success === true).map((e) => e.task_id as string));
    expect(dispatched.size).toBe(tasks);
    const reports = () => coordinator.events.filter((e) => e.event === 'update_task_status');
    await waitFor(() => reports().length >= 2 * tasks, 20_000, () => `${2 * tasks} reports (${reports().length} came)`);
    const byTask = new Map<string, string[]>();
    for (const report of reports()) byTask.set(report.task_id as string, [...(byTask.get(report.task_id as string) ?? []), report.status as string]);
    expect([...byTask.keys()].sort()).toEqual([...dispatched].sort());
    for (const statuses of byTask.values()) expect(statuses).toEqual(['STARTED', 'COMPLETE']);
    for (const report of reports()) {
      const seconds = report.status === 'STARTED' ? report.started_at : report.completed_at;
      expect(Math.abs((seconds as number) * 1000 - (report.time_ms as number))).toBeLessThan(2000);
    }

    // Idle past the point where the old keepalive (10 s, pings without calls) was answered with GOAWAY.
    await sleep(Math.max(0, (connected.time_ms as number) + 45_000 - Date.now()));
    const connections = (event: string) => coordinator.events.filter((e: GoPeerEvent) => e.event === event);
    expect(connections('conn_begin')).toHaveLength(1);
    expect(connections('conn_end')).toHaveLength(0);
    expect(coordinator.otherLines.filter((line) => /ping/i.test(line))).toEqual([]);
    expect(worker.warnings).toEqual([]);
    expect(reports()).toHaveLength(2 * tasks);
  }, 90_000);

  describe('two original workers against our coordinator', () => {
    let db: TestDatabase;
    let cluster: Cluster;
    beforeAll(async () => {
      db = await createTestDatabase();
      cluster = await startCluster({ databaseEnv: db.env, workers: 0, scheduler: true });
    });
    afterAll(async () => {
      await cluster?.stop();
      await db?.drop();
    });

    test('30 tasks, one worker killed mid-task: each succeeds once, none starts before it is due, no slot stays busy', async () => {
      // Listening on ::1, each advertises [::]:PORT as the original does; dialling :: reaches loopback.
      const args = ['-coordinator', cluster.coordinatorAddress, '-host', '::1', '-heartbeat', '1s', '-task-duration', '1s'];
      const [victim, survivor] = [startGoPeer('original-worker', args), startGoPeer('original-worker', args)];
      started.push(victim, survivor);
      await Promise.all([victim, survivor].map((peer) => peer.waitForEvent((e) => e.event === 'heartbeat')));

      const batch = await request(`${cluster.schedulerUrl}/api/schedule/batch`, { body: { command: 'demo-job', count: 30 } });
      expect(batch.status).toBe(201);
      await victim.waitForEvent((e) => e.event === 'reported' && e.status === 'STARTED', 20_000);
      victim.child.kill('SIGKILL');
      await victim.exited;
      // What it received and never reported COMPLETE for: the tasks that must be handed to the survivor.
      const finished = new Set(victim.events.filter((e) => e.event === 'reported' && e.status === 'COMPLETE').map((e) => e.task_id));
      const lost = victim.events.filter((e) => e.event === 'received' && !finished.has(e.task_id)).map((e) => e.task_id as string);
      expect(lost.length).toBeGreaterThan(0);

      let state = '';
      await waitFor(async () => {
        const { rows } = await db.pool.query('SELECT status, count(*)::int AS n FROM tasks GROUP BY status ORDER BY status');
        const workers = (await request(`${cluster.schedulerUrl}/api/workers`)).body.workers as Array<{ name: string; slots_busy?: number }>;
        state = `tasks ${JSON.stringify(Object.fromEntries(rows.map((row) => [row.status, row.n])))}, slots_busy ${JSON.stringify(workers.map((w) => [w.name, w.slots_busy]))}`;
        return rows.length === 1 && rows[0].status === 'succeeded' && rows[0].n === 30;
      }, 60_000, () => `all 30 tasks to succeed (${state})`);
      const { rows: completions } = await db.pool.query("SELECT task_id, count(*)::int AS n FROM events WHERE type = 'completed' GROUP BY task_id");
      expect(completions).toHaveLength(30);
      expect(completions.filter((row) => row.n !== 1)).toEqual([]);
      const { rows: handedBack } = await db.pool.query("SELECT DISTINCT task_id FROM events WHERE type = 'reassigned' AND task_id = ANY($1)", [lost]);
      expect(handedBack.map((row) => row.task_id).sort()).toEqual([...lost].sort());
      const { rows: early } = await db.pool.query('SELECT id, scheduled_at, started_at FROM tasks WHERE started_at < scheduled_at');
      expect(early).toEqual([]);

      let workers: Array<{ name: string; slots_busy?: number }> = [];
      await waitFor(async () => {
        workers = (await request(`${cluster.schedulerUrl}/api/workers`)).body.workers;
        return workers.length > 0 && workers.every((w) => w.slots_busy === 0);
      }, 15_000, () => `every slots_busy 0 (${JSON.stringify(workers.map((w) => [w.name, w.slots_busy]))})`);
      expect(cluster.coordinator.warnings.filter((line) => /ping/i.test(String(line.msg)))).toEqual([]);
    }, 120_000);
  });

  test('a run with original workers shows no warnings: each of 10 tasks succeeds once, and no service logs a warning', async () => {
    const db = await createTestDatabase();
    const cluster = await startCluster({ databaseEnv: db.env, workers: 0, scheduler: true });
    try {
      const args = ['-coordinator', cluster.coordinatorAddress, '-host', '::1', '-heartbeat', '1s', '-task-duration', '200ms'];
      const peers = [startGoPeer('original-worker', args), startGoPeer('original-worker', args)];
      started.push(...peers);
      await Promise.all(peers.map((peer) => peer.waitForEvent((e) => e.event === 'heartbeat')));
      expect((await request(`${cluster.schedulerUrl}/api/schedule/batch`, { body: { command: 'demo-job', count: 10 } })).status).toBe(201);
      await waitFor(async () => {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM tasks WHERE status = 'succeeded'`);
        return rows[0].n === 10;
      }, 30_000, 'the 10 tasks to succeed');
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n, count(DISTINCT task_id)::int AS tasks FROM events WHERE type = 'completed'`);
      expect(rows[0]).toEqual({ n: 10, tasks: 10 });
      expect(cluster.coordinator.warnings).toEqual([]);
      expect(cluster.scheduler?.warnings).toEqual([]);
    } finally {
      await cluster.stop();
      await db.drop();
    }
  }, 60_000);
});
