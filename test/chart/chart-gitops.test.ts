/**
 * The chart under GitOps and in HA (issue 14), rendered by the real helm: the same inputs give the same bytes,
 * the migration Job's three modes, the password generated in the cluster rather than in the render, highly
 * available coordinators, per-component pod additions and the `helm test` pod. chart-gitops-apiserver.test.ts
 * applies and upgrades these renders on a real kube-apiserver.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  CHART_DIR, CI_VALUES, ciValues, findObject, renderChart, renderManifest, type K8sObject, type RenderOptions,
} from '../helpers/helm';

const jobs = (objects: K8sObject[], component: string) =>
  objects.filter((object) => object.kind === 'Job' && object.metadata.labels?.['app.kubernetes.io/component'] === component);
const onlyJob = (objects: K8sObject[], component: string) => {
  const found = jobs(objects, component);
  expect(found).toHaveLength(1);
  return found[0];
};
const envMap = (container: { env: Array<{ name: string; value?: string }> }) =>
  Object.fromEntries(container.env.map((entry) => [entry.name, entry.value]));

describe('same inputs, same manifests', () => {
  const scenarios: Array<[string, RenderOptions]> = [
    ['defaults', {}],
    ['defaults, as an upgrade', { isUpgrade: true }],
    ...CI_VALUES.flatMap((file): Array<[string, RenderOptions]> => [
      [basename(file), { valuesFiles: [file] }],
      [`${basename(file)}, as an upgrade`, { valuesFiles: [file], isUpgrade: true }],
    ]),
  ];

  it.each(scenarios)('renders %s twice byte for byte', (_name, options) => {
    const first = renderManifest({ ...options, apiVersions: ['monitoring.coreos.com/v1'] });
    expect(renderManifest({ ...options, apiVersions: ['monitoring.coreos.com/v1'] })).toBe(first);
  });

  it('reads nothing from the cluster and draws nothing at random', () => {
    const templates = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
      .flatMap((entry) => entry.isDirectory() ? templates(join(dir, entry.name)) : [join(dir, entry.name)]);
    for (const file of templates(join(CHART_DIR, 'templates'))) {
      // Template actions only, without comments and string literals (a SQL now() in a query string calls no `now`).
      const actions = (readFileSync(file, 'utf8').match(/\{\{[\s\S]*?\}\}/g) ?? []).filter((action) => !/^\{\{-?\s*\/\*/.test(action)).map((action) => action.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""')).join('\n');
      expect({ file, uses: actions.match(/\b(lookup|randAlphaNum|randAlpha|randNumeric|randAscii|randBytes|uuidv4|now|genPrivateKey|genCA|genSelfSignedCert)\b/g) }).toEqual({ file, uses: null });
    }
  });
});

