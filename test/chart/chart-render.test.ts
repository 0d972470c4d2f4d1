/**
 * The Helm chart, rendered by the real helm (v3.17 from a devDependency, see scripts/helm.sh): lint, every
 * ci/ scenario, and the properties the services and the cluster rely on. chart-apiserver.test.ts sends the
 * same renders to a real kube-apiserver.
 */
import { loadConfig } from '../../services/common/src/config';
import { grpcListeners } from '../../services/common/src/grpc/peer-security';
import { parseConfiguredSchedules } from '../../services/coordinator/src/configured-schedules';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import {
  CHART_DIR, CI_VALUES, DEV_VALUES, REPO_ROOT, ciValues, configOf, findObject, podTemplates, renderChart, renderFailure, runTool, type K8sObject, type RenderOptions,
} from '../helpers/helm';


/** The chart with its default values, rendered once for the tests that only read it. */
let defaults: K8sObject[] | undefined;
const renderDefaults = (): K8sObject[] => (defaults ??= renderChart());
const containerOf = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];
const envOf = (deployment: K8sObject): Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }> =>
  containerOf(deployment).env;

describe('chart metadata', () => {
  it('carries the application version from package.json', () => {
    const chart = readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8');
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatch(new RegExp(`^appVersion: "${version.replace(/\./g, '\\.')}"$`, 'm'));
  });

  it('documents every value with a `# --` comment and in the README table', () => {
    const values = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const undocumented: string[] = [];
    // A value is a leaf, or a map documented as a whole; a pair's comment sits on its key, or on the map for
    // the map's first pair.
    const walk = (map: YAMLMap, prefix: string) => map.items.forEach((pair, index) => {
      const key = `${prefix}${String((pair.key as { value: unknown }).value)}`;
      const comment = (pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? map.commentBefore : undefined) ?? '';
      const documented = /(^|\n) ?-- /.test(comment);
      if (isMap(pair.value) && pair.value.items.length > 0 && !documented) return walk(pair.value, `${key}.`);
      if (!documented) undocumented.push(`${key} (no # -- comment)`);
      if (!readme.includes(`| ${key} |`)) undocumented.push(`${key} (not in README.md)`);
    });
    walk(values.contents as YAMLMap, '');
    expect(undocumented).toEqual([]);
  });

  it('has the ci scenarios the docs promise', () => {
    expect(CI_VALUES.map((file) => basename(file))).toEqual(expect.arrayContaining([
      'default-values.yaml', 'external-postgres-values.yaml', 'ingress-tls-values.yaml', 'autoscaling-values.yaml', 'monitoring-values.yaml',
      'bundled-postgres-values.yaml', 'cloudnative-pg-values.yaml', 'gateway-api-values.yaml',
    ]));
  });
});

const SCENARIOS: Array<[string, string | undefined]> = [
  ['defaults', undefined],
  ...[...CI_VALUES, ...DEV_VALUES].map((file): [string, string] => [basename(file), file]),
];

describe.each(SCENARIOS)('scenario %s', (_name, file) => {
  const valuesFiles = file ? [file] : [];

  it('passes helm lint --strict', () => {
    const args = ['lint', '--strict', CHART_DIR, ...valuesFiles.flatMap((values) => ['--values', values])];
    const result = runTool('helm', args);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  describe('rendered', () => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = renderChart({ valuesFiles, apiVersions: ['monitoring.coreos.com/v1'] });
    });

    it('labels every object with the standard labels, and pods with their selector', () => {
      for (const object of objects) {
        expect(object.metadata.labels).toMatchObject({
          'app.kubernetes.io/name': 'taskmaster',
          'app.kubernetes.io/instance': 'tm',
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.sh/chart': expect.stringMatching(/^taskmaster-/),
        });
      }
      for (const { owner, pod } of podTemplates(objects)) {
        if (owner.kind !== 'Job') expect(pod.metadata.labels).toMatchObject(owner.spec.selector.matchLabels);
        expect(pod.metadata.labels!['app.kubernetes.io/component']).toBe(owner.metadata.labels!['app.kubernetes.io/component']);
      }
    });

    it('runs every container as non-root, read-only, without privileges', () => {
      for (const { owner, pod } of podTemplates(objects)) {
        const where = `${owner.kind}/${owner.metadata.name}`;
        expect({ where, ...pod.spec.securityContext }).toMatchObject({ where, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
          expect({ where, ...container.securityContext }).toEqual({
            where,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          });
        }
      }
    });

    it('mounts an API token only into the scheduler and the Job that writes the PostgreSQL password Secret', () => {
      for (const { owner, pod } of podTemplates(objects)) {
        const component = owner.metadata.labels!['app.kubernetes.io/component'];
        expect({ component, automount: pod.spec.automountServiceAccountToken }).toEqual({ component, automount: ['scheduler', 'postgres-password'].includes(component) });
      }
    });
  });
});

