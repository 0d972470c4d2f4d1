export interface PollResult<T> {
  data?: T;
  error?: unknown;
}

export interface PollerOptions {
  /** Regular refresh while the page is visible. */
  intervalMs: number;
  /** refreshSoon() never runs loads closer together than this: bursts of events make one request. */
  minGapMs?: number;
}

/**
 * Loads something now, then every intervalMs, and soon after refreshSoon() (debounced). One load at a time;
 * nothing while the browser tab is hidden, a refresh as soon as it is shown again. This is what keeps a room
 * full of open dashboards from becoming a polling storm.
 */
export class Poller<T> {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private soonTimer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | undefined;
  private inFlight = false;
  private again = false;
  private lastStart = 0;
  private stopped = false;

  constructor(
    private readonly load: (signal: AbortSignal) => Promise<T>,
    private readonly onResult: (result: PollResult<T>) => void,
    private readonly options: PollerOptions,
  ) {}

  start(): void {
    document.addEventListener('visibilitychange', this.onVisibility);
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.soonTimer);
    this.controller?.abort();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  /** Loads now (or right after the load in flight). */
  refresh = (): void => {
    clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    void this.run();
  };

  /** Loads shortly, folding many calls into one. */
  refreshSoon = (): void => {
    if (this.soonTimer || this.stopped) return;
    const gap = this.options.minGapMs ?? 1000;
    const wait = Math.max(250, gap - (Date.now() - this.lastStart));
    this.soonTimer = setTimeout(this.refresh, wait);
  };

  private onVisibility = () => {
    if (document.visibilityState === 'visible') this.refresh();
  };

  private async run(): Promise<void> {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.inFlight = true;
    this.lastStart = Date.now();
    this.controller = new AbortController();
    let result: PollResult<T>;
    try {
      result = { data: await this.load(this.controller.signal) };
    } catch (error) {
      result = { error };
    }
    this.inFlight = false;
    if (this.stopped) return;
    this.onResult(result);
    if (this.again) {
      this.again = false;
      this.refreshSoon();
    }
    this.timer = setTimeout(() => {
      if (document.visibilityState !== 'hidden') void this.run();
    }, this.options.intervalMs);
  }
}
