/**
 * The claim key of migration 0012's and 0017's indexes, written as they are so that the planner matches them:
 * a task of priority p is claimed as though it had become due p minutes earlier.
 */
export const CLAIM_KEY = `((scheduled_at AT TIME ZONE 'UTC') - priority * interval '1 minute')`;

/** How far ahead of its due time a task's claim key can lie: the lowest priority, -1000, in minutes. */
export const LOWEST_PRIORITY_SHIFT = `interval '1000 minutes'`;