describe('default values', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderDefaults();
  });

  it('names components <fullname>-<component> with the component label', () => {
    const deployments = objects.filter((object) => object.kind === 'Deployment');
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual(['tm-taskmaster-coordinator', 'tm-taskmaster-scheduler', 'tm-taskmaster-worker']);
    for (const deployment of deployments) {
      expect(deployment.spec.selector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'taskmaster',
        'app.kubernetes.io/instance': 'tm',
        'app.kubernetes.io/component': deployment.metadata.name.replace('tm-taskmaster-', ''),
      });
    }
  });

  it('probes the scheduler and workers over HTTP and the coordinator with gRPC health checks', () => {
    const scheduler = containerOf(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'));
    expect(scheduler.ports).toEqual([{ name: 'http', containerPort: 8081, protocol: 'TCP' }]);
    expect(scheduler.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(scheduler.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(scheduler.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });

    const coordinator = containerOf(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator'));
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      // No `service`: the server reports health for service "".
      expect(coordinator[probe].grpc).toEqual({ port: 8080 });
    }
    expect(coordinator.ports).toEqual(expect.arrayContaining([
      { name: 'grpc', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
    ]));

    // A worker dials out to the coordinator: it listens for nothing but its metrics and health.
    const worker = containerOf(findObject(objects, 'Deployment', 'tm-taskmaster-worker'));
    expect(worker.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(worker.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(worker.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(worker.readinessProbe).toBeUndefined();
  });

  it('gives every service the environment config.ts reads', () => {
    const config = configOf(objects);
    expect(config).toMatchObject({
      BIND_HOST: '0.0.0.0',
      COORDINATOR_ADDRESS: 'tm-taskmaster-coordinator:8080',
      POSTGRES_HOST: 'tm-taskmaster-postgres',
      POSTGRES_PORT: '5432',
      POSTGRES_DB: 'taskmaster',
      POSTGRES_USER: 'taskmaster',
      LOG_LEVEL: 'info',
      HEARTBEAT_INTERVAL: '5s',
      LEASE_DURATION: '30s',
      WORKER_POOL_SIZE: '5',
      TASK_PROCESS_TIME: '5s',
      WORKER_DRAIN_TIMEOUT: '25s',
      SCALER: 'kubernetes',
      WORKER_DEPLOYMENT: 'tm-taskmaster-worker',
      WORKER_SELECTOR: 'app.kubernetes.io/component=worker,app.kubernetes.io/instance=tm,app.kubernetes.io/name=taskmaster',
      AUTOSCALER_ENABLED: 'false',
      PAYLOAD_MAX_BYTES: '262144',
      HTTP_BODY_MAX_BYTES: '4194304',
    });
    expect(config).not.toHaveProperty('AUTOSCALER_MIN_REPLICAS');

    const password = { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'tm-taskmaster-postgres', key: 'postgres-password' } } };
    const scheduler = findObject(objects, 'Deployment', 'tm-taskmaster-scheduler');
    expect(envOf(scheduler)).toEqual([
      { name: 'SCHEDULER_PORT', value: '8081' },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      password,
      // No token configured: served open on purpose, within the cluster.
      { name: 'AUTH', value: 'none' },
    ]);
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator'))).toEqual([
      { name: 'COORDINATOR_PORT', value: '8080' },
      { name: 'METRICS_PORT', value: '9464' },
      password,
    ]);
    // Workers never touch the database: no credentials.
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-worker'))).toEqual([
      { name: 'METRICS_PORT', value: '9464' },
      { name: 'WORKER_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    for (const deployment of objects.filter((object) => object.kind === 'Deployment')) {
      expect(containerOf(deployment).envFrom).toEqual([{ configMapRef: { name: 'tm-taskmaster' } }]);
    }
  });

  it('gives a stopping worker its drain timeout plus a margin', () => {
    const grace = (drain?: number) => {
      const rendered = renderChart(drain === undefined ? {} : { set: { 'worker.drainTimeoutSeconds': drain } });
      return findObject(rendered, 'Deployment', 'tm-taskmaster-worker').spec.template.spec.terminationGracePeriodSeconds;
    };
    expect(grace()).toBe(35);
    expect(grace(60)).toBe(70);
  });

  it('grants the scheduler exactly what the Kubernetes scaler needs', () => {
    const role = findObject(objects, 'Role', 'tm-taskmaster-scheduler');
    expect(role.rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['tm-taskmaster-worker'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
    ]);
    const binding = findObject(objects, 'RoleBinding', 'tm-taskmaster-scheduler');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tm-taskmaster-scheduler' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tm-taskmaster-scheduler', namespace: 'taskmaster' }]);
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler').spec.template.spec.serviceAccountName).toBe('tm-taskmaster-scheduler');
    // The one other Role is the password hook Job's, deleted once the hook succeeds (chart-gitops.test.ts).
    expect(objects.filter((object) => object.kind === 'Role').map((role) => role.metadata.name).sort()).toEqual(['tm-taskmaster-postgres-password', 'tm-taskmaster-scheduler']);
  });

  it('keeps workers and coordinator without a Kubernetes token', () => {
    for (const name of ['coordinator', 'worker']) {
      expect(findObject(objects, 'ServiceAccount', `tm-taskmaster-${name}`).automountServiceAccountToken).toBe(false);
    }
    expect(findObject(objects, 'ServiceAccount', 'tm-taskmaster-scheduler').automountServiceAccountToken).toBe(true);
  });

  it('sets replicas when nothing else owns them', () => {
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker').spec.replicas).toBe(3);
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler').spec.replicas).toBe(1);
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator').spec).toMatchObject({ replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } } });
    expect(objects.some((object) => object.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('exposes the scheduler over HTTP and the coordinator over gRPC, with metrics beside', () => {
    expect(findObject(objects, 'Service', 'tm-taskmaster-scheduler').spec.ports).toEqual([{ name: 'http', port: 8081, targetPort: 'http', protocol: 'TCP' }]);
    expect(findObject(objects, 'Service', 'tm-taskmaster-coordinator').spec.ports).toEqual([
      { name: 'grpc', port: 8080, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
      { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(findObject(objects, 'Service', 'tm-taskmaster-worker').spec.clusterIP).toBe('None');
    // Every coordinator pod by one name, for the scheduler's worker list.
    expect(findObject(objects, 'Service', 'tm-taskmaster-coordinator-pods').spec).toMatchObject({ clusterIP: 'None', ports: [{ name: 'grpc', port: 8080 }] });
    expect(findObject(objects, 'ConfigMap', 'tm-taskmaster').data.COORDINATORS_ADDRESS).toBe('tm-taskmaster-coordinator-pods:8080');
  });

  it('annotates every pod for Prometheus scraping', () => {
    const annotations = (name: string) => findObject(objects, 'Deployment', `tm-taskmaster-${name}`).spec.template.metadata.annotations;
    expect(annotations('scheduler')).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8081', 'prometheus.io/path': '/metrics' });
    expect(annotations('coordinator')).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
    expect(annotations('worker')).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
  });

  it('runs PostgreSQL as a StatefulSet with a volume and a password generated once in the cluster', () => {
    const statefulSet = findObject(objects, 'StatefulSet', 'tm-taskmaster-postgres');
    expect(statefulSet.spec.template.spec.containers[0].image).toBe('postgres:17');
    expect(statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('8Gi');
    // The Secret is the postgres-password hook Job's to make (chart-gitops.test.ts), not the render's.
    expect(objects.some((object) => object.kind === 'Secret' && object.metadata.name === 'tm-taskmaster-postgres')).toBe(false);
    expect(objects.some((object) => object.kind === 'Job' && object.metadata.labels?.['app.kubernetes.io/component'] === 'postgres-password')).toBe(true);
    expect(findObject(objects, 'Service', 'tm-taskmaster-postgres').spec.ports[0].port).toBe(5432);
  });

  it('ships the Grafana dashboard for the sidecar', () => {
    const dashboard = findObject(objects, 'ConfigMap', 'tm-taskmaster-dashboard');
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const shipped = readFileSync(join(CHART_DIR, 'dashboards', 'taskmaster.json'), 'utf8');
    expect(JSON.parse(dashboard.data['taskmaster.json'])).toEqual(JSON.parse(shipped));
  });

  it('has no ingress, ServiceMonitor, PDB or chart Secret unless asked', () => {
    const kinds = new Set(objects.map((object) => object.kind));
    for (const kind of ['Ingress', 'ServiceMonitor', 'PodDisruptionBudget']) expect(kinds.has(kind)).toBe(false);
    expect(objects.some((object) => object.kind === 'Secret' && object.metadata.name === 'tm-taskmaster')).toBe(false);
  });
});

describe('migrations', () => {
  const job = (options: RenderOptions) => renderChart(options).find((object) => object.kind === 'Job' && object.metadata.labels?.['app.kubernetes.io/component'] === 'migrate');

  it('run as a plain Job at install, waiting for the database first', () => {
    const install = job({})!;
    expect(install.metadata.name).toBe('tm-taskmaster-migrate');
    expect(install.metadata.annotations).toBeUndefined();
    const pod = install.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.initContainers[0]).toMatchObject({ name: 'wait-for-database', image: 'postgres:17' });
    expect(pod.initContainers[0].command.join(' ')).toContain('pg_isready');
    expect(pod.containers[0].image).toBe('ghcr.io/taskmaster/taskmaster-migrate:0.1.0');
    // The Job carries its own database settings: a pre-upgrade hook runs before the ConfigMap is updated.
    expect(pod.containers[0].envFrom).toBeUndefined();
    expect(pod.containers[0].env.map((env: { name: string }) => env.name)).toEqual(
      ['LOG_LEVEL', 'POSTGRES_DB', 'POSTGRES_HOST', 'POSTGRES_PORT', 'POSTGRES_USER', 'POSTGRES_PASSWORD'],
    );
  });

  it('run as a pre-upgrade hook on upgrade', () => {
    const upgrade = job({ isUpgrade: true })!;
    expect(upgrade.metadata.name).toBe('tm-taskmaster-migrate-upgrade');
    expect(upgrade.metadata.annotations).toEqual({
      'helm.sh/hook': 'pre-upgrade',
      'helm.sh/hook-weight': '0',
      'helm.sh/hook-delete-policy': 'before-hook-creation',
    });
  });

  it('can be left to the operator', () => {
    expect(job({ set: { 'migrations.enabled': false } })).toBeUndefined();
  });
});

describe('worker autoscaling', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderChart({ valuesFiles: [ciValues('autoscaling')] });
  });

  it('leaves replicas out of the Deployments someone else scales, so helm upgrade keeps theirs', () => {
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker').spec).not.toHaveProperty('replicas');
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler').spec).not.toHaveProperty('replicas');
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator').spec.replicas).toBe(1);
  });

  it('configures the autoscaler and its leader election', () => {
    expect(configOf(objects)).toMatchObject({
      AUTOSCALER_ENABLED: 'true',
      AUTOSCALER_MIN_REPLICAS: '2',
      AUTOSCALER_MAX_REPLICAS: '20',
      AUTOSCALER_COOLDOWN: '30s',
      AUTOSCALER_TASKS_PER_WORKER: '10',
      LEASE_NAME: 'tm-taskmaster-autoscaler',
    });
    const rules = findObject(objects, 'Role', 'tm-taskmaster-scheduler').rules;
    expect(rules.slice(3)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['tm-taskmaster-autoscaler'], verbs: ['get', 'update'] },
    ]);
  });

  it('gives the scheduler an HPA', () => {
    expect(findObject(objects, 'HorizontalPodAutoscaler', 'tm-taskmaster-scheduler').spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'tm-taskmaster-scheduler' },
      minReplicas: 2,
      maxReplicas: 4,
    });
  });
});

