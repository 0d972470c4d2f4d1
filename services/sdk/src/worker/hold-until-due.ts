/**
 * Held tasks start on a grid of this many ms, each at the first grid point at or after its own due time, so
 * tasks due at one instant (their due times, each measured from when its message arrived, differ by a few
 * ms) start together in one loop. Started a millisecond apart, later groups waited for the earlier ones to
 * run and report and fired 20-35 ms late on a busy machine; 2, 3 and 5 ms grids measured alike
 * (docs/performance.md).
 */
const HOLD_GRID_MS = 3;

/** The longest delay setTimeout keeps (2^31-1 ms); a longer one fires at once. A longer hold re-arms until due. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `start` with each item once `delayMs` has passed since `hold` was called. The delay counts on the
 * monotonic clock from now: a bare setTimeout counts from the event loop's cached time, which can be ms older
 * than this moment, and would fire early. Items in the same grid cell share one timer.
 */
export class DueTimer<T> {
  private readonly cells = new Map<number, T[]>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly start: (item: T) => void) {}

  hold(item: T, delayMs: number): void {
    const dueAt = Math.ceil((performance.now() + delayMs) / HOLD_GRID_MS) * HOLD_GRID_MS;
    const cell = this.cells.get(dueAt);
    if (cell) {
      cell.push(item);
      return;
    }
    this.cells.set(dueAt, [item]);
    const wake = () => {
      const left = dueAt - performance.now();
      if (left > 0) {
        this.schedule(wake, Math.ceil(left));
        return;
      }
      const items = this.cells.get(dueAt) ?? [];
      this.cells.delete(dueAt);
      for (const due of items) this.start(due);
    };
    this.schedule(wake, delayMs);
  }

  /** Stops every timer; what is still held never starts. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.cells.clear();
  }

  private schedule(wake: () => void, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      wake();
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.timers.add(timer);
  }
}
