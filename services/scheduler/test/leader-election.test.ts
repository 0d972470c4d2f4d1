/**
 * Lease leader election against a real API server (envtest), as the scheduler ServiceAccount with the chart's
 * Role: concurrent creation, renewal, takeover only after the holder stopped renewing for the lease duration,
 * and a holder that cannot renew stepping down. Skipped with a warning when the control-plane binaries are
 * missing; an error under CI=true.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createLogger } from '../../common/src/logger';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../../../test/helpers/envtest';
import { loadKubernetesClient } from '../src/scaler/kube-client';
import { LeaseLeaderElector } from '../src/scaler/leader-election';
import { LEASE, NAMESPACE, setUpWorkerNamespace, type WorkerNamespace } from './helpers/worker-namespace';

const logger = createLogger('test', 'silent');
const LEASE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeIfControlPlane('LeaseLeaderElector (envtest)', () => {
  let cp: ControlPlane;
  let ns: WorkerNamespace;

  const elector = (identity: string, kubeConfig = ns.kubeConfig) =>
    LeaseLeaderElector.create({ kubeConfig, namespace: NAMESPACE, name: LEASE, identity, leaseDurationMs: LEASE_MS, logger });
  const lease = async () =>
    (await apiRequest<{ spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number } }>(
      cp, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${LEASE}`,
    )).body.spec;

  beforeAll(async () => {
    cp = await startControlPlane({ withControllerManager: true });
    ns = await setUpWorkerNamespace(cp);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  test('of candidates racing to create the Lease exactly one wins, and it keeps renewing', async () => {
    const candidates = await Promise.all(['a', 'b', 'c', 'd'].map((id) => elector(`scheduler-${id}`)));
    const first = await Promise.all(candidates.map((c) => c.check()));
    expect(first.filter(Boolean)).toHaveLength(1);
    const leader = candidates[first.indexOf(true)];
    expect(await lease()).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 2, leaseTransitions: 0 });

    // The leader renews every pass; the others never take over while it does.
    for (let i = 0; i < 6; i++) {
      await sleep(LEASE_MS / 4);
      const round = await Promise.all(candidates.map((c) => c.check()));
      expect(round).toEqual(candidates.map((c) => c === leader));
    }
    await leader.release();
    expect((await lease()).holderIdentity).toBeUndefined();
  }, 60_000);

  test('a holder that stops renewing loses the Lease after its duration, and then steps down itself', async () => {
    const holder = await elector('scheduler-holder');
    const follower = await elector('scheduler-follower');
    expect(await holder.check()).toBe(true);
    expect(await follower.check()).toBe(false);

    // The holder goes silent (a stuck process). The follower waits out the duration by its own clock.
    await sleep(LEASE_MS / 2);
    expect(await follower.check()).toBe(false);
    await sleep(LEASE_MS);
    expect(await follower.check()).toBe(true);
    const taken = await lease();
    expect(taken.holderIdentity).toBe('scheduler-follower');
    expect(taken.leaseTransitions).toBeGreaterThanOrEqual(1);

    // Back from its stall, the old holder sees another holder renewing and does not act.
    expect(await holder.check()).toBe(false);
    expect(await follower.check()).toBe(true);
    await follower.release();
  }, 60_000);

  test('a leader cut off from the API server stops leading within the renew deadline', async () => {
    // A TCP relay to the API server that the test can cut: a network partition. TLS passes through unchanged.
    const api = new URL(cp.server);
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(Number(api.port), api.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const kubeConfig = new (await loadKubernetesClient()).KubeConfig();
    const options = JSON.parse(ns.kubeConfig.exportConfig());
    options.clusters[0].cluster.server = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    kubeConfig.loadFromString(JSON.stringify(options));

    const partitioned = await elector('scheduler-partitioned', kubeConfig);
    expect(await partitioned.check()).toBe(true);
    relay.close();
    for (const socket of sockets) socket.destroy();
    expect(await partitioned.check()).toBe(true); // still within 2/3 of the lease since the last renewal
    await sleep((LEASE_MS * 2) / 3);
    expect(await partitioned.check()).toBe(false);
    // Nobody released the Lease: another replica gets it once the duration has passed.
    const successor = await elector('scheduler-successor');
    expect(await successor.check()).toBe(false);
    await sleep(LEASE_MS + 100);
    expect(await successor.check()).toBe(true);
    await successor.release();
  }, 60_000);
});