describe('ServiceMonitors', () => {
  const serviceMonitors = (apiVersions: string[]) =>
    renderChart({ valuesFiles: [ciValues('monitoring')], apiVersions }).filter((object) => object.kind === 'ServiceMonitor');

  it('are rendered with enabled true whatever helm can see (helm template, Argo CD), with auto only where the cluster serves them', () => {
    expect(serviceMonitors([]).map((monitor) => monitor.metadata.name)).toEqual(['tm-taskmaster-coordinator', 'tm-taskmaster-scheduler', 'tm-taskmaster-worker']);
    const auto = (apiVersions: string[]) => renderChart({ set: { 'coordinator.serviceMonitor.enabled': 'auto' }, apiVersions })
      .filter((object) => object.kind === 'ServiceMonitor').map((monitor) => monitor.metadata.name);
    expect(auto([])).toEqual([]);
    expect(auto(['monitoring.coreos.com/v1/ServiceMonitor'])).toEqual(['tm-taskmaster-coordinator']);
    expect(renderChart({ apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'] }).some((object) => object.kind === 'ServiceMonitor')).toBe(false);
    const monitors = serviceMonitors([]);
    expect(monitors.map((monitor) => [monitor.metadata.name, monitor.spec.endpoints[0].port])).toEqual([
      ['tm-taskmaster-coordinator', 'metrics'],
      ['tm-taskmaster-scheduler', 'http'],
      ['tm-taskmaster-worker', 'metrics'],
    ]);
    for (const monitor of monitors) {
      expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
      expect(monitor.spec.endpoints[0]).toMatchObject({ path: '/metrics', honorLabels: true });
      expect(monitor.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(monitor.metadata.name.replace('tm-taskmaster-', ''));
    }
  });
});

describe('ingress', () => {
  it('routes the hosts to the scheduler with TLS and the SSE-friendly annotations', () => {
    const ingress = findObject(renderChart({ valuesFiles: [ciValues('ingress-tls')] }), 'Ingress', 'tm-taskmaster-scheduler');
    expect(ingress.spec).toEqual({
      ingressClassName: 'contour',
      tls: [{ secretName: 'taskmaster-tls', hosts: ['taskmaster.example.com'] }],
      rules: [{
        host: 'taskmaster.example.com',
        http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'tm-taskmaster-scheduler', port: { name: 'http' } } } }] },
      }],
    });
    expect(ingress.metadata.annotations).toMatchObject({ 'projectcontour.io/response-timeout': 'infinity' });
  });
});

