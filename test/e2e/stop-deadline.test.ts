import { spawn } from 'node:child_process';
import { join } from 'node:path';

/*
 * service-runner.ts: a releaser that never settles (a peer that never answers) must not keep a stopping
 * service alive. Past WORKER_DRAIN_TIMEOUT plus a 15 s margin the process logs why and exits 1.
 */
jest.setTimeout(60_000);

test('a service whose shutdown hangs exits 1 once the stop deadline has passed', async () => {
  const child = spawn(process.execPath, [join(__dirname, '../fixtures/hanging-service.mjs')], {
    env: { PATH: process.env.PATH ?? '', WORKER_DRAIN_TIMEOUT: '1s', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<{ msg: string; deadline_ms?: number }> = [];
  let started: () => void;
  const ready = new Promise<void>((resolve) => { started = resolve; });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const line of complete) {
      const parsed = JSON.parse(line) as { msg: string; deadline_ms?: number };
      lines.push(parsed);
      if (parsed.msg === 'hanging service started') started();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await ready;

  const signalledAt = Date.now();
  child.kill('SIGTERM');
  const code = await exited;

  expect(code).toBe(1);
  expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(16_000);
  expect(lines.map((line) => line.msg)).toEqual(['hanging service started', 'hanging stopping', 'hanging did not stop in time; exiting']);
  expect(lines[2].deadline_ms).toBe(16_000);
});
