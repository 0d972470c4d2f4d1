import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

describe('PAYLOAD_MAX_BYTES and HTTP_BODY_MAX_BYTES', () => {
  test('default to 256 KiB and 4 MiB', () => {
    const { scheduler } = loadConfig({});
    expect(scheduler.payloadMaxBytes).toBe(262_144);
    expect(scheduler.bodyMaxBytes).toBe(4_194_304);
  });

  test('are read from the environment', () => {
    const { scheduler } = loadConfig({ PAYLOAD_MAX_BYTES: '1048576', HTTP_BODY_MAX_BYTES: '8388608' });
    expect(scheduler).toMatchObject({ payloadMaxBytes: 1_048_576, bodyMaxBytes: 8_388_608 });
  });

  test('refuse a body limit that a largest payload would not fit in, and a limit that is not a number', () => {
    expect(() => loadConfig({ PAYLOAD_MAX_BYTES: '4194304' })).toThrow(/HTTP_BODY_MAX_BYTES=4194304 must be at least PAYLOAD_MAX_BYTES \+ 65536/);
    expect(() => loadConfig({ PAYLOAD_MAX_BYTES: '256k' })).toThrow(ConfigError);
  });
});