describe('network policies', () => {
  const selector = (component: string) => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': component } } });
  const rules = (objects: K8sObject[], component: string) => findObject(objects, 'NetworkPolicy', `tm-taskmaster-${component}`).spec;

  it('let only the scheduler and workers reach the coordinator, only the coordinator the workers, only the services PostgreSQL', () => {
    const objects = renderDefaults();
    expect(rules(objects, 'coordinator')).toEqual({
      podSelector: selector('coordinator').podSelector,
      policyTypes: ['Ingress'],
      ingress: [
        { from: [selector('scheduler'), selector('worker')], ports: [{ port: 'grpc', protocol: 'TCP' }] },
        // From anywhere: no `from` rather than `from: []`, which the API server drops (a server-side apply would see a change every time).
        { ports: [{ port: 'metrics', protocol: 'TCP' }] },
      ],
    });
    expect(rules(objects, 'worker').ingress[0]).toEqual({ from: [selector('coordinator')], ports: [{ port: 8090, protocol: 'TCP' }] });
    expect(rules(objects, 'postgres').ingress).toEqual([
      { from: [selector('scheduler'), selector('coordinator'), selector('migrate')], ports: [{ port: 5432, protocol: 'TCP' }] },
    ]);
    expect(rules(objects, 'scheduler').ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    // Every policy selects pods that exist: each selector matches a rendered pod template's labels.
    const templates = podTemplates(objects).map(({ pod }) => pod.metadata.labels as Record<string, string>);
    for (const policy of objects.filter((object) => object.kind === 'NetworkPolicy')) {
      const wanted = policy.spec.podSelector.matchLabels as Record<string, string>;
      expect({ policy: policy.metadata.name, matched: templates.some((labels) => Object.entries(wanted).every(([k, v]) => labels[k] === v)) })
        .toEqual({ policy: policy.metadata.name, matched: true });
    }
  });

  it('can be switched off, and the metrics ports limited to Prometheus\'s namespace', () => {
    expect(renderChart({ set: { 'networkPolicy.enabled': false } }).some((object) => object.kind === 'NetworkPolicy')).toBe(false);
    const objects = renderChart({ set: { 'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name': 'monitoring' } });
    expect(rules(objects, 'coordinator').ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
  });
});

describe('the kind walkthrough\'s second step (k8s/kind-tour-values.yaml)', () => {
  it('adds a reports pool sized on its queue, ServiceMonitors and alerts for kube-prometheus-stack, and TaskSchedules', () => {
    const objects = renderChart({ valuesFiles: [DEV_VALUES[0], join(REPO_ROOT, 'k8s', 'kind-tour-values.yaml')] });
    const pool = findObject(objects, 'Deployment', 'tm-taskmaster-worker-reports');
    expect(envOf(pool)).toContainEqual({ name: 'WORKER_QUEUES', value: 'reports' });
    const pools = JSON.parse(configOf(objects).WORKER_POOLS);
    expect(pools).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'reports', queues: ['reports'] })]));
    for (const component of ['scheduler', 'coordinator', 'worker']) {
      expect(findObject(objects, 'ServiceMonitor', `tm-taskmaster-${component}`).metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    }
    expect(objects.some((object) => object.kind === 'PrometheusRule')).toBe(true);
    expect(configOf(objects).TASK_SCHEDULES_ENABLED).toBe('true');
  });
});

