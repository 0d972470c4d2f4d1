import { formatLabelSelector, parseLabelSelector, type Labels } from './label-selector';

/*
 * Worker pools (docs/kubernetes.md, "Worker pools"): groups of workers, each a Deployment of its own with its
 * own queues and task names, scaled on its own. The Helm chart describes them to the scheduler in WORKER_POOLS;
 * without it there is one pool, "default", from WORKER_DEPLOYMENT, WORKER_SELECTOR and AUTOSCALER_*, as before
 * pools existed. A worker learns its own pool's queues and names from WORKER_QUEUES and WORKER_TASKS.
 */

/** The pool the API means when a request names none, and the one every setting before pools describes. */
export const DEFAULT_POOL = 'default';

/** The pod label that says which pool a worker pod belongs to (the chart sets it on every pool's pods). */
export const POOL_LABEL = 'taskmaster.dev/pool';

/** How the built-in autoscaler sizes one pool (docs/scaling.md, "The autoscaler"). */
export interface PoolAutoscalerConfig {
  readonly enabled: boolean;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cooldownMs: number;
  readonly tasksPerWorker: number;
  /** When the head of the pool's queue has been due longer than this, add a worker even if the depth fits; 0: off. */
  readonly maxQueueAgeMs: number;
}

export interface WorkerPoolConfig {
  /** DNS-label name: "default", or the key under workerPools in the chart. */
  readonly name: string;
  /** Its Deployment, whose scale subresource the scaler patches. */
  readonly deployment: string;
  /** Labels every pod of this pool carries, and only its pods. */
  readonly selector: Labels;
  /** Queues its workers take tasks from; empty: every queue. */
  readonly queues: readonly string[];
  /** Task names its workers run; empty: whatever they declare. Narrows what the autoscaler counts. */
  readonly tasks: readonly string[];
  readonly autoscaler: PoolAutoscalerConfig;
  /** Set when KEDA owns the replicas: the ScaledObject's name. The scale API refuses the pool then (409). */
  readonly keda?: { readonly scaledObject: string };
}

const POOL_NAME = /^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$/;
const QUEUE_OR_TASK = /^[a-z0-9][a-z0-9._:-]{0,127}$/;

type Env = Record<string, string | undefined>;

/** Queue or task names of a list variable (WORKER_QUEUES, WORKER_TASKS), each once; problems name the variable. */
export function checkNameList(variable: string, entries: readonly string[], problems: string[]): string[] {
  for (const entry of entries.filter((item) => !QUEUE_OR_TASK.test(item))) {
    problems.push(`${variable} entry "${entry.slice(0, 40)}" must be a name of lower-case letters, digits, ".", "_", ":" and "-"`);
  }
  return [...new Set(entries)];
}

/** The pools before WORKER_POOLS existed: one, from the single-Deployment settings. */
export function singlePool(deployment: string, selector: Labels, autoscaler: Omit<PoolAutoscalerConfig, 'maxQueueAgeMs'>): WorkerPoolConfig[] {
  const { enabled, minReplicas, maxReplicas, cooldownMs, tasksPerWorker } = autoscaler;
  return [{
    name: DEFAULT_POOL, deployment, selector, queues: [], tasks: [],
    autoscaler: { enabled, minReplicas, maxReplicas, cooldownMs, tasksPerWorker, maxQueueAgeMs: 0 },
  }];
}

/**
 * WORKER_POOLS: a JSON array of `{name, deployment, selector, queues?, tasks?, autoscaler?, keda?}`, where
 * selector is "k=v,k=v", autoscaler is `{enabled, minReplicas, maxReplicas, cooldownSeconds, tasksPerWorker,
 * maxQueueAgeSeconds?}` and keda is `{scaledObject}`. Every problem is pushed, naming the pool and field.
 */
export function parseWorkerPools(text: string, problems: string[]): WorkerPoolConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    problems.push(`WORKER_POOLS must be a JSON array of pools (${(err as Error).message})`);
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push('WORKER_POOLS must be a non-empty JSON array of pools');
    return [];
  }
  const pools: WorkerPoolConfig[] = [];
  for (const [i, entry] of raw.entries()) {
    const pool = parsePool(entry, `WORKER_POOLS[${i}]`, problems);
    if (!pool) continue;
    if (pools.some((other) => other.name === pool.name)) problems.push(`WORKER_POOLS: the pool "${pool.name}" is given twice`);
    if (pools.some((other) => other.deployment === pool.deployment)) problems.push(`WORKER_POOLS: two pools scale the Deployment "${pool.deployment}"`);
    pools.push(pool);
  }
  if (pools.length === raw.length && !pools.some((pool) => pool.name === DEFAULT_POOL)) {
    problems.push(`WORKER_POOLS must include the pool "${DEFAULT_POOL}" (the one the API uses when a request names none)`);
  }
  return pools;
}

