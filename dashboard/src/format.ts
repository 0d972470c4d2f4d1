/** Formatting shared by the views: numbers, durations, times and ids the way people read them. */

const integer = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return integer.format(n);
}

/** 0.4 → "0.4", 12.3 → "12", 1234 → "1.2k" */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  if (perSecond >= 10) return String(Math.round(perSecond));
  return perSecond.toFixed(1).replace(/\.0$/, '');
}

/** 850 → "850 ms", 12_400 → "12.4 s", 200_000 → "3 min 20 s" */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, '')} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "just now", "12 s ago", "in 3 min", "2 h ago" */
export function formatRelative(iso: string, now = Date.now()): string {
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  if (abs < 1500) return 'just now';
  const text = abs < 60_000 ? `${Math.round(abs / 1000)} s`
    : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min`
    : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h`
    : `${Math.round(abs / 86_400_000)} d`;
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

/** "14:03:07.412": log lines need the milliseconds to show order within a second. */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  return `${timeOfDay.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** "14:03", or "14:03:20" when ticks are closer than a minute: chart axes. */
export function formatAxisTime(epochSeconds: number, withSeconds: boolean): string {
  return (withSeconds ? timeOfDay : hourMinute).format(new Date(epochSeconds * 1000));
}

/** The first block of a UUID: enough to tell tasks apart on screen. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A Date as the value of <input type="datetime-local">, in the browser's time zone, to the second. */
export function toLocalInputValue(date: Date): string {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}