describe('gRPC mutual TLS', () => {
  const deployment = (objects: K8sObject[], component: string) => findObject(objects, 'Deployment', `tm-taskmaster-${component}`);
  const secretOf = (objects: K8sObject[], component: string): string | undefined =>
    deployment(objects, component).spec.template.spec.volumes.find((volume: { name: string }) => volume.name === 'grpc-tls')?.secret.secretName;

  it('is off by default, and then every service is told plaintext is on purpose, which the coordinator accepts on 0.0.0.0', () => {
    const objects = renderDefaults();
    const config = configOf(objects);
    expect(config).toMatchObject({ GRPC_INSECURE: 'true', BIND_HOST: '0.0.0.0' });
    expect(Object.keys(config).filter((key) => key.startsWith('GRPC_TLS'))).toEqual([]);
    const loaded = loadConfig(config);
    expect(() => grpcListeners({ tls: loaded.grpc.tls, insecure: loaded.grpc.insecure, bindHost: loaded.bindHost, port: 8080 })).not.toThrow();
    for (const component of ['scheduler', 'coordinator', 'worker']) expect(secretOf(objects, component)).toBeUndefined();
  });

  it('mounts each component\'s certificate Secret where GRPC_TLS_* point, with cert-manager Certificates carrying the roles', () => {
    const objects = renderChart({ valuesFiles: [ciValues('grpc-tls')] });
    const config = configOf(objects);
    expect(config).toMatchObject({
      GRPC_TLS_CA: '/etc/taskmaster/grpc-tls/ca.crt',
      GRPC_TLS_CERT: '/etc/taskmaster/grpc-tls/tls.crt',
      GRPC_TLS_KEY: '/etc/taskmaster/grpc-tls/tls.key',
      GRPC_TLS_SERVER_NAME: 'tm-taskmaster-coordinator',
      GRPC_TLS_RELOAD: '60s',
    });
    expect(config).not.toHaveProperty('GRPC_INSECURE');
    // config.ts takes them as one TLS setting, and the coordinator then serves TLS on 0.0.0.0.
    const loaded = loadConfig(config);
    expect(loaded.grpc.tls).toMatchObject({ ca: config.GRPC_TLS_CA, cert: config.GRPC_TLS_CERT, key: config.GRPC_TLS_KEY, serverName: 'tm-taskmaster-coordinator' });
    for (const component of ['scheduler', 'coordinator', 'worker']) {
      expect(secretOf(objects, component)).toBe(`tm-taskmaster-${component}-grpc-tls`);
      expect(containerOf(deployment(objects, component)).volumeMounts).toContainEqual({ name: 'grpc-tls', mountPath: '/etc/taskmaster/grpc-tls', readOnly: true });
      const certificate = findObject(objects, 'Certificate', `tm-taskmaster-${component}-grpc`);
      expect(certificate.spec).toMatchObject({ secretName: `tm-taskmaster-${component}-grpc-tls`, issuerRef: { name: 'taskmaster-ca', kind: 'Issuer' } });
      expect(certificate.spec.subject?.organizationalUnits).toEqual(component === 'coordinator' ? undefined : [component]);
    }
    // The name the clients check is one the coordinator's certificate carries.
    expect(findObject(objects, 'Certificate', 'tm-taskmaster-coordinator-grpc').spec.dnsNames).toContain(config.GRPC_TLS_SERVER_NAME);
    // The kubelet's gRPC probe speaks no TLS: the coordinator is probed over HTTP then.
    const coordinator = containerOf(deployment(objects, 'coordinator'));
    expect(coordinator.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'metrics' } });
    expect(coordinator.readinessProbe).toBeUndefined();
  });

  it('serves original workers a plaintext port that only pods labelled for it may reach', () => {
    const objects = renderChart({ valuesFiles: [ciValues('grpc-tls')] });
    const coordinator = containerOf(deployment(objects, 'coordinator'));
    expect(coordinator.ports).toContainEqual({ name: 'grpc-plaintext', containerPort: 8079, protocol: 'TCP' });
    expect(coordinator.env).toContainEqual({ name: 'GRPC_PLAINTEXT_PORT', value: '8079' });
    expect(findObject(objects, 'Service', 'tm-taskmaster-coordinator').spec.ports).toContainEqual({ name: 'grpc-plaintext', port: 8079, targetPort: 'grpc-plaintext', protocol: 'TCP', appProtocol: 'grpc' });
    const ingress = findObject(objects, 'NetworkPolicy', 'tm-taskmaster-coordinator').spec.ingress;
    expect(ingress).toContainEqual({ from: [{ podSelector: { matchLabels: { 'taskmaster.dev/plaintext-grpc': 'true' } } }], ports: [{ port: 'grpc-plaintext', protocol: 'TCP' }] });
  });

  it('takes existing Secrets, and refuses a Certificate without an issuer or a plaintext port without TLS', () => {
    const objects = renderChart({ set: { 'grpcTls.enabled': true, 'grpcTls.secretNames.worker': 'my-worker-cert' } });
    expect(secretOf(objects, 'worker')).toBe('my-worker-cert');
    expect(objects.some((object) => object.kind === 'Certificate')).toBe(false);
    const noIssuer = runTool('helm', ['template', 'tm', CHART_DIR, '--set', 'grpcTls.enabled=true', '--set', 'grpcTls.certManager.enabled=true']);
    expect(noIssuer.stderr).toContain('grpcTls.certManager.enabled needs grpcTls.certManager.issuerRef.name');
    const plaintextOnly = runTool('helm', ['template', 'tm', CHART_DIR, '--set', 'grpcTls.plaintextPort=8079']);
    expect(plaintextOnly.stderr).toContain('grpcTls.plaintextPort is a plaintext port beside a TLS one');
  });
});

