const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses "250ms", "5s", "2m", "7d", or a bare number of `bareUnit`s ("5" = 5 s by default, as the original
 * TASK_PROCESS_TIME was in seconds). Returns milliseconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string, bareUnit: 'ms' | 's' = 's'): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? bareUnit]);
}
