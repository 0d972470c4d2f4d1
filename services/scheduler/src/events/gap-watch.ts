import type { SnapshotBounds } from '../db/events';

/** How long after a gap is first seen its horizon snapshot is taken (see GapWatch). */
const HORIZON_DELAY_MS = 50;

/** wait: the id may still commit. gone: it never will. given-up: the bound passed before either was known. */
export type GapVerdict = 'wait' | 'gone' | 'given-up';

/**
 * Decides when a missing event id will never appear. Ids are drawn from a sequence before commit, so id n can
 * become visible after n + 1; but the transaction that drew n did so before n + 1 was drawn, so it was in
 * progress when the gap was seen. The horizon is the xmax of a snapshot taken HORIZON_DELAY_MS after that
 * (a transaction gets its xid a moment after it draws an id, not before); once a later snapshot's xmin reaches
 * the horizon, every transaction that could hold the id has ended, and the id is visible or never will be
 * (rolled back, or a sequence value lost in a crash). `boundMs` caps the wait, since an unrelated long
 * transaction that wrote something holds xmin back (docs/architecture.md, "Events").
 */
export class GapWatch {
  private gap: { id: number; since: number; horizon?: bigint } | undefined;

  constructor(private readonly boundMs: number) {}

  /** The verdict on `missingId` given the snapshot of the read that found it still missing. */
  verdict(missingId: number, snapshot: SnapshotBounds, now = Date.now()): GapVerdict {
    if (this.gap?.id !== missingId) this.gap = { id: missingId, since: now };
    const age = now - this.gap.since;
    if (this.gap.horizon === undefined && age >= HORIZON_DELAY_MS) this.gap.horizon = snapshot.xmax;
    if (this.gap.horizon !== undefined && snapshot.xmin >= this.gap.horizon) return 'gone';
    return age >= this.boundMs ? 'given-up' : 'wait';
  }

  /** How long the current gap has been waited for, in ms. */
  age(now = Date.now()): number {
    return this.gap ? now - this.gap.since : 0;
  }

  reset(): void {
    this.gap = undefined;
  }
}
