import { formatDateTime, formatRelative } from '../format';
import { useNow } from '../hooks/use-now';

/** "12 s ago", kept current, with the exact time on hover. */
export function RelativeTime({ iso }: { iso: string }) {
  // Re-renders every 5 s; reads the clock itself so a stale tick never shows a time in the future.
  useNow(5000);
  return (
    <time dateTime={iso} title={formatDateTime(iso)}>
      {formatRelative(iso, Date.now())}
    </time>
  );
}
