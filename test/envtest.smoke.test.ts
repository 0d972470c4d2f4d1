/**
 * Smoke test of the envtest control plane (test/helpers/envtest.ts): a real etcd, kube-apiserver and
 * kube-controller-manager turn a Deployment into a ReplicaSet and Pods (which stay Pending: there is
 * no scheduler and no kubelet). Skipped with a warning when the binaries are missing, an error
 * under CI=true: build them with `bash scripts/build-testbin.sh`.
 */
import * as fs from 'node:fs';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from './helpers/envtest';

interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  ownerReferences?: { kind: string; name: string }[];
}
interface List<T> {
  items: T[];
}
interface Pod {
  metadata: ObjectMeta;
  spec: { serviceAccountName?: string };
  status?: { phase?: string };
}
interface ReplicaSet {
  metadata: ObjectMeta;
  spec: { replicas?: number };
}

const NS = 'envtest-smoke';
const TIMEOUT = 120_000;

async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describeIfControlPlane('envtest control plane (etcd + kube-apiserver + kube-controller-manager)', () => {
  let cp: ControlPlane | undefined;

  beforeAll(async () => {
    cp = await startControlPlane({ withControllerManager: true });
  }, TIMEOUT);

  afterAll(async () => {
    await cp?.stop();
  }, 30_000);

  it('serves the API over TLS with the admin token only', async () => {
    const c = cp!;
    expect(c.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(c.skipTLSVerify).toBe(false);
    expect(c.caData).toContain('BEGIN CERTIFICATE');
    expect(fs.readFileSync(c.kubeconfigPath, 'utf8')).toContain(c.server);

    const version = await apiRequest<{ gitVersion: string }>(c, 'GET', '/version');
    expect(version.status).toBe(200);
    expect(version.body.gitVersion).toMatch(/^v1\.\d+\.\d+/);

    const anonymous = await apiRequest(
      { server: c.server, adminToken: '', caData: c.caData },
      'GET',
      '/api/v1/namespaces',
    );
    expect([401, 403]).toContain(anonymous.status);
    const badToken = await apiRequest({ ...c, adminToken: 'not-a-token' }, 'GET', '/api/v1/namespaces');
    expect(badToken.status).toBe(401);
  });

  it(
    'turns a Deployment with 2 replicas into a ReplicaSet and 2 Pending Pods',
    async () => {
      const c = cp!;
      const ns = await apiRequest(c, 'POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NS },
      });
      expect(ns.status).toBe(201);

      const labels = { app: 'smoke' };
      const deploy = await apiRequest(c, 'POST', `/apis/apps/v1/namespaces/${NS}/deployments`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'smoke', labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'main', image: 'registry.invalid/smoke:1' }] },
          },
        },
      });
      expect(deploy.status).toBe(201);

      const rs = await poll('a ReplicaSet owned by the Deployment', 90_000, async () => {
        const r = await apiRequest<List<ReplicaSet>>(c, 'GET', `/apis/apps/v1/namespaces/${NS}/replicasets`);
        expect(r.status).toBe(200);
        return r.body.items.find((x) => x.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'smoke'));
      });
      expect(rs.spec.replicas).toBe(2);

      const pods = await poll('2 Pods of the ReplicaSet', 90_000, async () => {
        const r = await apiRequest<List<Pod>>(c, 'GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dsmoke`);
        expect(r.status).toBe(200);
        return r.body.items.length === 2 ? r.body.items : undefined;
      });
      for (const pod of pods) {
        expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', name: rs.metadata.name });
        expect(pod.status?.phase).toBe('Pending');
        // The ServiceAccount admission plugin ran: the namespace's default ServiceAccount exists.
        expect(pod.spec.serviceAccountName).toBe('default');
      }
    },
    TIMEOUT,
  );
});
