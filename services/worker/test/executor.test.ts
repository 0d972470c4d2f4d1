import { executeCommand, TaskFailure } from '../src/executor';

describe('executeCommand', () => {
  test('noop succeeds at once; unknown commands simulate TASK_PROCESS_TIME of work', async () => {
    expect(await executeCommand('noop', { processTimeMs: 10_000 })).toBe('ok');
    const start = Date.now();
    expect(await executeCommand('demo-job', { processTimeMs: 30 })).toBe('demo-job done');
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
  });

  test('fail fails with its message; sleep needs a number', async () => {
    await expect(executeCommand('fail disk full', { processTimeMs: 0 })).rejects.toEqual(new TaskFailure('disk full'));
    await expect(executeCommand('sleep soon', { processTimeMs: 0 })).rejects.toThrow(/number of seconds/);
    expect(await executeCommand('sleep 0.01', { processTimeMs: 0 })).toBe('slept 0.01s');
  });

  test('an abort stops simulated work', async () => {
    const controller = new AbortController();
    const running = executeCommand('demo-job', { processTimeMs: 60_000, signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toThrow(/abort/i);
  });
});
