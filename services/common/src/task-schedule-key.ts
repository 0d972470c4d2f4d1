/*
 * The schedule a TaskSchedule resource owns is keyed "k8s:<namespace>:<name>" (source 'kubernetes', migration
 * 0021): the key is its identity across scheduler restarts, and the API reads the owner back from it to say
 * which resource to edit instead. Namespaces and resource names are lower-case DNS names, so the key fits the
 * schedule key pattern as long as it stays within 128 characters.
 */

const PREFIX = 'k8s:';

/** The greatest length of a schedule key (migration 0015's CHECK). */
export const MAX_SCHEDULE_KEY_LENGTH = 128;

/** The key of the schedule the TaskSchedule namespace/name owns. */
export function taskScheduleKey(namespace: string, name: string): string {
  return `${PREFIX}${namespace}:${name}`;
}

/** The prefix every key of the namespace's TaskSchedules starts with. */
export function taskScheduleKeyPrefix(namespace: string): string {
  return `${PREFIX}${namespace}:`;
}

/** "namespace/name" of the TaskSchedule a key belongs to, or undefined for another key. */
export function taskScheduleOfKey(key: string | null): string | undefined {
  const match = key === null ? null : /^k8s:([^:]+):(.+)$/.exec(key);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** What the API answers (409) to a change of a schedule a TaskSchedule owns. */
export function managedByTaskScheduleMessage(key: string | null): string {
  const owner = taskScheduleOfKey(key) ?? key ?? 'unknown';
  const [namespace, name] = owner.split('/');
  return `schedule ${key} is managed by the TaskSchedule ${owner}: change or delete that resource instead ` +
    `(kubectl -n ${namespace} edit taskschedule ${name}; spec.suspend pauses it)`;
}