describe('the PostgreSQL password', () => {
  it('is generated in the cluster by a hook Job, not rendered: no password in the manifests', () => {
    const objects = renderChart();
    expect(objects.some((object) => object.kind === 'Secret' && object.metadata.name === 'tm-taskmaster-postgres')).toBe(false);
    const job = onlyJob(objects, 'postgres-password');
    const hooks = { 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' };
    expect(job.metadata.annotations).toEqual({ ...hooks, 'helm.sh/hook-weight': '-5' });
    // Its ServiceAccount and rights come first, and may create Secrets but read and change only this one.
    for (const kind of ['ServiceAccount', 'Role', 'RoleBinding']) {
      expect(findObject(objects, kind, 'tm-taskmaster-postgres-password').metadata.annotations).toEqual({ ...hooks, 'helm.sh/hook-weight': '-10' });
    }
    expect(findObject(objects, 'Role', 'tm-taskmaster-postgres-password').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['tm-taskmaster-postgres'], verbs: ['get', 'patch'] },
    ]);
    const pod = job.spec.template.spec;
    expect(pod).toMatchObject({ serviceAccountName: 'tm-taskmaster-postgres-password', automountServiceAccountToken: true, restartPolicy: 'Never' });
    const [container] = pod.containers;
    expect(container.image).toBe('ghcr.io/taskmaster/taskmaster-migrate:0.1.0');
    expect(container.args).toEqual(['node', '-e', readFileSync(join(CHART_DIR, 'files', 'ensure-postgres-secret.js'), 'utf8')]);
    expect(envMap(container)).toEqual({
      SECRET_NAME: 'tm-taskmaster-postgres',
      SECRET_KEYS: 'postgres-password',
      SECRET_LABELS: JSON.stringify({ 'app.kubernetes.io/component': 'postgres', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/name': 'taskmaster' }),
    });
  });

  it("generates the services' role's password beside the owner's", () => {
    const job = onlyJob(renderChart({ set: { 'postgresql.auth.serviceUsername': 'taskmaster_app' } }), 'postgres-password');
    expect(envMap(job.spec.template.spec.containers[0]).SECRET_KEYS).toBe('postgres-password,service-password');
  });

  it('names the Job after its spec, so that `kubectl apply` of a new chart or image makes a new one', () => {
    const name = (set: RenderOptions['set']) => onlyJob(renderChart({ set }), 'postgres-password').metadata.name as string;
    expect(name({})).toMatch(/^tm-taskmaster-postgres-password-[0-9a-f]{10}$/);
    expect(name({ 'migrations.image.tag': '0.2.0' })).not.toBe(name({}));
    expect(name({ 'config.logLevel': 'debug' })).toBe(name({}));
  });

  it('is rendered into the Secret when given in the values, and then nothing is generated', () => {
    const objects = renderChart({ set: { 'postgresql.auth.password': 'from-values' } });
    const secret = findObject(objects, 'Secret', 'tm-taskmaster-postgres');
    expect(Buffer.from(secret.data['postgres-password'], 'base64').toString()).toBe('from-values');
    expect(secret.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(jobs(objects, 'postgres-password')).toEqual([]);
    expect(() => renderChart({ set: { 'postgresql.auth.password': 'x', 'postgresql.auth.serviceUsername': 'app' } }))
      .toThrow(/postgresql.auth.serviceUsername with postgresql.auth.password/);
  });

  it('comes from an existing Secret with nothing rendered or generated', () => {
    const objects = renderChart({ valuesFiles: [ciValues('argocd')] });
    expect(objects.filter((object) => object.metadata.name.startsWith('tm-taskmaster-postgres-password'))).toEqual([]);
    expect(objects.some((object) => object.kind === 'Secret' && object.metadata.name === 'tm-taskmaster-postgres')).toBe(false);
    const env = findObject(objects, 'StatefulSet', 'tm-taskmaster-postgres').spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'taskmaster-postgres-credentials', key: 'postgres-password' } } });
  });
});