describe('credentials', () => {
  it('take an external database URL from an existing Secret and run no PostgreSQL', () => {
    const objects = renderChart({ valuesFiles: [ciValues('external-postgres')] });
    expect(objects.some((object) => object.metadata.name.endsWith('-postgres'))).toBe(false);
    const url = { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'taskmaster-database', key: 'DATABASE_URL' } } };
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'))).toContainEqual(url);
    expect(findObject(objects, 'Job', 'tm-taskmaster-migrate').spec.template.spec.containers[0].env).toContainEqual(url);
    expect(Object.keys(configOf(objects)).filter((key) => key.startsWith('POSTGRES_'))).toEqual([]);
  });

  it('take an external database password from an existing Secret', () => {
    const objects = renderChart({ set: { 'postgresql.enabled': false, 'externalDatabase.host': 'db.example.com', 'externalDatabase.existingSecret': 'db' } });
    expect(configOf(objects)).toMatchObject({ POSTGRES_HOST: 'db.example.com', POSTGRES_PORT: '5432' });
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator'))).toContainEqual(
      { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    );
  });

  it('serve the API open (AUTH=none) only without a token, and refuse an open Ingress', () => {
    const open = envOf(findObject(renderDefaults(), 'Deployment', 'tm-taskmaster-scheduler'));
    expect(open).toContainEqual({ name: 'AUTH', value: 'none' });
    const tokens = envOf(findObject(renderChart({ set: { 'scheduler.auth.tokensSecret': 'taskmaster-tokens' } }), 'Deployment', 'tm-taskmaster-scheduler'));
    expect(tokens).toContainEqual({ name: 'API_TOKENS', valueFrom: { secretKeyRef: { name: 'taskmaster-tokens', key: 'api-tokens' } } });
    expect(tokens.map((env: { name: string }) => env.name)).not.toContain('AUTH');
    expect(renderFailure({ set: { 'ingress.enabled': true } })).toContain('ingress.enabled needs an API token');
  });

  it('protect the scheduler\'s /metrics on request, with the token Prometheus scrapes with', () => {
    expect(envOf(findObject(renderDefaults(), 'Deployment', 'tm-taskmaster-scheduler')).map((env) => env.name)).not.toContain('METRICS_AUTH');
    const authorization = { type: 'Bearer', credentials: { name: 'prometheus-token', key: 'token' } };
    const objects = renderChart({
      apiVersions: ['monitoring.coreos.com/v1'],
      set: {
        'scheduler.auth.tokensSecret': 'taskmaster-tokens', 'scheduler.auth.protectMetrics': true, 'scheduler.serviceMonitor.enabled': true,
        'scheduler.serviceMonitor.authorization.type': 'Bearer', 'scheduler.serviceMonitor.authorization.credentials.name': 'prometheus-token',
        'scheduler.serviceMonitor.authorization.credentials.key': 'token',
      },
    });
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'))).toContainEqual({ name: 'METRICS_AUTH', value: 'token' });
    expect(loadConfig({ METRICS_AUTH: 'token' }).scheduler.metricsAuth).toBe('token');
    expect(findObject(objects, 'ServiceMonitor', 'tm-taskmaster-scheduler').spec.endpoints[0].authorization).toEqual(authorization);
  });

  it('accept JWTs from an OIDC issuer, which counts as authentication for an Ingress', () => {
    const set = { 'scheduler.auth.oidc.issuer': 'https://id.example.com/realms/tm', 'scheduler.auth.oidc.audience': 'taskmaster', 'scheduler.auth.oidc.rolesClaim': 'realm_access.roles' };
    const objects = renderChart({ set: { ...set, 'ingress.enabled': true, 'ingress.hosts[0].host': 'tm.example.com', 'ingress.hosts[0].paths[0].path': '/', 'ingress.hosts[0].paths[0].pathType': 'Prefix' } });
    const env = envOf(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'));
    const values = Object.fromEntries(env.filter((entry) => entry.name.startsWith('OIDC_')).map((entry) => [entry.name, entry.value ?? '']));
    expect(values).toEqual({
      OIDC_ISSUER: 'https://id.example.com/realms/tm', OIDC_AUDIENCE: 'taskmaster', OIDC_ROLES_CLAIM: 'realm_access.roles',
      OIDC_VIEWER_ROLES: 'taskmaster-viewer', OIDC_OPERATOR_ROLES: 'taskmaster-operator', OIDC_NAME_CLAIM: 'preferred_username',
    });
    expect(loadConfig(values).scheduler.oidc).toMatchObject({ issuer: values.OIDC_ISSUER, rolesClaim: 'realm_access.roles', operatorRoles: ['taskmaster-operator'] });
    expect(env.map((entry) => entry.name)).not.toContain('AUTH');
    const noAudience = runTool('helm', ['template', 'tm', CHART_DIR, '--set', 'scheduler.auth.oidc.issuer=https://id.example.com']);
    expect(noAudience.stderr).toContain('scheduler.auth.oidc.issuer needs scheduler.auth.oidc.audience');
  });

  it('put an API token in the chart Secret, read by the scheduler only', () => {
    const objects = renderChart({ set: { 'scheduler.auth.apiToken': 's3cret' } });
    expect(Buffer.from(findObject(objects, 'Secret', 'tm-taskmaster').data['api-token'], 'base64').toString()).toBe('s3cret');
    const token = { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'tm-taskmaster', key: 'api-token' } } };
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-scheduler'))).toContainEqual(token);
    expect(envOf(findObject(objects, 'Deployment', 'tm-taskmaster-coordinator'))).not.toContainEqual(token);
  });
});

