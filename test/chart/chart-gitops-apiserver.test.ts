/**
 * The chart under GitOps on a real kube-apiserver (envtest; skipped with a warning when it is not built): the
 * password generator with exactly the rights the chart gives it, `helm template | kubectl apply --server-side`
 * applied again and with a new image, and `helm upgrade` to a new image through the hooks. There is no kubelet:
 * where a hook Job must finish, the test does what its pod would (runs the generator script, as the Job's
 * ServiceAccount) and then records the Job complete through its status, as the Job controller would.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../helpers/envtest';
import {
  CHART_DIR, ciValues, parseManifest, runTool, templateArgs, toolPath, type K8sObject, type RenderOptions,
} from '../helpers/helm';

const GENERATOR = join(CHART_DIR, 'files', 'ensure-postgres-secret.js');

describeIfControlPlane('the chart under GitOps, on a real kube-apiserver', () => {
  let cp: ControlPlane;
  const kubectl = (args: string[], input?: string) => runTool('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { input });
  const ok = <T extends { status: number | null; stdout: string; stderr: string }>(result: T): T => {
    if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr || result.stdout}`);
    return result;
  };
  const json = (args: string[]) => JSON.parse(ok(kubectl([...args, '-o', 'json'])).stdout);
  const render = (options: RenderOptions) => ok(runTool('helm', templateArgs(options))).stdout;
  const password = (namespace: string, key = 'postgres-password') =>
    Buffer.from(json(['get', 'secret', 'tm-taskmaster-postgres', '-n', namespace]).data[key], 'base64').toString();

  /** What the generator Job's pod does: the chart's script, with a token of the chart's ServiceAccount. */
  const runGenerator = (namespace: string, job: K8sObject) => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-'));
    try {
      const token = ok(kubectl(['create', 'token', job.spec.template.spec.serviceAccountName, '-n', namespace])).stdout.trim();
      writeFileSync(join(dir, 'token'), token);
      writeFileSync(join(dir, 'ca.crt'), cp.caData ?? '');
      writeFileSync(join(dir, 'namespace'), namespace);
      const url = new URL(cp.server);
      const env = Object.fromEntries(job.spec.template.spec.containers[0].env.map((entry: { name: string; value: string }) => [entry.name, entry.value]));
      // The script the Job runs is this file (chart-gitops.test.ts checks the rendered args against it).
      const result = spawnSync(process.execPath, [GENERATOR], {
        encoding: 'utf8',
        env: { ...process.env, ...env, SERVICE_ACCOUNT_DIR: dir, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      });
      return ok({ status: result.status, stdout: result.stdout, stderr: result.stderr });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  /** Records a Job as succeeded, as the Job controller would once its pod exits 0. */
  const completeJob = async (namespace: string, name: string) => {
    const now = new Date().toISOString();
    const status = {
      startTime: now, completionTime: now, succeeded: 1,
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now },
        { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now },
      ],
    };
    const response = await apiRequest(cp, 'PATCH', `/apis/batch/v1/namespaces/${namespace}/jobs/${name}/status`, { status }, { 'Content-Type': 'application/merge-patch+json' });
    if (response.status !== 200) throw new Error(`completing job ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  };

  /** helm install/upgrade in the background, playing kubelet for its hook Jobs until helm is done. */
  const helmWithHooks = async (args: string[], namespace: string) => {
    const child = spawn(toolPath('helm'), ['--kubeconfig', cp.kubeconfigPath, ...args, '-n', namespace, '--timeout', '90s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let done = false;
    void exited.then(() => { done = true; });
    const ran: string[] = [];
    while (!done) {
      const hooks = (json(['get', 'jobs', '-n', namespace]).items as K8sObject[])
        .filter((job) => job.metadata.annotations?.['helm.sh/hook'] && !job.status?.conditions && !ran.includes(job.metadata.name));
      for (const job of hooks) {
        if (job.metadata.labels?.['app.kubernetes.io/component'] === 'postgres-password') runGenerator(namespace, job);
        await completeJob(namespace, job.metadata.name);
        ran.push(job.metadata.name);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const status = await exited;
    if (status !== 0) throw new Error(`helm ${args[0]} failed: ${output}`);
    return { output, hooks: ran };
  };

  beforeAll(async () => {
    cp = await startControlPlane();
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 30_000);

  it('generates the password Secret once with the rights the chart gives, and adds a key turned on later', () => {
    const namespace = 'generator';
    ok(kubectl(['create', 'namespace', namespace]));
    const objects = parseManifest(render({ namespace }));
    const hookObjects = objects.filter((object) => object.metadata.name.startsWith('tm-taskmaster-postgres-password'));
    expect(hookObjects.map((object) => object.kind).sort()).toEqual(['Job', 'Role', 'RoleBinding', 'ServiceAccount']);
    ok(kubectl(['apply', '--server-side', '-n', namespace, '-f', '-'], hookObjects.map((object) => JSON.stringify(object)).join('\n')));
    const job = hookObjects.find((object) => object.kind === 'Job')!;

    expect(runGenerator(namespace, job).stdout).toContain('created Secret tm-taskmaster-postgres with postgres-password');
    const first = password(namespace);
    expect(first).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(json(['get', 'secret', 'tm-taskmaster-postgres', '-n', namespace]).metadata.labels).toEqual({
      'app.kubernetes.io/component': 'postgres', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/name': 'taskmaster',
    });
    // Every later run (each upgrade, each Argo CD sync) leaves it as it is.
    expect(runGenerator(namespace, job).stdout).toContain('unchanged');
    expect(password(namespace)).toBe(first);

    // The services' role turned on later: its key is added, the owner's kept.
    const withRole = parseManifest(render({ namespace, set: { 'postgresql.auth.serviceUsername': 'taskmaster_app' } }))
      .find((object) => object.kind === 'Job' && object.metadata.name.startsWith('tm-taskmaster-postgres-password'))!;
    expect(runGenerator(namespace, withRole).stdout).toContain('added service-password');
    expect(password(namespace)).toBe(first);
    expect(password(namespace, 'service-password')).toMatch(/^[A-Za-z0-9]{32}$/);

    // The ServiceAccount reads and changes that Secret alone.
    const can = (...args: string[]) => kubectl(['auth', 'can-i', '--as', `system:serviceaccount:${namespace}:tm-taskmaster-postgres-password`, '-n', namespace, ...args]).stdout.trim();
    expect(can('get', 'secrets/tm-taskmaster-postgres')).toBe('yes');
    expect(can('get', 'secrets/another')).toBe('no');
    expect(can('list', 'secrets')).toBe('no');
    expect(can('delete', 'secrets/tm-taskmaster-postgres')).toBe('no');
  });

  describe('helm template | kubectl apply --server-side', () => {
    const namespace = 'applied';
    const apply = (manifest: string) => kubectl(['apply', '--server-side', '--field-manager', 'gitops', '-n', namespace, '-f', '-'], manifest);
    const versions = (manifest: string) => Object.fromEntries(parseManifest(manifest).map((object) => {
      const live = json(['get', `${object.kind}.${object.apiVersion.split('/')[0]}`.replace(/\.v1$/, ''), object.metadata.name, '-n', namespace]);
      return [`${object.kind}/${object.metadata.name}`, live.metadata.resourceVersion as string];
    }));

    beforeAll(() => {
      ok(kubectl(['create', 'namespace', namespace]));
    });

    it('applies twice with nothing changed the second time, the password included', () => {
      const manifest = render({ namespace, valuesFiles: [ciValues('kubectl-apply')] });
      ok(apply(manifest));
      const generator = parseManifest(manifest).find((object) => object.kind === 'Job' && object.metadata.name.startsWith('tm-taskmaster-postgres-password'))!;
      runGenerator(namespace, generator);
      const secret = password(namespace);
      const before = versions(manifest);

      // A second render of the same inputs is the same text, and applying it writes nothing.
      const again = render({ namespace, valuesFiles: [ciValues('kubectl-apply')] });
      expect(again).toBe(manifest);
      ok(apply(again));
      expect(versions(again)).toEqual(before);
      expect(password(namespace)).toBe(secret);
    });

    it('applies a new image: new Jobs under new names, the Deployments rolled, the password kept', () => {
      const secret = password(namespace);
      const manifest = render({ namespace, valuesFiles: [ciValues('kubectl-apply')], set: { 'image.tag': '0.2.0' } });
      ok(apply(manifest));
      const migrate = parseManifest(manifest).find((object) => object.kind === 'Job' && object.metadata.labels?.['app.kubernetes.io/component'] === 'migrate')!;
      expect(json(['get', 'job', migrate.metadata.name, '-n', namespace]).spec.template.spec.containers[0].image).toBe('ghcr.io/taskmaster/taskmaster-migrate:0.2.0');
      expect(json(['get', 'deployment', 'tm-taskmaster-coordinator', '-n', namespace]).spec.template.spec.containers[0].image).toBe('ghcr.io/taskmaster/taskmaster-coordinator:0.2.0');
      // The previous version's Jobs stay until pruned (kubectl apply --prune, Argo CD's prune).
      expect((json(['get', 'jobs', '-n', namespace, '-l', 'app.kubernetes.io/component=migrate']).items as K8sObject[]).length).toBe(2);
      expect(password(namespace)).toBe(secret);
    });

    it("is why job mode exists: the default mode's fixed Job name cannot take a new image", () => {
      const other = 'applied-helm-mode';
      ok(kubectl(['create', 'namespace', other]));
      ok(kubectl(['apply', '--server-side', '-n', other, '-f', '-'], render({ namespace: other })));
      const refused = kubectl(['apply', '--server-side', '-n', other, '-f', '-'], render({ namespace: other, set: { 'image.tag': '0.2.0' } }));
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/Job "tm-taskmaster-migrate" is invalid: spec\.template: [\s\S]*field is immutable/);
    });
  });

  describe('helm install, then helm upgrade to a new image', () => {
    const namespace = 'upgraded';

    beforeAll(() => {
      ok(kubectl(['create', 'namespace', namespace]));
    });

    it('installs after the password hook, which leaves the Secret and takes its own objects away', async () => {
      const { hooks } = await helmWithHooks(['install', 'tm', CHART_DIR], namespace);
      expect(hooks).toEqual([expect.stringMatching(/^tm-taskmaster-postgres-password-[0-9a-f]{10}$/)]);
      expect(password(namespace)).toMatch(/^[A-Za-z0-9]{32}$/);
      // hook-succeeded: the ServiceAccount allowed to create Secrets is gone once the install is done.
      expect(kubectl(['get', 'serviceaccount', 'tm-taskmaster-postgres-password', '-n', namespace]).stderr).toContain('NotFound');
      expect(json(['get', 'job', 'tm-taskmaster-migrate', '-n', namespace]).metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    }, 120_000);

    it('upgrades to a new image through the pre-upgrade migration hook, with the same password', async () => {
      const before = password(namespace);
      const { hooks, output } = await helmWithHooks(['upgrade', 'tm', CHART_DIR, '--set', 'image.tag=0.2.0'], namespace);
      expect(output).toContain('has been upgraded');
      // The generator (weight -5) before the migration (weight 0).
      expect(hooks).toEqual([expect.stringMatching(/^tm-taskmaster-postgres-password-/), 'tm-taskmaster-migrate-upgrade']);
      expect(json(['get', 'job', 'tm-taskmaster-migrate-upgrade', '-n', namespace]).spec.template.spec.containers[0].image).toBe('ghcr.io/taskmaster/taskmaster-migrate:0.2.0');
      for (const component of ['scheduler', 'coordinator', 'worker']) {
        expect(json(['get', 'deployment', `tm-taskmaster-${component}`, '-n', namespace]).spec.template.spec.containers[0].image).toBe(`ghcr.io/taskmaster/taskmaster-${component}:0.2.0`);
      }
      expect(password(namespace)).toBe(before);
      // The install-time Job is not part of the upgraded release.
      expect(kubectl(['get', 'job', 'tm-taskmaster-migrate', '-n', namespace]).stderr).toContain('NotFound');
    }, 120_000);

    it('leaves the generated Secret on uninstall, for the data volume it opens', () => {
      const before = password(namespace);
      ok(runTool('helm', ['--kubeconfig', cp.kubeconfigPath, 'uninstall', 'tm', '-n', namespace]));
      expect(password(namespace)).toBe(before);
    });
  });

  it('accepts the helm test pod (server-side dry run, strict validation)', () => {
    const namespace = 'helm-test';
    ok(kubectl(['create', 'namespace', namespace]));
    const pod = parseManifest(render({ namespace, set: { 'scheduler.auth.apiToken': 'an-operator-token-0123' } })).filter((object) => object.kind === 'Pod');
    expect(pod.map((object) => object.metadata.name)).toEqual(['tm-taskmaster-test']);
    const result = kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', namespace, '-f', '-'], JSON.stringify(pod[0]));
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('pod/tm-taskmaster-test created (server dry run)');
  });
});
