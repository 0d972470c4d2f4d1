/**
 * A real Kubernetes control plane for tests ("envtest"): etcd + kube-apiserver and, optionally,
 * kube-controller-manager, started on free 127.0.0.1 ports from binaries built by
 * `bash scripts/build-testbin.sh` (see docs/testing-kubernetes.md).
 *
 * There is no scheduler and no kubelet: Pods stay Pending, but every API call is judged by a real
 * API server (schema, RBAC, patch types, subresources), and with the controller manager Deployments
 * produce ReplicaSets and Pods, ServiceAccounts get created and tokens work.
 *
 * Only Node built-ins are used here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { freePort } from './ports';
import * as os from 'node:os';
import * as path from 'node:path';

export const TESTBIN_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;

export const BUILD_HINT = 'run `bash scripts/build-testbin.sh` (needs Go and the Go module proxy; see docs/testing-kubernetes.md)';

export interface ControlPlaneOptions {
  /** Also start kube-controller-manager (Deployments -> ReplicaSets -> Pods, ServiceAccounts, tokens, GC). Default false. */
  withControllerManager?: boolean;
  /** Extra kube-apiserver flags, e.g. ['--feature-gates=Foo=true']. */
  apiServerArgs?: string[];
  /** Extra kube-controller-manager flags. */
  controllerManagerArgs?: string[];
  /** How long to wait for everything to become ready. Default 90 s. */
  startTimeoutMs?: number;
  /** Directory with the binaries; default findTestbin(). */
  binDir?: string;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of user "admin" in group system:masters. */
  adminToken: string;
  /** PEM bundle that verifies the API server's self-signed serving certificate. */
  caData?: string;
  /** True only when caData could not be read; then clients must skip TLS verification. */
  skipTLSVerify: boolean;
  /** kubeconfig for the admin (usable by kubectl, helm, @kubernetes/client-node). */
  kubeconfigPath: string;
  /** Temporary directory holding logs, certificates, etcd data, kubeconfigs. Removed by stop(). */
  dir: string;
  /** The binaries used. */
  binDir: string;
  /** Stops every process (process groups) and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the answer is JSON, else the raw text. */
  body: T;
}

// ---------------------------------------------------------------------------------------------
// Finding the binaries
// ---------------------------------------------------------------------------------------------

