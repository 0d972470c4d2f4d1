/**
 * The chart's security settings (issue 13), rendered by the real helm: the admission policy that limits the
 * scheduler's pod deletions, images pinned by digest, TLS to the database and the services' own database role.
 * chart-apiserver.test.ts shows the policy at work on a real kube-apiserver; services/common/test shows the
 * settings rendered here (DATABASE_SSLMODE, DATABASE_SSL_CA, MIGRATE_GRANT_ROLE) working against PostgreSQL.
 */
import { ciValues, configOf, findObject, renderChart, type K8sObject, type RenderOptions } from '../helpers/helm';

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

    it("matches only pod deletions and updates in the release namespace by the scheduler's ServiceAccount", () => {
      expect(policy.apiVersion).toBe('admissionregistration.k8s.io/v1');
      expect(policy.metadata.namespace).toBeUndefined();
      expect(policy.spec.failurePolicy).toBe('Fail');
      expect(policy.spec.matchConstraints).toEqual({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'taskmaster' } },
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE', 'UPDATE'], resources: ['pods'] }],
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
      expect(validation.message).toContain('may delete or patch only worker pods');
    });

    it('lets an update of a worker pod change its annotations only (the pod-deletion-cost of a safe scale-down)', () => {
      const [, update] = policy.spec.validations;
      expect(update.expression).toBe("request.operation != 'UPDATE' || (object.metadata.labels == oldObject.metadata.labels && object.spec == oldObject.spec)");
      expect(update.reason).toBe('Forbidden');
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
        // A Job named after a hash of its spec (the password generator) by its name without the hash.
        .map((container: { name: string; image: string }): [string, string] => [`${owner.metadata.name.replace(/-[0-9a-f]{10}$/, '')}/${container.name}`, container.image])),
  );

  it('renders <repository>@<digest> for every container, the tag left out', () => {
    const pinned = images(renderChart({ set: { ...DIGESTS, 'image.tag': '1.2.3' } }));
    expect(Object.fromEntries(pinned)).toEqual({
      'tm-taskmaster-scheduler/scheduler': `ghcr.io/taskmaster/taskmaster-scheduler@${digest(1)}`,
      'tm-taskmaster-coordinator/coordinator': `ghcr.io/taskmaster/taskmaster-coordinator@${digest(2)}`,
      'tm-taskmaster-worker/worker': `ghcr.io/taskmaster/taskmaster-worker@${digest(3)}`,
      'tm-taskmaster-migrate/migrate': `ghcr.io/taskmaster/taskmaster-migrate@${digest(4)}`,
      'tm-taskmaster-migrate/wait-for-database': `postgres@${digest(5)}`,
      'tm-taskmaster-postgres-password/ensure-secret': `ghcr.io/taskmaster/taskmaster-migrate@${digest(4)}`,
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

describe('the database: TLS and a role of the services’ own', () => {
  type Env = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  const containerNamed = (objects: K8sObject[], kind: string, name: string, container: string) =>
    findObject(objects, kind, name).spec.template.spec.containers.find((c: { name: string }) => c.name === container);
  const envMap = (env: Env) => Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef]));

  describe('ci/security-values.yaml: an external database over verify-full, services as taskmaster_app', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderChart({ valuesFiles: [ciValues('security')] });
    });

    it('tells every service to verify the certificate against the mounted CA, and log in as the services’ role', () => {
      expect(configOf(objects)).toMatchObject({
        DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: '/etc/taskmaster/database-tls/ca.crt', POSTGRES_USER: 'taskmaster_app', POSTGRES_HOST: 'db.example.internal',
      });
      expect(configOf(objects)).not.toHaveProperty('MIGRATE_GRANT_ROLE');
      for (const name of ['scheduler', 'coordinator']) {
        const deployment = findObject(objects, 'Deployment', `tm-taskmaster-${name}`);
        const container = containerNamed(objects, 'Deployment', `tm-taskmaster-${name}`, name);
        expect(envMap(container.env).POSTGRES_PASSWORD).toEqual({ name: 'taskmaster-database-app', key: 'password' });
        expect(container.volumeMounts).toContainEqual({ name: 'database-tls', mountPath: '/etc/taskmaster/database-tls', readOnly: true });
        expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'database-tls', secret: { secretName: 'taskmaster-database-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
      }
    });

    it('migrates as the owner, over the same TLS, granting the services’ role', () => {
      const migrate = containerNamed(objects, 'Job', 'tm-taskmaster-migrate', 'migrate');
      expect(envMap(migrate.env)).toMatchObject({
        POSTGRES_USER: 'taskmaster', POSTGRES_PASSWORD: { name: 'taskmaster-database-owner', key: 'password' }, MIGRATE_GRANT_ROLE: 'taskmaster_app',
        DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: '/etc/taskmaster/database-tls/ca.crt',
      });
      // An external database's role is its administrator's to create: no password goes to the migration.
      expect(envMap(migrate.env)).not.toHaveProperty('MIGRATE_GRANT_ROLE_PASSWORD');
      expect(migrate.volumeMounts).toEqual([{ name: 'database-tls', mountPath: '/etc/taskmaster/database-tls', readOnly: true }]);
      expect(findObject(objects, 'Job', 'tm-taskmaster-migrate').spec.template.spec.volumes).toEqual([
        { name: 'database-tls', secret: { secretName: 'taskmaster-database-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      ]);
    });

    it('gives the workers, which never reach the database, none of it', () => {
      const worker = findObject(objects, 'Deployment', 'tm-taskmaster-worker');
      expect(JSON.stringify(worker)).not.toMatch(/database-tls|POSTGRES_PASSWORD|taskmaster-database/);
    });
  });

  it('takes the services’ own URL when the owner’s credentials are a URL', () => {
    const objects = renderChart({ set: {
      'postgresql.enabled': false, 'externalDatabase.existingSecret': 'db', 'externalDatabase.existingSecretUrlKey': 'owner-url',
      'externalDatabase.serviceRole.username': 'app', 'externalDatabase.serviceRole.existingSecretUrlKey': 'app-url',
    } });
    expect(envMap(containerNamed(objects, 'Deployment', 'tm-taskmaster-coordinator', 'coordinator').env).DATABASE_URL).toEqual({ name: 'db', key: 'app-url' });
    expect(envMap(containerNamed(objects, 'Job', 'tm-taskmaster-migrate', 'migrate').env)).toMatchObject({ DATABASE_URL: { name: 'db', key: 'owner-url' }, MIGRATE_GRANT_ROLE: 'app' });
    expect(configOf(objects)).not.toHaveProperty('POSTGRES_USER');
  });

  describe('the bundled PostgreSQL with postgresql.auth.serviceUsername', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderChart({ set: { 'postgresql.auth.serviceUsername': 'taskmaster_app' } });
    });

    it('generates the services’ password beside the owner’s, and the services log in with it', () => {
      // Generated in the cluster by the postgres-password Job (chart-gitops.test.ts), which is told both keys.
      const generator = objects.find((object) => object.kind === 'Job' && object.metadata.name.startsWith('tm-taskmaster-postgres-password-'))!;
      expect(envMap(generator.spec.template.spec.containers[0].env).SECRET_KEYS).toBe('postgres-password,service-password');
      expect(configOf(objects).POSTGRES_USER).toBe('taskmaster_app');
      const scheduler = containerNamed(objects, 'Deployment', 'tm-taskmaster-scheduler', 'scheduler');
      expect(envMap(scheduler.env).POSTGRES_PASSWORD).toEqual({ name: 'tm-taskmaster-postgres', key: 'service-password' });
    });

    it('has the migration create the role with that password, logging in as the owner; the server keeps its owner', () => {
      const migrate = envMap(containerNamed(objects, 'Job', 'tm-taskmaster-migrate', 'migrate').env);
      expect(migrate).toMatchObject({
        POSTGRES_USER: 'taskmaster', POSTGRES_PASSWORD: { name: 'tm-taskmaster-postgres', key: 'postgres-password' },
        MIGRATE_GRANT_ROLE: 'taskmaster_app', MIGRATE_GRANT_ROLE_PASSWORD: { name: 'tm-taskmaster-postgres', key: 'service-password' },
      });
      const server = envMap(containerNamed(objects, 'StatefulSet', 'tm-taskmaster-postgres', 'postgres').env);
      expect(server).toMatchObject({ POSTGRES_USER: 'taskmaster', POSTGRES_PASSWORD: { name: 'tm-taskmaster-postgres', key: 'postgres-password' } });
    });
  });

  it('changes nothing by default: one role, no TLS settings', () => {
    const objects = renderChart();
    expect(Object.keys(configOf(objects)).filter((key) => /^(DATABASE_SSL|MIGRATE_)/.test(key))).toEqual([]);
    const generator = objects.find((object) => object.kind === 'Job' && object.metadata.name.startsWith('tm-taskmaster-postgres-password-'))!;
    expect(envMap(generator.spec.template.spec.containers[0].env).SECRET_KEYS).toBe('postgres-password');
    const migrate = envMap(containerNamed(objects, 'Job', 'tm-taskmaster-migrate', 'migrate').env);
    expect(Object.keys(migrate).filter((key) => key.startsWith('MIGRATE_'))).toEqual([]);
  });

  it.each<[string, Record<string, string | boolean>, RegExp]>([
    ['verify-ca without a CA', { 'externalDatabase.tls.sslMode': 'verify-ca' }, /externalDatabase\.tls\.caSecret/],
    ['a CA with TLS disabled', { 'externalDatabase.tls.sslMode': 'disable', 'externalDatabase.tls.caSecret': 'ca' }, /externalDatabase\.tls\.caSecret/],
    ['an unknown sslMode', { 'externalDatabase.tls.sslMode': 'prefer' }, /externalDatabase\.tls\.sslMode/],
    ['a role name with a space', { 'externalDatabase.serviceRole.username': 'app role' }, /externalDatabase\.serviceRole\.username/],
    ['a services’ role without its URL when the owner has one', { 'externalDatabase.existingSecretUrlKey': 'url', 'externalDatabase.serviceRole.username': 'app' }, /externalDatabase\.serviceRole\.existingSecretUrlKey/],
  ])('refuses %s at install', (_case, set, message) => {
    expect(() => renderChart({ set: { 'postgresql.enabled': false, 'externalDatabase.existingSecret': 'db', 'externalDatabase.host': 'db', ...set } })).toThrow(message);
  });
});