describe('config checksums', () => {
  const checksums = (set: RenderOptions['set']) => {
    const objects = renderChart({ set });
    return Object.fromEntries(['scheduler', 'coordinator', 'worker'].map((name) => {
      const annotations = findObject(objects, 'Deployment', `tm-taskmaster-${name}`).spec.template.metadata.annotations;
      return [name, { config: annotations['checksum/config'], secret: annotations['checksum/secret'] }];
    }));
  };

  it('are stable, and change with the configuration so that pods roll', () => {
    const before = checksums({});
    expect(checksums({})).toEqual(before);
    expect(before.worker.config).toMatch(/^[0-9a-f]{64}$/);

    const changed = checksums({ 'config.logLevel': 'debug' });
    for (const name of ['scheduler', 'coordinator', 'worker']) expect(changed[name].config).not.toBe(before[name].config);

    const token = checksums({ 'scheduler.auth.apiToken': 'other' });
    expect(token.scheduler.secret).not.toBe(before.scheduler.secret);
    // Only the scheduler reads the chart Secret; the token must not restart (and drain) the workers.
    expect(token.worker).toEqual(before.worker);
    expect(token.coordinator).toEqual(before.coordinator);
  });
});

describe('values.schema.json', () => {
  const failure = (set: Record<string, string | number | boolean>) => renderFailure({ set });

  it('rejects bad values at install with a message naming the value', () => {
    expect(failure({ 'worker.replicas': -1 })).toContain('worker.replicas: Must be greater than or equal to 0');
    expect(failure({ 'worker.replicas': 51 })).toContain('worker.replicas: Must be less than or equal to 50');
    expect(failure({ 'worker.replicas': 'many' })).toContain('worker.replicas: Invalid type. Expected: integer, given: string');
    expect(failure({ 'worker.replica': 2 })).toContain('worker: Additional property replica is not allowed');
    expect(failure({ 'coordinator.replicas': 11 })).toContain('coordinator.replicas: Must be less than or equal to 10');
    expect(failure({ 'config.logLevel': 'loud' })).toContain('config.logLevel');
    expect(failure({ 'worker.taskProcessTime': 'soon' })).toContain('worker.taskProcessTime: Does not match pattern');
    expect(failure({ 'postgresql.enabled': false })).toContain('externalDatabase.existingSecret: String length must be greater than or equal to 1');
    expect(failure({ 'scheduler.payloadMaxBytes': 0 })).toContain('scheduler.payloadMaxBytes: Must be greater than or equal to 1');
    expect(failure({ 'scheduler.payloadMaxBytes': 4194304 }))
      .toContain('scheduler.bodyMaxBytes (4194304) must be at least scheduler.payloadMaxBytes + 65536 (4259840)');
  });

  it('refuses a schedule without a key, name or cron, or with an unknown overlap', () => {
    expect(failure({ 'schedules[0].name': 'report', 'schedules[0].cron': '0 2 * * *' })).toContain('key is required');
    expect(failure({ 'schedules[0].key': 'r', 'schedules[0].name': 'report', 'schedules[0].cron': '0 2 * * *', 'schedules[0].overlap': 'queue' }))
      .toContain('schedules.0.overlap');
  });

  it('passes schedules to the coordinators as SCHEDULES, JSON the coordinator checks with the API\'s schema', () => {
    const config = configOf(renderChart({ valuesFiles: ['charts/taskmaster/ci/schedules-values.yaml'] }));
    const schedules = JSON.parse(config.SCHEDULES);
    expect(schedules).toEqual([
      { key: 'nightly-report', name: 'build-report', cron: '0 2 * * *', timezone: 'Europe/Paris', payload: { format: 'pdf' }, overlap: 'skip' },
      { key: 'heartbeat-check', name: 'ping', cron: '*/30 * * * * *', catch_up: 'none' },
    ]);
    expect(parseConfiguredSchedules(config.SCHEDULES).map((s) => s.key)).toEqual(['nightly-report', 'heartbeat-check']);
    expect(configOf(renderDefaults()).SCHEDULES).toBeUndefined();
  });

  it('passes retention per finished state and for events, the timeout grace and the key lifetime to every service', () => {
    expect(configOf(renderChart({ set: { 'config.retention.failed': '90d', 'config.retention.events': '0' } }))).toMatchObject({
      TASK_RETENTION_SUCCEEDED: '7d', TASK_RETENTION_FAILED: '90d', TASK_RETENTION_CANCELLED: '7d', EVENTS_RETENTION: '0',
      TASK_TIMEOUT_GRACE: '30s', IDEMPOTENCY_KEY_TTL: '24h',
    });
    expect(failure({ 'config.retention.succeeded': 'a week' })).toContain('config.retention.succeeded');
  });

  it('passes the payload and body limits to the scheduler, as whole numbers however large', () => {
    const config = configOf(renderChart({ set: { 'scheduler.payloadMaxBytes': 1048576, 'scheduler.bodyMaxBytes': 16777216 } }));
    expect(config).toMatchObject({ PAYLOAD_MAX_BYTES: '1048576', HTTP_BODY_MAX_BYTES: '16777216' });
  });
});

