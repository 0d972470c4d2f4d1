import type { Logger } from '../../common/src/logger';
import { callUnary, type CoordinatorServiceClient, type HeartbeatRequest } from '../../common/src/grpc/contract';

/**
 * Registers the worker and keeps it alive in the coordinator's registry: a heartbeat every interval, and one
 * at once whenever the worker's state changes (draining, leaving). Each heartbeat lets the coordinator renew
 * the leases of the tasks the worker holds that run out soon (renewExpiringLeases). A missed heartbeat is
 * only logged: the next one retries.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private reachable: boolean | undefined;

  constructor(
    private readonly client: CoordinatorServiceClient,
    private readonly state: () => HeartbeatRequest,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly coordinatorAddress: string,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Sends one heartbeat now; resolves to whether the coordinator acknowledged it. */
  async beat(overrides: Partial<HeartbeatRequest> = {}): Promise<boolean> {
    try {
      await callUnary(this.client, this.client.SendHeartbeat, { ...this.state(), ...overrides }, Math.max(1000, this.intervalMs));
      if (this.reachable !== true) this.logger.info({ coordinator: this.coordinatorAddress }, 'registered with the coordinator');
      this.reachable = true;
      return true;
    } catch (err) {
      if (this.reachable !== false) {
        this.logger.warn({ coordinator: this.coordinatorAddress, err: (err as Error).message }, 'heartbeat failed: coordinator unreachable; retrying');
      }
      this.reachable = false;
      return false;
    }
  }
}
