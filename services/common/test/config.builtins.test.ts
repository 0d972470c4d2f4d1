import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

describe('loadConfig: the built-in http and shell task types', () => {
  test('defaults: shell disabled, any host, 64 KiB of output', () => {
    const { http, shell } = loadConfig({}).worker;
    expect(http).toEqual({ allowHosts: [], maxBodyBytes: 65_536, maxRedirects: 5, defaultTimeoutMs: 30_000 });
    expect(shell).toEqual({ allowlist: [], maxOutputBytes: 65_536, defaultTimeoutMs: 300_000, killGraceMs: 5000 });
  });

  test('reads comma-separated lists and the limits', () => {
    const { http, shell } = loadConfig({
      HTTP_ALLOW_HOSTS: 'api.example.com, *.internal.test,[::1],10.0.0.5,',
      SHELL_ALLOWLIST: 'curl, /usr/local/bin/backup',
      TASK_OUTPUT_MAX_BYTES: '1048576',
      HTTP_MAX_REDIRECTS: '0',
      HTTP_TIMEOUT: '5s',
      SHELL_TIMEOUT: '1m',
      SHELL_KILL_GRACE: '500ms',
    }).worker;
    expect(http).toEqual({ allowHosts: ['api.example.com', '*.internal.test', '[::1]', '10.0.0.5'], maxBodyBytes: 1_048_576, maxRedirects: 0, defaultTimeoutMs: 5000 });
    expect(shell).toEqual({ allowlist: ['curl', '/usr/local/bin/backup'], maxOutputBytes: 1_048_576, defaultTimeoutMs: 60_000, killGraceMs: 500 });
  });

  test('reports every bad entry by name', () => {
    let error: unknown;
    try {
      loadConfig({ HTTP_ALLOW_HOSTS: 'https://api.example.com', SHELL_ALLOWLIST: 'bin/sh', TASK_OUTPUT_MAX_BYTES: '10', SHELL_TIMEOUT: '0' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'HTTP_ALLOW_HOSTS entry "https://api.example.com" must be a host name, an IP address or a wildcard such as *.example.com',
      'SHELL_ALLOWLIST entry "bin/sh" must be an executable name (such as curl) or an absolute path',
      'TASK_OUTPUT_MAX_BYTES="10" must be a whole number from 1024 to 16777216',
      'SHELL_TIMEOUT must be from 1ms to 1 day',
    ]);
  });
});
