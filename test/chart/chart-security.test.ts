/**
 * The chart's security settings (issue 13), rendered by the real helm: the admission policy that limits the
 * scheduler's pod deletions. chart-apiserver.test.ts shows the policy at work on a real kube-apiserver.
 */
import { findObject, renderChart, type K8sObject, type RenderOptions } from '../helpers/helm';

const VAP_SERVED = 'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
const POLICY = 'taskmaster-tm-taskmaster-scheduler-pod-deletion';

describe('the admission policy on pod deletions', () => {
  const policyObjects = (options: RenderOptions) =>
    renderChart(options).filter((object) => object.kind.startsWith('ValidatingAdmissionPolicy'));

  it.each<[string, RenderOptions, number]>([
    ['auto, on a cluster that serves ValidatingAdmissionPolicy', { apiVersions: [VAP_SERVED] }, 2],
    ['auto, on a cluster that does not (before 1.30)', {}, 0],
    ['true, whatever the cluster serves', { set: { 'scheduler.rbac.admissionPolicy': true } }, 2],
    ['false', { apiVersions: [VAP_SERVED], set: { 'scheduler.rbac.admissionPolicy': false } }, 0],
    ['without the Role', { apiVersions: [VAP_SERVED], set: { 'scheduler.rbac.create': false } }, 0],
  ])('is rendered %s', (_case, options, count) => {
    expect(policyObjects(options)).toHaveLength(count);
  });

  describe('as rendered', () => {
    let policy: K8sObject;
    let binding: K8sObject;
    beforeAll(() => {
      const objects = renderChart({ apiVersions: [VAP_SERVED] });
      policy = findObject(objects, 'ValidatingAdmissionPolicy', POLICY);
      binding = findObject(objects, 'ValidatingAdmissionPolicyBinding', POLICY);
    });

    it("matches only pod deletions in the release namespace by the scheduler's ServiceAccount", () => {
      expect(policy.apiVersion).toBe('admissionregistration.k8s.io/v1');
      expect(policy.metadata.namespace).toBeUndefined();
      expect(policy.spec.failurePolicy).toBe('Fail');
      expect(policy.spec.matchConstraints).toEqual({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'taskmaster' } },
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['pods'] }],
      });
      expect(policy.spec.matchConditions).toEqual([
        { name: 'scheduler-service-account', expression: 'request.userInfo.username == "system:serviceaccount:taskmaster:tm-taskmaster-scheduler"' },
      ]);
      expect(binding.spec).toEqual({ policyName: POLICY, validationActions: ['Deny'] });
    });

    it('allows a pod that carries every worker selector label, from WORKER_SELECTOR', () => {
      const [validation] = policy.spec.validations;
      const selector = findObject(renderChart(), 'ConfigMap', 'tm-taskmaster').data.WORKER_SELECTOR as string;
      for (const pair of selector.split(',')) {
        const [key, value] = pair.split('=');
        expect(validation.expression).toContain(`"${key}" in oldObject.metadata.labels && oldObject.metadata.labels["${key}"] == "${value}"`);
      }
      expect(validation.expression.split(' && ')).toHaveLength(1 + 2 * selector.split(',').length);
      expect(validation.message).toContain('may delete only worker pods');
    });

    it('follows a custom ServiceAccount name and the release namespace', () => {
      const objects = renderChart({ apiVersions: [VAP_SERVED], namespace: 'jobs', set: { 'scheduler.serviceAccount.name': 'scaler' } });
      const renamed = findObject(objects, 'ValidatingAdmissionPolicy', 'jobs-tm-taskmaster-scheduler-pod-deletion');
      expect(renamed.spec.matchConditions[0].expression).toBe('request.userInfo.username == "system:serviceaccount:jobs:scaler"');
      expect(renamed.spec.matchConstraints.namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'jobs' });
    });
  });
});

describe('images pinned by digest', () => {
  const digest = (n: number) => `sha256:${n.toString(16).repeat(64).slice(0, 64)}`;
  const DIGESTS = {
    'scheduler.image.digest': digest(1),
    'coordinator.image.digest': digest(2),
    'worker.image.digest': digest(3),
    'migrations.image.digest': digest(4),
    'postgresql.image.digest': digest(5),
  };
  const images = (objects: K8sObject[]) => new Map(
    objects
      .filter((object) => ['Deployment', 'StatefulSet', 'Job'].includes(object.kind))
      .flatMap((owner) => [...(owner.spec.template.spec.initContainers ?? []), ...owner.spec.template.spec.containers]
        .map((container: { name: string; image: string }): [string, string] => [`${owner.metadata.name}/${container.name}`, container.image])),
  );

  it('renders <repository>@<digest> for every container, the tag left out', () => {
    const pinned = images(renderChart({ set: { ...DIGESTS, 'image.tag': '1.2.3' } }));
    expect(Object.fromEntries(pinned)).toEqual({
      'tm-taskmaster-scheduler/scheduler': `ghcr.io/taskmaster/taskmaster-scheduler@${digest(1)}`,
      'tm-taskmaster-coordinator/coordinator': `ghcr.io/taskmaster/taskmaster-coordinator@${digest(2)}`,
      'tm-taskmaster-worker/worker': `ghcr.io/taskmaster/taskmaster-worker@${digest(3)}`,
      'tm-taskmaster-migrate/migrate': `ghcr.io/taskmaster/taskmaster-migrate@${digest(4)}`,
      'tm-taskmaster-migrate/wait-for-database': `postgres@${digest(5)}`,
      'tm-taskmaster-postgres/postgres': `postgres@${digest(5)}`,
    });
  });

  it('keeps tags where no digest is set, and a component repository with its digest', () => {
    const mixed = images(renderChart({ set: { 'worker.image.digest': digest(3), 'worker.image.repository': 'registry.example.com/tm-worker', 'image.tag': '1.2.3' } }));
    expect(mixed.get('tm-taskmaster-worker/worker')).toBe(`registry.example.com/tm-worker@${digest(3)}`);
    expect(mixed.get('tm-taskmaster-scheduler/scheduler')).toBe('ghcr.io/taskmaster/taskmaster-scheduler:1.2.3');
    expect(mixed.get('tm-taskmaster-postgres/postgres')).toBe('postgres:17');
  });

  it.each(['sha256:abc', 'latest', `sha512:${'a'.repeat(64)}`, `SHA256:${'A'.repeat(64)}`])('refuses the digest %s at install', (bad) => {
    expect(() => renderChart({ set: { 'coordinator.image.digest': bad } })).toThrow(/coordinator\.image\.digest/);
  });
});
