import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../services/common/src/paths';

/**
 * The benchmark at small scale (2,000-task burst, 3 s at 200 tasks/s, 100 tasks due at one instant), as a
 * correctness check of the whole pipeline under load: every task succeeded exactly once, none started
 * before it was due, and the log stream has each start and finish. Its speed is measured by `npm run bench`,
 * never asserted here: timings depend on the machine.
 */
test('npm run bench --scale=small: no task lost, duplicated or started early', async () => {
  const bench = spawn(process.execPath, [join(repoRoot(), 'dist', 'bench', 'run.js'), '--scale=small'], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  bench.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => bench.once('exit', resolve));
  if (code !== 0) throw new Error(`bench exited with ${code}:\n${stderr.slice(-4000)}`);

  const summary = JSON.parse(stdout.trim().split('\n').pop()!);
  expect({
    lost: summary.lost,
    duplicated: summary.duplicated,
    early_starts: summary.early_starts,
    event_mismatches: summary.event_mismatches,
    timed_out: summary.timed_out,
  }).toEqual({ lost: 0, duplicated: 0, early_starts: 0, event_mismatches: 0, timed_out: false });
  expect(summary.burst_tasks_per_s).toBeGreaterThan(0);
}, 240_000);
