import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

describe('loadConfig: the taskSchedules slice', () => {
  test('defaults: off, the scheduler\'s namespace, a minute\'s resync, a status refresh every 10 s', () => {
    expect(loadConfig({}).taskSchedules).toEqual({
      enabled: false, namespace: undefined, leaseName: 'taskmaster-taskschedules', resyncMs: 60_000, statusIntervalMs: 10_000,
    });
  });

  test('reads the variables the Helm chart sets', () => {
    expect(loadConfig({
      TASK_SCHEDULES_ENABLED: 'true', TASK_SCHEDULES_NAMESPACE: 'jobs', TASK_SCHEDULES_LEASE_NAME: 'tm-taskmaster-taskschedules',
      TASK_SCHEDULES_RESYNC: '30s', TASK_SCHEDULES_STATUS_INTERVAL: '5s',
    }).taskSchedules).toEqual({ enabled: true, namespace: 'jobs', leaseName: 'tm-taskmaster-taskschedules', resyncMs: 30_000, statusIntervalMs: 5000 });
  });

  test('names every bad variable at once', () => {
    const problems = () => {
      try {
        loadConfig({ TASK_SCHEDULES_ENABLED: 'maybe', TASK_SCHEDULES_RESYNC: '10ms', TASK_SCHEDULES_STATUS_INTERVAL: 'soon' });
      } catch (err) {
        return (err as ConfigError).message;
      }
      return '';
    };
    expect(problems()).toContain('TASK_SCHEDULES_ENABLED="maybe" must be true or false');
    expect(problems()).toContain('TASK_SCHEDULES_RESYNC must be at least 1s');
    expect(problems()).toContain('TASK_SCHEDULES_STATUS_INTERVAL="soon" must be a duration');
  });
});