describe('migration modes', () => {
  const migrate = (options: RenderOptions) => onlyJob(renderChart(options), 'migrate');

  it('helm (default): a plain Job at install, a pre-upgrade hook under another name on upgrade', () => {
    const install = migrate({});
    expect(install.metadata.name).toBe('tm-taskmaster-migrate');
    expect(install.metadata.annotations).toBeUndefined();
    expect(install.spec.ttlSecondsAfterFinished).toBe(86400);
    const upgrade = migrate({ isUpgrade: true });
    expect(upgrade.metadata.name).toBe('tm-taskmaster-migrate-upgrade');
    expect(upgrade.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation' });
  });

  it('argocd with an external database: a PreSync hook, deleted before the next one is made', () => {
    const job = migrate({ valuesFiles: [ciValues('external-postgres')], set: { 'migrations.mode': 'argocd' } });
    expect(job.metadata.name).toBe('tm-taskmaster-migrate');
    expect(job.metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    });
  });

  it('argocd with the bundled PostgreSQL: a Sync hook between the database\'s wave and the services\'', () => {
    const objects = renderChart({ valuesFiles: [ciValues('argocd')] });
    expect(onlyJob(objects, 'migrate').metadata.annotations).toEqual({
      'argocd.argoproj.io/hook': 'Sync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      'argocd.argoproj.io/sync-wave': '-1',
    });
    for (const kind of ['StatefulSet', 'Service']) {
      expect(findObject(objects, kind, 'tm-taskmaster-postgres').metadata.annotations).toEqual({ 'argocd.argoproj.io/sync-wave': '-2' });
    }
    // Everything else stays in wave 0; the same render with helm mode carries no Argo CD annotation at all.
    const waves = objects.filter((object) => object.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
    expect(waves.map((object) => `${object.kind}/${object.metadata.name}`).sort())
      .toEqual(['Job/tm-taskmaster-migrate', 'Service/tm-taskmaster-postgres', 'StatefulSet/tm-taskmaster-postgres']);
    const helmMode = renderChart({ valuesFiles: [ciValues('argocd')], set: { 'migrations.mode': 'helm' } });
    expect(helmMode.filter((object) => JSON.stringify(object.metadata.annotations ?? {}).includes('argocd'))).toEqual([]);
    // The phase can be chosen.
    expect(migrate({ valuesFiles: [ciValues('argocd')], set: { 'migrations.argocd.hook': 'PreSync' } }).metadata.annotations).toMatchObject({ 'argocd.argoproj.io/hook': 'PreSync' });
  });

  it('job: a plain Job named after its spec, the same whether installing or upgrading, new with a new image', () => {
    const job = migrate({ valuesFiles: [ciValues('kubectl-apply')] });
    expect(job.metadata.name).toMatch(/^tm-taskmaster-migrate-[0-9a-f]{10}$/);
    expect(job.metadata.annotations).toBeUndefined();
    // A GitOps tool would take a Job deleted after its TTL for drift and run it again.
    expect(job.spec).not.toHaveProperty('ttlSecondsAfterFinished');
    expect(migrate({ valuesFiles: [ciValues('kubectl-apply')], isUpgrade: true }).metadata.name).toBe(job.metadata.name);
    const newImage = migrate({ valuesFiles: [ciValues('kubectl-apply')], set: { 'image.tag': '0.2.0' } });
    expect(newImage.metadata.name).not.toBe(job.metadata.name);
    expect(newImage.spec.template.spec.containers[0].image).toBe('ghcr.io/taskmaster/taskmaster-migrate:0.2.0');
    // A long release name still leaves a valid Job name (63 characters, which the pods' job-name label must fit).
    const long = migrate({ valuesFiles: [ciValues('kubectl-apply')], release: 'a-release-name-as-long-as-helm-allows-fifty-three-c' });
    expect(long.metadata.name.length).toBeLessThanOrEqual(63);
    expect(long.metadata.name).toMatch(/-[0-9a-f]{10}$/);
  });

  it('refuses an unknown mode', () => {
    expect(() => renderChart({ set: { 'migrations.mode': 'flux' } })).toThrow(/migrations.mode/);
  });
});

describe('highly available coordinators', () => {
  it('roll one new before one old, and spread over nodes by default', () => {
    const coordinator = findObject(renderChart(), 'Deployment', 'tm-taskmaster-coordinator');
    expect(coordinator.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    expect(coordinator.spec.template.spec.topologySpreadConstraints).toEqual([{
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: coordinator.spec.selector.matchLabels },
    }]);
  });

  it('get a PodDisruptionBudget of minAvailable 1 only above one replica', () => {
    const budget = (replicas: number) => renderChart({ set: { 'coordinator.replicas': replicas } })
      .filter((object) => object.kind === 'PodDisruptionBudget' && object.metadata.name === 'tm-taskmaster-coordinator');
    expect(budget(1)).toEqual([]);
    const [pdb] = budget(3);
    expect(pdb.spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': 'coordinator' } },
    });
    expect(findObject(renderChart({ valuesFiles: [ciValues('ha')] }), 'Deployment', 'tm-taskmaster-coordinator').spec.replicas).toBe(3);
  });
});

