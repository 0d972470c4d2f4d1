/**
 * A TaskSchedule's spec read through the API's parser, and the status the reconciler derives from its schedule
 * row; pure functions, no cluster (task-schedules.test.ts runs them against a real API server).
 */
import type { ResourceScheduleRow } from '../src/db/resource-schedules';
import { scheduleFromSpec, type TaskSchedule } from '../src/taskschedules/task-schedule';
import { desiredStatus, statusPatch } from '../src/taskschedules/task-schedule-status';

const limits = { payloadMaxBytes: 64 };
const now = new Date('2026-03-01T12:00:00.123Z');
const resource = (spec: Record<string, unknown>, status?: TaskSchedule['status'], name = 'nightly'): TaskSchedule =>
  ({ metadata: { name, namespace: 'ops', generation: 3 }, spec, status });

const row = (fields: Partial<ResourceScheduleRow> = {}): ResourceScheduleRow => ({
  id: '7d0b2c8e-0000-4000-8000-000000000001', key: 'k8s:ops:nightly', name: 'report', payload: null, queue: 'default', priority: 0,
  max_attempts: 3, timeout_seconds: null, cron: '0 2 * * *', timezone: 'UTC', overlap: 'allow', catch_up: 'last', paused: false,
  next_run_at: new Date('2026-03-02T02:00:00Z'), last_run_at: null, last_task_id: null, source: 'kubernetes',
  created_at: now, updated_at: now, last_task_status: null, last_task_scheduled_at: null, ...fields,
});

describe('scheduleFromSpec', () => {
  it('maps the spec onto a schedule keyed by namespace and name', () => {
    expect(scheduleFromSpec(resource({ task: 'report', cron: '0 2 * * *', payload: { a: 1 }, maxAttempts: 5, catchUp: 'none', suspend: true }), 'ops', limits))
      .toEqual({ schedule: expect.objectContaining({ key: 'k8s:ops:nightly', name: 'report', cron: '0 2 * * *', timezone: 'UTC', payload: { a: 1 }, maxAttempts: 5, catchUp: 'none', paused: true }) });
  });

  it.each([
    [{ cron: '0 2 * * *' }, /^spec\.task is required/],
    [{ task: 'report', cron: '61 * * * *' }, /^spec\.cron is not a cron pattern: .*minute/],
    [{ task: 'report', cron: '* *' }, /^spec\.cron must have 5 fields/],
    [{ task: 'report', cron: '0 2 * * *', timezone: 'Mars/Olympus' }, /^spec\.timezone must be an IANA time zone/],
    [{ task: 'report', cron: '0 2 * * *', payload: { text: 'x'.repeat(100) } }, /^spec\.payload takes \d+ bytes as JSON; the limit is 64/],
    [{ task: 'report', cron: '0 2 * * *', maxAttempts: 0 }, /^spec\.maxAttempts must be/],
  ])('names the spec field in the API\'s message: %j', (spec, message) => {
    const outcome = scheduleFromSpec(resource(spec), 'ops', limits);
    expect('problem' in outcome && outcome.problem).toMatch(message);
  });

  it('refuses a name whose key would pass 128 characters', () => {
    const outcome = scheduleFromSpec(resource({ task: 'report', cron: '0 2 * * *' }, undefined, 'n'.repeat(130)), 'ops', limits);
    expect('problem' in outcome && outcome.problem).toMatch(/^metadata\.name is too long: the schedule key k8s:ops:n+ takes 138 characters, at most 128$/);
  });
});

describe('desiredStatus and statusPatch', () => {
  it('is Ready with the next run, and patches only what differs', () => {
    const status = desiredStatus(resource({}), row(), undefined, now);
    expect(status).toEqual({
      observedGeneration: 3,
      scheduleId: row().id,
      nextRunAt: '2026-03-02T02:00:00.000Z',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Scheduled', message: expect.stringContaining('"0 2 * * *" in UTC'), lastTransitionTime: '2026-03-01T12:00:00Z', observedGeneration: 3 }],
    });
    expect(statusPatch(resource({}, status), status)).toBeUndefined();
    const later = desiredStatus(resource({}, status), row({ next_run_at: new Date('2026-03-03T02:00:00Z') }), undefined, new Date('2026-03-02T12:00:00Z'));
    // Still Ready: the transition time stays.
    expect(statusPatch(resource({}, status), later)).toEqual({ status: { nextRunAt: '2026-03-03T02:00:00.000Z' } });
  });

  it('is Ready=False with the problem, keeping no next run of a schedule it does not have', () => {
    const status = desiredStatus(resource({}), undefined, { reason: 'InvalidSpec', message: 'spec.cron is not a cron pattern' }, now);
    expect(status).toEqual({ observedGeneration: 3, conditions: [expect.objectContaining({ status: 'False', reason: 'InvalidSpec', message: 'spec.cron is not a cron pattern' })] });
  });

  it('shows a suspended schedule without a next run, removing the old one (null in the merge patch)', () => {
    const running = desiredStatus(resource({}), row(), undefined, now);
    const suspended = desiredStatus(resource({}, running), row({ paused: true }), undefined, new Date('2026-03-01T13:00:00Z'));
    expect(statusPatch(resource({}, running), suspended)).toEqual({
      status: { nextRunAt: null, conditions: [expect.objectContaining({ status: 'True', reason: 'Suspended', lastTransitionTime: '2026-03-01T12:00:00Z' })] },
    });
  });

  it('reports the last run once it finished, and keeps the previous one while the next is in flight', () => {
    const finished = desiredStatus(resource({}), row({ last_task_id: 't1', last_task_status: 'failed', last_task_scheduled_at: new Date('2026-03-01T02:00:00Z') }), undefined, now);
    expect(finished).toMatchObject({ lastRunAt: '2026-03-01T02:00:00.000Z', lastResult: 'Failed', lastTaskId: 't1' });
    const inFlight = desiredStatus(resource({}, finished), row({ last_task_id: 't2', last_task_status: 'running', last_task_scheduled_at: new Date('2026-03-02T02:00:00Z') }), undefined, now);
    expect(inFlight).toMatchObject({ lastRunAt: '2026-03-01T02:00:00.000Z', lastResult: 'Failed', lastTaskId: 't1' });
  });
});