/** Cache root used by scripts/build-testbin.sh. */
export function testbinRoot(): string {
  return process.env.TASKMASTER_TESTBIN ? path.resolve(process.env.TASKMASTER_TESTBIN) : path.join(os.homedir(), '.cache', 'taskmaster', 'testbin');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function hasAllBinaries(dir: string): boolean {
  return TESTBIN_BINARIES.every((b) => isExecutable(path.join(dir, b)));
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Directory holding etcd, kube-apiserver and kube-controller-manager, or null.
 * Looks at $TASKMASTER_TESTBIN_DIR (an explicit directory), then at
 * ${TASKMASTER_TESTBIN:-~/.cache/taskmaster/testbin}/k8s-<version>/: the one of $K8S_VERSION when
 * that is set, else the highest version that is complete.
 */
export function findTestbin(): string | null {
  const explicit = process.env.TASKMASTER_TESTBIN_DIR;
  if (explicit) return hasAllBinaries(explicit) ? path.resolve(explicit) : null;
  const root = testbinRoot();
  const wanted = process.env.K8S_VERSION;
  if (wanted) {
    const dir = path.join(root, `k8s-${wanted.replace(/^v/, '')}`);
    return hasAllBinaries(dir) ? dir : null;
  }
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return null;
  }
  const versions = entries
    .filter((e) => /^k8s-\d+\.\d+\.\d+$/.test(e) && hasAllBinaries(path.join(root, e)))
    .map((e) => e.slice('k8s-'.length))
    .sort(compareVersions);
  const best = versions[versions.length - 1];
  return best ? path.join(root, `k8s-${best}`) : null;
}

export function missingTestbinMessage(): string {
  return `Kubernetes test control plane binaries (${TESTBIN_BINARIES.join(', ')}) not found under ${testbinRoot()}: ${BUILD_HINT}`;
}

/**
 * The binaries' directory. When they are missing: throws under CI=true (CI must build them),
 * otherwise returns null so that the caller can skip.
 */
export function requireTestbin(): string | null {
  const dir = findTestbin();
  if (dir) return dir;
  if (process.env.CI === 'true') throw new Error(missingTestbinMessage());
  return null;
}

type DescribeLike = ((name: string, fn: () => void) => void) & { skip: (name: string, fn: () => void) => void };

/**
 * `describe` when the control plane binaries exist, else `describe.skip` with a warning.
 * Under CI=true missing binaries are an error, not a skip.
 */
export function describeIfControlPlane(name: string, fn: () => void): void {
  const describeFn = (globalThis as unknown as { describe: DescribeLike }).describe;
  if (requireTestbin()) {
    describeFn(name, fn);
  } else {
    console.warn(`[envtest] skipping "${name}": ${missingTestbinMessage()}`);
    describeFn.skip(name, fn);
  }
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: nothing may outlive the test process
// ---------------------------------------------------------------------------------------------

const liveGroups = new Set<number>();
let exitHooksInstalled = false;

function killGroupSync(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

function killAllSync(): void {
  for (const pid of liveGroups) killGroupSync(pid, 'SIGKILL');
  liveGroups.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      process.removeListener(sig, onSignal);
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/**
 * A detached watchdog that SIGKILLs the process groups listed in `pidFile` (a JSON array) when
 * this process dies without running its exit hooks (e.g. a jest worker killed with SIGKILL).
 */
function startWatchdog(pidFile: string): ChildProcess {
  const script = `
    const fs = require('fs');
    const parent = ${process.pid};
    const pidFile = ${JSON.stringify(pidFile)};
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
    setInterval(() => {
      if (alive(parent)) return;
      let groups = [];
      try { groups = JSON.parse(fs.readFileSync(pidFile, 'utf8')); } catch {}
      for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} }
      process.exit(0);
    }, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last lines of a log, preceded by its error lines (flag errors come before a long usage text). */
function tail(file: string, lines = 40): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  const all = text.split('\n');
  const last = all.slice(-lines - 1);
  const errors = all
    .slice(0, -lines - 1)
    .filter((l) => /^(Error|error:|[EF]\d{4} )|"level":"(error|fatal|panic)"/.test(l))
    .slice(-10);
  return [...(errors.length ? ['(error lines)', ...errors, '(last lines)'] : []), ...last].join('\n');
}

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: boolean;
  exitInfo?: string;
  exitPromise: Promise<void>;
}

function startProcess(name: string, bin: string, args: string[], logFile: string): Proc {
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `$ ${bin} ${args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const proc: Proc = { name, child, logFile, exited: false, exitPromise: Promise.resolve() };
  proc.exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      proc.exited = true;
      proc.exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      if (child.pid) liveGroups.delete(child.pid);
      resolve();
    });
    child.once('error', (err) => {
      proc.exited = true;
      proc.exitInfo = `spawn error: ${err.message}`;
      resolve();
    });
  });
  if (child.pid) liveGroups.add(child.pid);
  // A forgotten stop() must not keep the test process alive; the exit hook kills it then.
  child.unref();
  return proc;
}

async function stopProcess(proc: Proc, graceMs = 10_000): Promise<void> {
  const pid = proc.child.pid;
  if (!pid) return;
  if (!proc.exited) {
    proc.child.ref();
    killGroupSync(pid, 'SIGTERM');
    const timer = setTimeout(() => killGroupSync(pid, 'SIGKILL'), graceMs);
    await proc.exitPromise;
    clearTimeout(timer);
  }
  // Children of the binary (none expected) share its group.
  killGroupSync(pid, 'SIGKILL');
  liveGroups.delete(pid);
}

interface RawRequest {
  server: string;
  token?: string;
  ca?: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

function rawRequest(req: RawRequest): Promise<ApiResponse> {
  const url = new URL(req.path, req.server);
  let payload: string | undefined;
  const headers: Record<string, string> = { Accept: 'application/json', ...(req.headers ?? {}) };
  if (req.body !== undefined) {
    payload = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  if (req.token) headers.Authorization = `Bearer ${req.token}`;
  return new Promise((resolve, reject) => {
    const r = https.request(
      url,
      {
        method: req.method,
        headers,
        ca: req.ca,
        rejectUnauthorized: req.ca !== undefined,
        timeout: req.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try {
              body = JSON.parse(text);
            } catch {
              /* keep text */
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timeout: ${req.method} ${url.href}`)));
    r.on('error', reject);
    if (payload !== undefined) r.write(payload);
    r.end();
  });
}

/**
 * One REST call to the control plane as the admin (verifies TLS with caData).
 * `body` is sent as JSON unless it is a string; set headers['Content-Type'] for patches.
 */
export function apiRequest<T = unknown>(
  cp: Pick<ControlPlane, 'server' | 'adminToken' | 'caData'>,
  method: string,
  apiPath: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<ApiResponse<T>> {
  return rawRequest({ server: cp.server, token: cp.adminToken, ca: cp.caData, method, path: apiPath, body, headers }) as Promise<
    ApiResponse<T>
  >;
}

async function waitFor(
  what: string,
  procs: Proc[],
  deadline: number,
  check: () => Promise<boolean>,
): Promise<void> {
  let lastError = '';
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited (${dead.exitInfo}) while waiting for ${what}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    await sleep(250);
  }
}

function httpGetOk(url: string): Promise<string> {
  return fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => (r.ok ? r.text() : ''));
}

function kubeconfigYaml(name: string, server: string, token: string, caData: string | undefined): string {
  const cluster = caData
    ? `    certificate-authority-data: ${Buffer.from(caData).toString('base64')}`
    : '    insecure-skip-tls-verify: true';
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: envtest',
    '  cluster:',
    `    server: ${server}`,
    cluster,
    'users:',
    `- name: ${name}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: envtest',
    '  context:',
    '    cluster: envtest',
    `    user: ${name}`,
    '    namespace: default',
    'current-context: envtest',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The control plane
// ---------------------------------------------------------------------------------------------

/**
 * Starts etcd + kube-apiserver (+ kube-controller-manager) on free 127.0.0.1 ports and waits until
 * they are ready. Throws (after cleaning up) with the tail of each log when something fails.
 * Call stop() when done (afterAll); leftover processes are killed when the test process exits.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? findTestbin();
  if (!binDir) throw new Error(missingTestbinMessage());
  const attempts = 3;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await startOnce(binDir, opts);
    } catch (err) {
      lastErr = err;
      // Only a lost race for a port is worth another try.
      const msg = err instanceof Error ? err.message : String(err);
      if (!/address already in use|bind:/i.test(msg) || attempt === attempts) break;
    }
  }
  throw lastErr;
}

async function startOnce(binDir: string, opts: ControlPlaneOptions): Promise<ControlPlane> {
  installExitHooks();
  const withKcm = opts.withControllerManager ?? false;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskmaster-envtest-'));
  const certDir = path.join(dir, 'certs');
  fs.mkdirSync(certDir, { recursive: true });
  const procs: Proc[] = [];
  const pidFile = path.join(dir, 'pids.json');
  const launch = (name: string, args: string[]): void => {
    procs.push(startProcess(name, path.join(binDir, name), args, path.join(dir, `${name}.log`)));
    fs.writeFileSync(pidFile, JSON.stringify(procs.map((p) => p.child.pid).filter((p) => typeof p === 'number')));
  };
  const watchdog = startWatchdog(pidFile);
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Controller manager first, etcd last.
    for (const p of [...procs].reverse()) await stopProcess(p);
    if (watchdog.pid) killGroupSync(watchdog.pid, 'SIGKILL');
  };

  try {
    // --- credentials -------------------------------------------------------------------------
    const adminToken = crypto.randomBytes(24).toString('hex');
    const kcmToken = crypto.randomBytes(24).toString('hex');
    const tokenFile = path.join(dir, 'tokens.csv');
    fs.writeFileSync(
      tokenFile,
      `${adminToken},admin,admin-uid,"system:masters"\n` +
        `${kcmToken},system:kube-controller-manager,kcm-uid,"system:masters"\n`,
      { mode: 0o600 },
    );
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const saKey = path.join(dir, 'sa.key');
    const saPub = path.join(dir, 'sa.pub');
    fs.writeFileSync(saKey, privateKey, { mode: 0o600 });
    fs.writeFileSync(saPub, publicKey);

    // --- etcd ----------------------------------------------------------------------------------
    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    launch('etcd', [
      '--name=envtest',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=envtest=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd /health', procs, deadline, async () => (await httpGetOk(`${etcdUrl}/health`)).includes('"true"'));

    // --- kube-apiserver --------------------------------------------------------------------------
    const apiPort = await freePort();
    const server = `https://127.0.0.1:${apiPort}`;
    // Without the controller manager nobody creates the "default" ServiceAccount, and the
    // ServiceAccount admission plugin would then refuse every Pod.
    const admission = withKcm ? [] : ['--disable-admission-plugins=ServiceAccount'];
    launch('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      '--authorization-mode=RBAC',
      `--token-auth-file=${tokenFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // The "kubernetes" Endpoints cannot point at 127.0.0.1 (loopback is invalid there).
      '--endpoint-reconciler-type=none',
      ...admission,
      ...(opts.apiServerArgs ?? []),
    ]);
    await waitFor('kube-apiserver /readyz', procs, deadline, async () => {
      const r = await rawRequest({ server, token: adminToken, method: 'GET', path: '/readyz', timeoutMs: 5_000 });
      return r.status === 200;
    });

    // The self-signed serving certificate (followed by its CA) written by the API server.
    let caData: string | undefined;
    const certFile = path.join(certDir, 'apiserver.crt');
    try {
      caData = fs.readFileSync(certFile, 'utf8');
      // Make sure it really verifies the server (hostname 127.0.0.1 included).
      const r = await rawRequest({ server, token: adminToken, ca: caData, method: 'GET', path: '/version', timeoutMs: 5_000 });
      if (r.status !== 200) throw new Error(`GET /version answered ${r.status}`);
    } catch (err) {
      console.warn(`[envtest] cannot verify the API server certificate, clients skip TLS verification: ${String(err)}`);
      caData = undefined;
    }

    const kubeconfigPath = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(kubeconfigPath, kubeconfigYaml('admin', server, adminToken, caData), { mode: 0o600 });

    // --- kube-controller-manager ----------------------------------------------------------------
    if (withKcm) {
      const kcmKubeconfig = path.join(dir, 'kube-controller-manager.kubeconfig');
      fs.writeFileSync(kcmKubeconfig, kubeconfigYaml('kube-controller-manager', server, kcmToken, caData), { mode: 0o600 });
      launch('kube-controller-manager', [
        `--kubeconfig=${kcmKubeconfig}`,
        '--leader-elect=false',
        '--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller',
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        `--service-account-private-key-file=${saKey}`,
        ...(caData ? [`--root-ca-file=${certFile}`] : []),
        '--use-service-account-credentials=false',
        ...(opts.controllerManagerArgs ?? []),
      ]);
      // Ready when the serviceaccount controller has created default/default.
      await waitFor('kube-controller-manager (ServiceAccount default/default)', procs, deadline, async () => {
        const r = await rawRequest({
          server,
          token: adminToken,
          ca: caData,
          method: 'GET',
          path: '/api/v1/namespaces/default/serviceaccounts/default',
          timeoutMs: 5_000,
        });
        return r.status === 200;
      });
    }

    return {
      server,
      adminToken,
      caData,
      skipTLSVerify: caData === undefined,
      kubeconfigPath,
      dir,
      binDir,
      stop: async () => {
        await stopAll();
        if (process.env.ENVTEST_KEEP_DIR !== '1') fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    const logs = procs.map((p) => `----- ${p.name} (${p.logFile}) -----\n${tail(p.logFile)}`).join('\n');
    const msg = err instanceof Error ? err.message : String(err);
    // The directory is kept for inspection.
    throw new Error(`envtest control plane failed to start: ${msg}\n(kept ${dir})\n${logs}`);
  }
}