function parsePool(entry: unknown, where: string, problems: string[]): WorkerPoolConfig | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${where} must be an object`);
    return undefined;
  }
  const value = entry as Record<string, unknown>;
  const before = problems.length;
  const name = typeof value.name === 'string' && POOL_NAME.test(value.name) ? value.name : undefined;
  if (!name) problems.push(`${where}.name must be a pool name: lower-case letters, digits and "-", at most 30`);
  const at = name ? `WORKER_POOLS pool "${name}"` : where;
  const deployment = typeof value.deployment === 'string' && value.deployment !== '' ? value.deployment : undefined;
  if (!deployment) problems.push(`${at}: deployment must be the name of its Deployment`);
  const selector = typeof value.selector === 'string' ? parseLabelSelector(value.selector) : { problem: 'must be "k=v,k=v"' };
  if ('problem' in selector) problems.push(`${at}: selector ${selector.problem}`);
  const names = (field: 'queues' | 'tasks'): string[] => {
    const list = value[field] ?? [];
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || !QUEUE_OR_TASK.test(item))) {
      problems.push(`${at}: ${field} must be a list of names of lower-case letters, digits, ".", "_", ":" and "-"`);
      return [];
    }
    return [...new Set(list as string[])];
  };
  const queues = names('queues');
  const tasks = names('tasks');
  const autoscaler = parseAutoscaler(value.autoscaler, at, problems);
  let keda: WorkerPoolConfig['keda'];
  if (value.keda !== undefined && value.keda !== null) {
    const scaledObject = (value.keda as { scaledObject?: unknown }).scaledObject;
    if (typeof scaledObject !== 'string' || scaledObject === '') problems.push(`${at}: keda.scaledObject must be the ScaledObject's name`);
    else keda = { scaledObject };
    if (autoscaler.enabled) problems.push(`${at}: autoscaler.enabled and keda both own the replicas; choose one`);
  }
  if (problems.length > before || !name || !deployment || 'problem' in selector) return undefined;
  return { name, deployment, selector: selector.labels, queues, tasks, autoscaler, ...(keda ? { keda } : {}) };
}

function parseAutoscaler(raw: unknown, at: string, problems: string[]): PoolAutoscalerConfig {
  const value = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const whole = (field: string, fallback: number, min: number, max: number): number => {
    const given = value[field];
    if (given === undefined) return fallback;
    if (typeof given !== 'number' || !Number.isInteger(given) || given < min || given > max) {
      problems.push(`${at}: autoscaler.${field} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return given;
  };
  const enabled = value.enabled === true;
  if (value.enabled !== undefined && typeof value.enabled !== 'boolean') problems.push(`${at}: autoscaler.enabled must be true or false`);
  const minReplicas = whole('minReplicas', 1, 0, 1000);
  const maxReplicas = whole('maxReplicas', 10, 1, 1000);
  if (minReplicas > maxReplicas) problems.push(`${at}: autoscaler.minReplicas (${minReplicas}) must not exceed maxReplicas (${maxReplicas})`);
  return {
    enabled,
    minReplicas,
    maxReplicas,
    cooldownMs: whole('cooldownSeconds', 60, 0, 86_400) * 1000,
    tasksPerWorker: whole('tasksPerWorker', 5, 1, 10_000),
    maxQueueAgeMs: whole('maxQueueAgeSeconds', 0, 0, 86_400) * 1000,
  };
}

/** WORKER_POOLS when set, else the single default pool; used by loadConfig. */
export function readWorkerPools(env: Env, fallback: () => WorkerPoolConfig[], problems: string[]): WorkerPoolConfig[] {
  const text = env.WORKER_POOLS;
  return text === undefined || text.trim() === '' ? fallback() : parseWorkerPools(text, problems);
}

/** For logs: a pool as one line. */
export function describePool(pool: WorkerPoolConfig): string {
  return `${pool.name} (deployment ${pool.deployment}, pods ${formatLabelSelector(pool.selector)}, queues ${pool.queues.join(',') || 'all'})`;
}
