import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

describe('loadConfig: the kubernetes and autoscaler slices', () => {
  test('defaults: autoscaler off, chart-style names', () => {
    const { kubernetes, autoscaler } = loadConfig({ HOSTNAME: 'scheduler-7d9f-abcde' });
    expect(kubernetes).toEqual({
      serviceHost: undefined,
      kubeconfig: undefined,
      namespace: undefined,
      workerDeployment: 'taskmaster-worker',
      workerSelector: { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/component': 'worker' },
      leaseName: 'taskmaster-autoscaler',
      identity: 'scheduler-7d9f-abcde',
    });
    expect(autoscaler).toEqual({ enabled: false, minReplicas: 1, maxReplicas: 10, cooldownMs: 60_000, tasksPerWorker: 5, intervalMs: 5000 });
  });

  test('reads the variables the Helm chart sets', () => {
    const config = loadConfig({
      SCALER: 'kubernetes',
      POD_NAMESPACE: 'jobs',
      POD_NAME: 'tm-scheduler-0',
      WORKER_DEPLOYMENT: 'tm-taskmaster-worker',
      WORKER_SELECTOR: 'app.kubernetes.io/instance=tm,app.kubernetes.io/component=worker',
      LEASE_NAME: 'tm-taskmaster-autoscaler',
      AUTOSCALER_ENABLED: 'true',
      AUTOSCALER_MIN_REPLICAS: '2',
      AUTOSCALER_MAX_REPLICAS: '20',
      AUTOSCALER_COOLDOWN: '2m',
      AUTOSCALER_TASKS_PER_WORKER: '8',
    });
    expect(config.scheduler.scaler).toBe('kubernetes');
    expect(config.kubernetes).toMatchObject({
      namespace: 'jobs',
      identity: 'tm-scheduler-0',
      workerDeployment: 'tm-taskmaster-worker',
      workerSelector: { 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': 'worker' },
      leaseName: 'tm-taskmaster-autoscaler',
    });
    expect(config.autoscaler).toMatchObject({ enabled: true, minReplicas: 2, maxReplicas: 20, cooldownMs: 120_000, tasksPerWorker: 8 });
    expect(Object.isFrozen(config.kubernetes.workerSelector)).toBe(true);
  });

  test('reports every bad scaling variable at once', () => {
    const bad = { WORKER_SELECTOR: 'worker', AUTOSCALER_ENABLED: 'maybe', AUTOSCALER_MIN_REPLICAS: '5', AUTOSCALER_MAX_REPLICAS: '3', AUTOSCALER_COOLDOWN: 'soon' };
    expect(() => loadConfig(bad)).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringMatching(/^WORKER_SELECTOR="worker" "worker" is not key=value/),
          expect.stringMatching(/^AUTOSCALER_ENABLED="maybe" must be true or false/),
          expect.stringMatching(/^AUTOSCALER_COOLDOWN="soon" must be a duration/),
          'AUTOSCALER_MIN_REPLICAS=5 must not exceed AUTOSCALER_MAX_REPLICAS=3',
        ],
      }),
    );
    expect(() => loadConfig(bad)).toThrow(ConfigError);
  });
});
