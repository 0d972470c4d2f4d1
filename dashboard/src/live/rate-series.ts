/**
 * Counts of events per second for a sliding window, read back as per-second rates over wider buckets
 * (rates per single second are too spiky to read at low throughput).
 */
export class RateSeries<K extends string> {
  private readonly seconds = new Map<number, Record<K, number>>();

  constructor(private readonly keys: readonly K[], private readonly windowSeconds: number) {}

  add(key: K, atMs: number): void {
    const second = Math.floor(atMs / 1000);
    let counts = this.seconds.get(second);
    if (!counts) {
      counts = Object.fromEntries(this.keys.map((k) => [k, 0])) as Record<K, number>;
      this.seconds.set(second, counts);
    }
    counts[key]++;
  }

  /** Drops seconds older than the window that ends at `nowMs`. */
  prune(nowMs: number): void {
    const oldest = Math.floor(nowMs / 1000) - this.windowSeconds;
    for (const second of this.seconds.keys()) if (second < oldest) this.seconds.delete(second);
  }

  /**
   * Per-second rates in buckets of `bucketSeconds` ending at `nowMs`: x in epoch seconds (bucket starts), then
   * one array per key. The current bucket is divided by the seconds it has had so far, so a burst shows at
   * once instead of after the bucket closes, and the last point does not dip.
   */
  rates(nowMs: number, bucketSeconds: number): { x: number[]; series: Record<K, number[]> } {
    const nowSec = Math.floor(nowMs / 1000);
    const currentStart = Math.floor(nowSec / bucketSeconds) * bucketSeconds;
    const start = currentStart + bucketSeconds - this.windowSeconds;
    const x: number[] = [];
    const series = Object.fromEntries(this.keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
    for (let bucket = start; bucket <= currentStart; bucket += bucketSeconds) {
      const seconds = bucket === currentStart ? nowSec - bucket + 1 : bucketSeconds;
      x.push(bucket);
      for (const key of this.keys) series[key].push(this.count(key, bucket, bucket + seconds) / seconds);
    }
    return { x, series };
  }

  /** The per-second rate of `key` over the last `seconds` seconds, the current one included. */
  recentRate(key: K, nowMs: number, seconds: number): number {
    const end = Math.floor(nowMs / 1000) + 1;
    return this.count(key, end - seconds, end) / seconds;
  }

  /** Events of `key` in the seconds [from, to). */
  private count(key: K, from: number, to: number): number {
    let sum = 0;
    for (let s = from; s < to; s++) sum += this.seconds.get(s)?.[key] ?? 0;
    return sum;
  }
}