describe('TaskSchedules', () => {
  const roleName = 'tm-taskmaster-scheduler-taskschedules';

  it('are off by default: no Role for them, and the scheduler told so', () => {
    const objects = renderDefaults();
    expect(objects.filter((object) => object.metadata.name === roleName)).toEqual([]);
    expect(configOf(objects).TASK_SCHEDULES_ENABLED).toBe('false');
    expect(configOf(objects)).not.toHaveProperty('TASK_SCHEDULES_LEASE_NAME');
  });

  it('grant the reconciler reading TaskSchedules, writing their status and its Lease, and configure it', () => {
    const objects = renderChart({ valuesFiles: [ciValues('taskschedules')] });
    const role = findObject(objects, 'Role', roleName);
    expect(role.metadata.namespace).toBe('taskmaster');
    expect(role.rules).toEqual([
      { apiGroups: ['taskmaster.dev'], resources: ['taskschedules'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['taskmaster.dev'], resources: ['taskschedules/status'], verbs: ['update', 'patch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['tm-taskmaster-taskschedules'], verbs: ['get', 'update'] },
    ]);
    const binding = findObject(objects, 'RoleBinding', roleName);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tm-taskmaster-scheduler', namespace: 'taskmaster' }]);
    expect(configOf(objects)).toMatchObject({
      TASK_SCHEDULES_ENABLED: 'true',
      TASK_SCHEDULES_NAMESPACE: 'taskmaster',
      TASK_SCHEDULES_LEASE_NAME: 'tm-taskmaster-taskschedules',
      TASK_SCHEDULES_RESYNC: '30s',
      TASK_SCHEDULES_STATUS_INTERVAL: '5s',
    });
    // The scaler's Role is untouched by it.
    expect(findObject(objects, 'Role', 'tm-taskmaster-scheduler').rules.flatMap((rule: { resources: string[] }) => rule.resources)).not.toContain('taskschedules');
  });

  it('watch another namespace when asked: Role and Lease there, bound to the scheduler of the release namespace', () => {
    const objects = renderChart({ valuesFiles: [ciValues('taskschedules')], set: { 'scheduler.taskSchedules.namespace': 'jobs' } });
    expect(findObject(objects, 'Role', roleName).metadata.namespace).toBe('jobs');
    expect(findObject(objects, 'RoleBinding', roleName)).toMatchObject({
      metadata: { namespace: 'jobs' }, subjects: [{ kind: 'ServiceAccount', name: 'tm-taskmaster-scheduler', namespace: 'taskmaster' }],
    });
    expect(configOf(objects).TASK_SCHEDULES_NAMESPACE).toBe('jobs');
  });

  it('leave RBAC to the operator with scheduler.rbac.create false, and refuse bad values', () => {
    expect(renderChart({ valuesFiles: [ciValues('taskschedules')], set: { 'scheduler.rbac.create': false } }).filter((object) => object.metadata.name === roleName)).toEqual([]);
    const refused = (set: Record<string, string>) => runTool('helm', ['template', 'tm', CHART_DIR, ...Object.entries(set).flatMap(([key, value]) => ['--set', `${key}=${value}`])]);
    expect(refused({ 'scheduler.taskSchedules.namespace': 'Not_A_Namespace' }).stderr).toContain('scheduler.taskSchedules.namespace: Does not match pattern');
    expect(refused({ 'scheduler.taskSchedules.resync': 'often' }).stderr).toContain('scheduler.taskSchedules.resync: Does not match pattern');
  });
});