describe('pod additions per component', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderChart({ valuesFiles: [ciValues('pod-extras')] });
  });
  const pod = (name: string) => findObject(objects, 'Deployment', `tm-taskmaster-${name}`).spec.template.spec;

  it('set priority classes and fill in the selector of a spread constraint', () => {
    expect(pod('scheduler').priorityClassName).toBe('taskmaster-high');
    expect(pod('worker').priorityClassName).toBe('taskmaster-batch');
    expect(pod('scheduler').topologySpreadConstraints).toEqual([{
      maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': 'scheduler' } },
    }]);
    // A constraint that names its own selector keeps it.
    const own = { maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { tier: 'x' } } };
    const rendered = renderChart({ set: { 'worker.topologySpreadConstraints[0].maxSkew': 2, 'worker.topologySpreadConstraints[0].topologyKey': own.topologyKey,
      'worker.topologySpreadConstraints[0].whenUnsatisfiable': own.whenUnsatisfiable, 'worker.topologySpreadConstraints[0].labelSelector.matchLabels.tier': 'x' } });
    expect(findObject(rendered, 'Deployment', 'tm-taskmaster-worker').spec.template.spec.topologySpreadConstraints).toEqual([own]);
  });

  it('add sidecars after the main container, init containers, volumes and mounts beside the chart\'s own', () => {
    expect(pod('scheduler').containers.map((container: { name: string }) => container.name)).toEqual(['scheduler', 'auth-proxy']);
    expect(pod('scheduler').volumes.map((volume: { name: string }) => volume.name)).toEqual(['tmp', 'proxy-cache']);
    expect(pod('coordinator').containers[0].volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'extra-config', mountPath: '/etc/taskmaster/extra', readOnly: true },
    ]);
    expect(pod('coordinator').volumes).toContainEqual({ name: 'extra-config', configMap: { name: 'taskmaster-coordinator-extra', optional: true } });
    expect(pod('worker').initContainers.map((container: { name: string }) => container.name)).toEqual(['warm-up']);
  });

  it('are absent by default', () => {
    for (const name of ['scheduler', 'worker']) {
      const spec = findObject(renderChart(), 'Deployment', `tm-taskmaster-${name}`).spec.template.spec;
      expect(spec).not.toHaveProperty('priorityClassName');
      expect(spec).not.toHaveProperty('topologySpreadConstraints');
      expect(spec).not.toHaveProperty('initContainers');
      expect(spec.containers).toHaveLength(1);
    }
  });

  it('are refused without a name, or with a spread constraint missing its key', () => {
    expect(() => renderChart({ set: { 'worker.extraContainers[0].image': 'x' } })).toThrow(/worker.extraContainers.0: name is required/);
    expect(() => renderChart({ set: { 'scheduler.topologySpreadConstraints[0].maxSkew': 1 } })).toThrow(/topologyKey is required/);
  });
});

describe('helm test', () => {
  const testPod = (options: RenderOptions) => renderChart(options).filter((object) => object.kind === 'Pod');

  it('schedules a task with the scheduler image, open API: no token', () => {
    const [pod] = testPod({});
    expect(pod.metadata).toMatchObject({ name: 'tm-taskmaster-test', annotations: { 'helm.sh/hook': 'test' } });
    const [container] = pod.spec.containers;
    expect(container.image).toBe('ghcr.io/taskmaster/taskmaster-scheduler:0.1.0');
    expect(container.args).toEqual(['node', '-e', readFileSync(join(CHART_DIR, 'files', 'helm-test.js'), 'utf8')]);
    expect(container.env).toEqual([{ name: 'SCHEDULER_URL', value: 'http://tm-taskmaster-scheduler:8081' }, { name: 'TIMEOUT_SECONDS', value: '120' }]);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it.each<[string, RenderOptions['set'], { name: string; key: string } | null]>([
    ['the chart Secret of apiToken', { 'scheduler.auth.apiToken': 'an-operator-token-0123' }, { name: 'tm-taskmaster', key: 'api-token' }],
    ['existingSecret', { 'scheduler.auth.existingSecret': 'api', 'scheduler.auth.existingSecretKey': 'token' }, { name: 'api', key: 'token' }],
    ['tests.tokenSecret over the scheduler\'s', { 'scheduler.auth.existingSecret': 'api', 'tests.tokenSecret': 'test-token', 'tests.tokenSecretKey': 't' }, { name: 'test-token', key: 't' }],
    ['tokensSecret alone: none to use, no test', { 'scheduler.auth.tokensSecret': 'tokens' }, null],
  ])('takes its operator token from %s', (_case, set, token) => {
    const pods = testPod({ set });
    if (token === null) return expect(pods).toEqual([]);
    expect(pods[0].spec.containers[0].env).toContainEqual({ name: 'API_TOKEN', valueFrom: { secretKeyRef: token } });
  });

  it('can be left out', () => {
    expect(testPod({ set: { 'tests.enabled': false } })).toEqual([]);
  });
});
