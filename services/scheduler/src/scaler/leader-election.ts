import type { V1Lease } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { Logger } from '../../../common/src/logger';
import { apiStatus, errorSummary, loadKubernetesClient, makeApiClient, type KubeConfig, type KubernetesClient } from './kube-client';

/** Decides which scheduler replica may act (the autoscaler, the TaskSchedule reconciler), so that replicas never fight. */
export interface LeaderElector {
  readonly identity: string;
  /** Acquires or renews leadership; true while this process may act. Called on every autoscaler tick. */
  check(): Promise<boolean>;
  /** Gives leadership up, so that another replica takes over at once rather than after the lease expires. */
  release(): Promise<void>;
}

/** For compose and local, where one scheduler runs: it always leads. */
export function soleLeader(identity: string): LeaderElector {
  return { identity, check: async () => true, release: async () => {} };
}

export interface LeaseLeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** LEASE_NAME. */
  name: string;
  /** holderIdentity: the pod name. */
  identity: string;
  /** How long a holder that stopped renewing keeps the lease; renew well within it. */
  leaseDurationMs: number;
  logger: Logger;
  now?: () => number;
  /** What the leader does, for the logs; default "autoscaler". */
  purpose?: string;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it, using only
 * get, create and update (the verbs the Role grants):
 * - Every write carries the resourceVersion that was read, so of two replicas writing at once one gets 409
 *   and stays a follower (optimistic concurrency; nobody relies on the other's clock).
 * - A follower takes over only when the lease record has not changed for leaseDuration *by its own clock*,
 *   measured from when it first saw that version, so clock skew between pods cannot shorten a lease.
 * - The leader stops acting when it could not renew for 2/3 of leaseDuration, before any follower can take
 *   over (same ratio as client-go's 15 s lease / 10 s renew deadline).
 */
export class LeaseLeaderElector implements LeaderElector {
  readonly identity: string;
  private observedVersion: string | undefined;
  private observedAt = 0;
  private leadingUntil = 0;
  private leading = false;

  private constructor(
    private readonly options: LeaseLeaderElectorOptions,
    private readonly client: KubernetesClient,
    private readonly api: InstanceType<KubernetesClient['CoordinationV1Api']>,
  ) {
    this.identity = options.identity;
  }

  static async create(options: LeaseLeaderElectorOptions): Promise<LeaseLeaderElector> {
    const client = await loadKubernetesClient();
    return new LeaseLeaderElector(options, client, makeApiClient(client, options.kubeConfig, client.CoordinationV1Api));
  }

  async check(): Promise<boolean> {
    const startedAt = this.now();
    let leading: boolean;
    try {
      leading = await this.acquireOrRenew(startedAt);
    } catch (err) {
      // The API server is unreachable or refused: keep leading only until the renew deadline passes.
      this.options.logger.warn({ err: errorSummary(err), lease: this.options.name }, `cannot read or renew the ${this.purpose} lease`);
      leading = this.now() < this.leadingUntil;
    }
    if (leading) this.leadingUntil = Math.max(this.leadingUntil, startedAt + (this.options.leaseDurationMs * 2) / 3);
    else this.leadingUntil = 0;
    this.noteTransition(leading);
    return leading;
  }

  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.leadingUntil = 0;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.write(lease, { holderIdentity: undefined, leaseDurationSeconds: 1 });
      this.options.logger.info({ lease: this.options.name, identity: this.identity }, `released the ${this.purpose} lease`);
    } catch (err) {
      // Not fatal: the lease then expires after leaseDuration and a follower takes over.
      this.options.logger.warn({ err: errorSummary(err), lease: this.options.name }, `could not release the ${this.purpose} lease`);
    }
  }

  private async acquireOrRenew(now: number): Promise<boolean> {
    const { name, namespace } = this.options;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
      return this.createLease(now);
    }
    const version = lease.metadata?.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedVersion = version;
      this.observedAt = now;
    }
    const holder = lease.spec?.holderIdentity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== this.identity && now - this.observedAt < durationMs) return false;

    const takingOver = holder !== this.identity;
    const stamp = new this.client.V1MicroTime(now);
    return this.write(lease, {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseSeconds(),
      renewTime: stamp,
      ...(takingOver ? { acquireTime: stamp, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
    });
  }

  private async createLease(now: number): Promise<boolean> {
    const stamp = new this.client.V1MicroTime(now);
    try {
      await this.api.createNamespacedLease({
        namespace: this.options.namespace,
        body: {
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: this.leaseSeconds(), acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
        },
      });
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false; // another replica created it first
      throw err;
    }
  }

  /** Replaces the lease's spec, guarded by the resourceVersion read; false when someone wrote in between. */
  private async write(lease: V1Lease, changes: NonNullable<V1Lease['spec']>): Promise<boolean> {
    const spec = { ...lease.spec, ...changes };
    // Times come back from the API as strings; the API only accepts microsecond precision (MicroTime).
    for (const key of ['acquireTime', 'renewTime'] as const) {
      if (spec[key] !== undefined) spec[key] = new this.client.V1MicroTime(spec[key]);
    }
    try {
      const written = await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: { ...lease, spec },
      });
      this.observedVersion = written.metadata?.resourceVersion;
      this.observedAt = this.now();
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false;
      throw err;
    }
  }

  private leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
  }

  private noteTransition(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    const fields = { lease: this.options.name, namespace: this.options.namespace, identity: this.identity };
    if (leading) this.options.logger.info(fields, `became the ${this.purpose} leader`);
    else this.options.logger.info(fields, `not the ${this.purpose} leader (another replica holds the lease)`);
  }

  private get purpose(): string {
    return this.options.purpose ?? 'autoscaler';
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
