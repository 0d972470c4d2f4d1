/** A worker as the scaler backend sees it: a local process, a compose container, or a pod. */
export interface RuntimeWorker {
  name: string;
  /** Backend-specific phase: running/exited (process, container), Pending/Running/... (pod). */
  phase: string;
  ready: boolean;
  pid?: number;
  node?: string;
  /** Its worker pool, from the pod's taskmaster.dev/pool label (Kubernetes only). */
  pool?: string;
}

export interface ScaleResult {
  requested: number;
  /** The replica count before, where the backend knows it. */
  previous: number | null;
}

/**
 * What the operator controls need from the platform that runs workers (DESIGN.md §4). One interface, one
 * backend per platform: local child processes (npm start), docker compose, Kubernetes.
 */
export interface Scaler {
  readonly kind: 'local' | 'compose' | 'kubernetes';
  /** Sets the number of worker replicas. */
  scale(count: number): Promise<ScaleResult>;
  /** Stops one worker by name; NotFoundError for an unknown name, ForbiddenError for one that is not a worker. */
  kill(name: string): Promise<void>;
  /** The workers the platform runs now. */
  list(): Promise<RuntimeWorker[]>;
  /** The replica count asked for, when the backend has one. */
  desired(): Promise<number | null>;
  close(): Promise<void>;
}
