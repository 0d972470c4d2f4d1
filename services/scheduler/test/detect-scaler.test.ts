import { loadConfig } from '../../common/src/config';
import { detectScaler } from '../src/scaler/detect-scaler';

const TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const SOCKET = '/var/run/docker.sock';
const existing = (...paths: string[]) => (path: string) => paths.includes(path);

describe('detectScaler', () => {
  test('SCALER names the backend outright', () => {
    for (const kind of ['kubernetes', 'compose', 'local'] as const) {
      expect(detectScaler(loadConfig({ SCALER: kind }), existing(TOKEN, SOCKET, 'docker-compose.yml')).kind).toBe(kind);
    }
  });

  test('auto: a pod with a ServiceAccount token and KUBERNETES_SERVICE_HOST is kubernetes', () => {
    const config = loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' });
    expect(detectScaler(config, existing(TOKEN, SOCKET, 'docker-compose.yml'))).toMatchObject({ kind: 'kubernetes' });
    // Either one alone is not enough.
    expect(detectScaler(config, existing()).kind).toBe('local');
    expect(detectScaler(loadConfig({}), existing(TOKEN)).kind).toBe('local');
  });

  test('auto: the compose file and the Docker socket together mean compose', () => {
    const config = loadConfig({ DOCKER_COMPOSE_FILE: '/srv/compose.yml' });
    expect(detectScaler(config, existing('/srv/compose.yml', SOCKET))).toEqual({ kind: 'compose', reason: `/srv/compose.yml and ${SOCKET} exist` });
    expect(detectScaler(config, existing('/srv/compose.yml')).kind).toBe('local');
    expect(detectScaler(config, existing(SOCKET)).kind).toBe('local');
  });
});
