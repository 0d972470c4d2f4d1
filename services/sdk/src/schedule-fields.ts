import { Cron } from 'croner';

/*
 * Cron patterns and time zones, checked and stepped the same way by every part that handles schedules: the SDK's
 * defineTask, the scheduler's API and the coordinators that fire them. croner reads 5 fields (minute first) or
 * 6 (seconds first), names (MON, JAN) and the usual nicknames (@hourly).
 */

export const OVERLAP = ['skip', 'allow'] as const;
export const CATCH_UP = ['none', 'last', 'all'] as const;
export type Overlap = (typeof OVERLAP)[number];
export type CatchUp = (typeof CATCH_UP)[number];

/** Why the time zone is not an IANA zone this runtime knows, or undefined. */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return `must be an IANA time zone such as UTC or Europe/Paris (got ${JSON.stringify(timezone.slice(0, 60))})`;
  }
}

/** The longest pattern stored (migration 0015 checks it too); a longer one is a list no schedule needs. */
export const MAX_CRON_LENGTH = 200;

/** Why the pattern is not a cron pattern, or undefined. */
export function cronProblem(cron: string): string | undefined {
  if (cron.length > MAX_CRON_LENGTH) return `must be at most ${MAX_CRON_LENGTH} characters`;
  const fields = cron.trim().split(/\s+/);
  if (!cron.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    return `must have 5 fields (minute hour day month weekday) or 6 (seconds first); got ${fields.length}`;
  }
  try {
    new Cron(cron, { paused: true });
    return undefined;
  } catch (err) {
    return `is not a cron pattern: ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

/** The first `count` occurrences strictly after `after`, in the zone; fewer when the pattern ends. */
export function nextRuns(cron: string, timezone: string, after: Date, count: number): Date[] {
  return new Cron(cron, { timezone, paused: true }).nextRuns(count, after);
}

/** The occurrences in (after, until], oldest first, at most `limit`. */
export function runsBetween(cron: string, timezone: string, after: Date, until: Date, limit: number): Date[] {
  const job = new Cron(cron, { timezone, paused: true });
  const runs: Date[] = [];
  let cursor = after;
  while (runs.length < limit) {
    const next = job.nextRun(cursor);
    if (!next || next > until) break;
    runs.push(next);
    cursor = next;
  }
  return runs;
}
