/**
 * The chart against a real kube-apiserver (envtest: etcd + kube-apiserver from scripts/build-testbin.sh;
 * skipped with a warning when they are not built). Every scenario is applied with server-side dry run and
 * strict field validation, so the API server's own schemas judge the manifests; then a real install and
 * upgrades check what only a cluster can show: the generated password survives, an autoscaled worker count
 * survives `helm upgrade`, and the scheduler's Role allows exactly the scaler's calls.
 */
import { join } from 'node:path';
import { describeIfControlPlane, startControlPlane, type ControlPlane } from '../helpers/envtest';
import { CHART_DIR, CI_VALUES, DEV_VALUES, REPO_ROOT, runTool, templateArgs, type RenderOptions } from '../helpers/helm';
import { certManagerCrds, cloudnativePgCrds, gatewayApiCrds, kedaCrds, prometheusOperatorCrds } from '../helpers/third-party-crds';

describeIfControlPlane('chart on a real kube-apiserver', () => {
  let cp: ControlPlane;

  const kubectl = (args: string[], input?: string) => runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { input });
  const helm = (args: string[]) => runTool('helm', ['--kubeconfig', cp.kubeconfigPath, ...args]);
  const ok = <T extends { status: number | null; stdout: string; stderr: string }>(result: T): T => {
    if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr || result.stdout}`);
    return result;
  };
  const json = (args: string[]) => JSON.parse(ok(kubectl([...args, '-o', 'json'])).stdout);

  beforeAll(async () => {
    cp = await startControlPlane();
    // Third-party CRDs from their projects' Go modules, so the dry runs judge the chart's objects by the real
    // schemas: cert-manager (grpcTls.certManager's Certificates, k8s/grpc-tls-issuer.yaml), the Prometheus
    // operator (ServiceMonitors, the PrometheusRule), the Gateway API (the HTTPRoute) and CloudNativePG (the
    // Cluster and ScheduledBackup of postgresql.mode cloudnative-pg). Server-side: some exceed the 256 KiB
    // last-applied annotation of a client-side apply.
    // KEDA: the ScaledObject (and TriggerAuthentication) of worker pools whose replicas it owns.
    for (const crds of [certManagerCrds(), prometheusOperatorCrds(), gatewayApiCrds(), cloudnativePgCrds(), kedaCrds()]) {
      ok(kubectl(['apply', '--server-side', '-f', '-'], crds));
    }
    // One kubectl for all of them: it fails unless every one is Established.
    const established = [
      'certificates.cert-manager.io', 'issuers.cert-manager.io', 'clusterissuers.cert-manager.io',
      'servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com',
      'httproutes.gateway.networking.k8s.io', 'clusters.postgresql.cnpg.io', 'scheduledbackups.postgresql.cnpg.io',
      'scaledobjects.keda.sh', 'triggerauthentications.keda.sh',
    ];
    ok(kubectl(['wait', '--for=condition=Established', ...established.map((crd) => `crd/${crd}`), '--timeout=60s']));
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 30_000);

  const scenarios: Array<[string, RenderOptions]> = [
    ['defaults', {}],
    ['defaults, as an upgrade (hooks)', { isUpgrade: true }],
    ...[...CI_VALUES, ...DEV_VALUES].map((file): [string, RenderOptions] => [file.slice(REPO_ROOT.length + 1), { valuesFiles: [file] }]),
    ['k8s/kind-values.yaml with k8s/kind-tour-values.yaml', { valuesFiles: [DEV_VALUES[0], join(REPO_ROOT, 'k8s', 'kind-tour-values.yaml')] }],
  ];

  it.each(scenarios)('accepts every object of %s (server-side dry run, strict validation)', (_name, options) => {
    const namespace = `dry-${Math.random().toString(36).slice(2, 8)}`;
    ok(kubectl(['create', 'namespace', namespace]));
    const manifest = ok(runTool('helm', templateArgs({ ...options, namespace }))).stdout;
    const result = kubectl(['apply', '--dry-run=server', '--validate=strict', '--namespace', namespace, '-f', '-'], manifest);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const applied = result.stdout.trim().split('\n');
    expect(applied.length).toBe((manifest.match(/^kind: /gm) ?? []).length);
    for (const line of applied) expect(line).toMatch(/\(server dry run\)$/);
  });

  it('accepts k8s/grpc-tls-issuer.yaml, the self-signed CA issuer the docs give for kind (server-side dry run, strict validation)', () => {
    const namespace = `issuer-${Math.random().toString(36).slice(2, 8)}`;
    ok(kubectl(['create', 'namespace', namespace]));
    const result = kubectl(['apply', '--dry-run=server', '--validate=strict', '--namespace', namespace, '-f', join(REPO_ROOT, 'k8s', 'grpc-tls-issuer.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').map((line) => line.replace(/ \(server dry run\)$/, ''))).toEqual([
      'clusterissuer.cert-manager.io/taskmaster-selfsigned created',
      'certificate.cert-manager.io/taskmaster-ca created',
      'issuer.cert-manager.io/taskmaster-ca created',
    ]);
  });

  describe('install and upgrades', () => {
    const namespace = 'release';
    const worker = 'deployment/tm-taskmaster-worker';
    const autoscaling = join(CHART_DIR, 'ci', 'autoscaling-values.yaml');
    const password = () => json(['get', 'secret', 'tm-taskmaster-postgres', '-n', namespace]).data['postgres-password'] as string;
    const replicas = () => json(['get', worker, '-n', namespace]).spec.replicas as number;

    beforeAll(() => {
      ok(kubectl(['create', 'namespace', namespace]));
    });

    it('installs, and tells the user how to open the dashboard', () => {
      // --no-hooks: the password generator's hook Job would wait for a kubelet that envtest does not have. The Secret
      // it makes is made here instead; chart-gitops-apiserver.test.ts runs the generator itself through the hooks.
      const generated = Buffer.from('a'.repeat(32)).toString('base64');
      ok(kubectl(['create', '-n', namespace, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tm-taskmaster-postgres' }, data: { 'postgres-password': generated } })));
      const result = ok(helm(['install', 'tm', CHART_DIR, '-n', namespace, '-f', autoscaling, '--no-hooks']));
      expect(result.stdout).toContain(`kubectl --namespace ${namespace} port-forward svc/tm-taskmaster-scheduler 8081:8081`);
      expect(result.stdout).toContain('The scheduler sets the worker replicas (2 to 20)');
      expect(result.stdout).toContain('gRPC between the services is plaintext (GRPC_INSECURE=true), guarded by the NetworkPolicies only');
      expect(json(['get', 'job', 'tm-taskmaster-migrate', '-n', namespace]).spec.template.spec.initContainers[0].name).toBe('wait-for-database');
      // No replicas in the manifest: the API server defaults a new Deployment to 1, and the autoscaler takes it from there.
      expect(replicas()).toBe(1);
    });

    it('keeps the generated password and the replicas the autoscaler set across helm upgrade', () => {
      const before = password();
      const checksum = () => json(['get', worker, '-n', namespace]).spec.template.metadata.annotations['checksum/config'];
      const oldChecksum = checksum();
      ok(kubectl(['scale', worker, '-n', namespace, '--replicas=7']));

      // --no-hooks: the pre-upgrade migration Job would wait for a kubelet that envtest does not have.
      ok(helm(['upgrade', 'tm', CHART_DIR, '-n', namespace, '-f', autoscaling, '--set', 'config.logLevel=debug', '--no-hooks']));
      expect(password()).toBe(before);
      expect(replicas()).toBe(7);
      expect(json(['get', 'configmap', 'tm-taskmaster', '-n', namespace]).data.LOG_LEVEL).toBe('debug');
      expect(checksum()).not.toBe(oldChecksum);
    });

    it('gives the replicas back to worker.replicas when the autoscaler is turned off', () => {
      // --reset-values: without values on the command line helm would reuse the previous release's.
      ok(helm(['upgrade', 'tm', CHART_DIR, '-n', namespace, '--reset-values', '--no-hooks']));
      expect(replicas()).toBe(3);
    });

    it("lets the scheduler's ServiceAccount scale and kill workers and nothing else", () => {
      ok(helm(['upgrade', 'tm', CHART_DIR, '-n', namespace, '-f', autoscaling, '--no-hooks']));
      const can = (...args: string[]) =>
        kubectl(['auth', 'can-i', '--as', `system:serviceaccount:${namespace}:tm-taskmaster-scheduler`, '-n', namespace, ...args]).stdout.trim();
      expect(can('patch', 'deployments.apps/tm-taskmaster-worker', '--subresource=scale')).toBe('yes');
      expect(can('get', 'deployments.apps/tm-taskmaster-worker', '--subresource=scale')).toBe('yes');
      // Verbs the scaler never sends are not granted.
      expect(can('update', 'deployments.apps/tm-taskmaster-worker', '--subresource=scale')).toBe('no');
      expect(can('patch', 'deployments.apps/tm-taskmaster-scheduler', '--subresource=scale')).toBe('no');
      expect(can('patch', 'deployments.apps/tm-taskmaster-worker')).toBe('no');
      expect(can('get', 'deployments.apps/tm-taskmaster-worker')).toBe('no');
      expect(can('list', 'deployments.apps')).toBe('no');
      expect(can('watch', 'pods')).toBe('no');
      expect(can('list', 'pods')).toBe('yes');
      expect(can('patch', 'pods')).toBe('yes');
      expect(can('delete', 'pods')).toBe('yes');
      expect(can('create', 'pods')).toBe('no');
      expect(can('get', 'secrets')).toBe('no');
      expect(can('create', 'leases.coordination.k8s.io')).toBe('yes');
      expect(can('update', 'leases.coordination.k8s.io/tm-taskmaster-autoscaler')).toBe('yes');
      expect(can('update', 'leases.coordination.k8s.io/another-lease')).toBe('no');
      expect(can('delete', 'pods', '-n', 'default')).toBe('no');
      expect(kubectl(['auth', 'can-i', '--as', `system:serviceaccount:${namespace}:tm-taskmaster-worker`, '-n', namespace, 'list', 'pods']).stdout.trim()).toBe('no');
    });

    it("refuses the scheduler's ServiceAccount the deletion of any pod but a worker's (ValidatingAdmissionPolicy)", async () => {
      // helm install asked the API server what it serves, so admissionPolicy "auto" rendered the policy.
      const policy = `${namespace}-tm-taskmaster-scheduler-pod-deletion`;
      expect(json(['get', 'validatingadmissionpolicybinding', policy]).spec.policyName).toBe(policy);
      // No kubelet here: pods named and labelled as the release's are created directly, and stay Pending.
      const labels = (component: string) => ({ 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': component });
      const pods = { 'tm-taskmaster-worker-7d9f-abcde': labels('worker'), 'tm-taskmaster-coordinator-5c8b-fghij': labels('coordinator'), 'tm-taskmaster-postgres-0': labels('postgres'), 'debug-shell': undefined };
      for (const [name, podLabels] of Object.entries(pods)) {
        const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: podLabels }, spec: { containers: [{ name: 'main', image: 'registry.invalid/x:1' }] } };
        ok(kubectl(['create', '-f', '-'], JSON.stringify(pod)));
      }
      const deleteAsScheduler = (name: string, ...flags: string[]) =>
        kubectl(['delete', 'pod', name, '-n', namespace, '--wait=false', '--as', `system:serviceaccount:${namespace}:tm-taskmaster-scheduler`, ...flags]);

      // The API server loads a new policy asynchronously; a server-side dry run goes through admission without deleting.
      const deadline = Date.now() + 30_000;
      while (!deleteAsScheduler('tm-taskmaster-coordinator-5c8b-fghij', '--dry-run=server').stderr.includes(policy)) {
        if (Date.now() > deadline) throw new Error(`the policy ${policy} did not take effect within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }

      for (const name of ['tm-taskmaster-coordinator-5c8b-fghij', 'tm-taskmaster-postgres-0', 'debug-shell']) {
        const refused = deleteAsScheduler(name);
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toContain(`ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request`);
        expect(refused.stderr).toContain('may delete or patch only worker pods');
        expect(kubectl(['get', 'pod', name, '-n', namespace]).status).toBe(0);
      }
      // Patching is held to worker pods too, and to their annotations: the pod-deletion-cost of a safe scale-down.
      const patchAsScheduler = (name: string, patch: unknown) =>
        kubectl(['patch', 'pod', name, '-n', namespace, '--type=merge', '-p', JSON.stringify(patch), '--as', `system:serviceaccount:${namespace}:tm-taskmaster-scheduler`]);
      const cost = { metadata: { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '3' } } };
      ok(patchAsScheduler('tm-taskmaster-worker-7d9f-abcde', cost));
      expect(json(['get', 'pod', 'tm-taskmaster-worker-7d9f-abcde', '-n', namespace]).metadata.annotations['controller.kubernetes.io/pod-deletion-cost']).toBe('3');
      expect(patchAsScheduler('tm-taskmaster-coordinator-5c8b-fghij', cost).stderr).toContain('may delete or patch only worker pods');
      expect(patchAsScheduler('tm-taskmaster-worker-7d9f-abcde', { metadata: { labels: { 'app.kubernetes.io/component': 'coordinator' } } }).stderr)
        .toContain('may change only the annotations of a worker pod');
      expect(patchAsScheduler('tm-taskmaster-worker-7d9f-abcde', { spec: { containers: [{ name: 'main', image: 'registry.invalid/other:1' }] } }).stderr)
        .toContain('may change only the annotations of a worker pod');
      ok(deleteAsScheduler('tm-taskmaster-worker-7d9f-abcde'));
      expect(kubectl(['get', 'pod', 'tm-taskmaster-worker-7d9f-abcde', '-n', namespace]).stderr).toContain('NotFound');
      // Only the scheduler is bound by it: an administrator still deletes any pod.
      ok(kubectl(['delete', 'pod', 'tm-taskmaster-coordinator-5c8b-fghij', 'tm-taskmaster-postgres-0', 'debug-shell', '-n', namespace, '--wait=false']));
    });

    it('leaves the password Secret behind on uninstall, for the data volume it opens', () => {
      ok(helm(['uninstall', 'tm', '-n', namespace]));
      expect(password()).toMatch(/^[A-Za-z0-9+/=]+$/);
      expect(kubectl(['get', worker, '-n', namespace]).status).not.toBe(0);
      // The cluster-scoped policy goes with the release.
      expect(kubectl(['get', 'validatingadmissionpolicy', `${namespace}-tm-taskmaster-scheduler-pod-deletion`]).stderr).toContain('NotFound');
    });
  });

  describe('TaskSchedules', () => {
    const namespace = 'taskschedules';
    const values = join(CHART_DIR, 'ci', 'taskschedules-values.yaml');

    beforeAll(() => {
      ok(kubectl(['create', 'namespace', namespace]));
    });

    it('installs the CRD from crds/, and lets the scheduler read TaskSchedules and write only their status', () => {
      // --no-hooks: no kubelet here to run the password generator's hook Job (the CRD and the Role are what count).
      ok(helm(['install', 'ts', CHART_DIR, '-n', namespace, '-f', values, '--no-hooks']));
      expect(json(['get', 'crd', 'taskschedules.taskmaster.dev']).spec.versions.map((version: { name: string }) => version.name)).toEqual(['v1alpha1']);
      const can = (...args: string[]) =>
        kubectl(['auth', 'can-i', '--as', `system:serviceaccount:${namespace}:ts-taskmaster-scheduler`, '-n', namespace, ...args]).stdout.trim();
      expect(can('watch', 'taskschedules.taskmaster.dev')).toBe('yes');
      expect(can('patch', 'taskschedules.taskmaster.dev', '--subresource=status')).toBe('yes');
      // No finalizer: the resources themselves are never written.
      expect(can('update', 'taskschedules.taskmaster.dev')).toBe('no');
      expect(can('delete', 'taskschedules.taskmaster.dev')).toBe('no');
      expect(can('update', 'leases.coordination.k8s.io/ts-taskmaster-taskschedules')).toBe('yes');
      expect(can('list', 'taskschedules.taskmaster.dev', '-n', 'default')).toBe('no');
    });

    it('takes the example manifest, and leaves the CRD and the resources in place on uninstall', () => {
      ok(kubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'k8s', 'examples', 'taskschedule.yaml')]));
      ok(kubectl(['apply', '--validate=strict', '-n', namespace, '-f', join(REPO_ROOT, 'k8s', 'examples', 'kind-tour-taskschedule.yaml')]));
      expect(json(['get', 'taskschedule', 'report-every-minute', '-n', namespace]).spec).toMatchObject({ task: 'sleep', queue: 'reports', payload: { seconds: 5 } });
      ok(helm(['uninstall', 'ts', '-n', namespace]));
      expect(json(['get', 'taskschedule', 'nightly-report', '-n', namespace]).spec).toMatchObject({ task: 'build-report', cron: '0 2 * * *', suspend: false });
    });
  });
});
