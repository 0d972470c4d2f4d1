import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findOnPath } from '../src/builtins/executable-allowlist';
import { isProcessRunning } from '../src/builtins/process-group';
import { createShellTask, type ShellTaskOptions } from '../src/builtins/shell-task';

const defaults: ShellTaskOptions = { allowlist: ['sh', 'echo', 'env', 'pwd'], maxOutputBytes: 64 * 1024, defaultTimeoutMs: 10_000, killGraceMs: 300 };
const ctx = () => ({ signal: new AbortController().signal });

let scratch: string;
beforeAll(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'shell-task-')));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The pids a script wrote, one a line, once it has written `count` of them. */
async function readPids(file: string, count: number): Promise<number[]> {
  for (let tries = 0; tries < 500; tries++) {
    const pids = (() => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    })();
    if (pids.length >= count) return pids;
    await sleep(10);
  }
  throw new Error(`${file} never held ${count} pids`);
}

/** Whether every pid has stopped; a killed process can take a moment to be gone once signalled. */
async function allGone(pids: number[]): Promise<boolean> {
  for (let tries = 0; tries < 250; tries++) {
    if (!pids.some(isProcessRunning)) return true;
    await sleep(20);
  }
  return false;
}

// sh starts a grandchild in the background and waits on a second one; both must die with the group.
const familyScript = (file: string) => ['sh', '-c', `echo $$ > ${file}; sleep 30 & echo $! >> ${file}; sleep 30`];

describe('shell task', () => {
  test('disabled while the allowlist is empty, and only allowlisted executables run', async () => {
    await expect(createShellTask({ ...defaults, allowlist: [] })({ argv: ['echo', 'hi'] }, ctx())).rejects.toThrow(
      'the shell task type is disabled: SHELL_ALLOWLIST names no executable',
    );
    const onlyEcho = createShellTask({ ...defaults, allowlist: ['echo'] });
    await expect(onlyEcho({ argv: ['sh', '-c', 'echo hi'] }, ctx())).rejects.toThrow('executable "sh" is not in SHELL_ALLOWLIST');
    await expect(onlyEcho({ argv: ['./echo'] }, ctx())).rejects.toThrow('must be an executable name or an absolute path');
    expect(await onlyEcho({ argv: ['echo', 'hello', '$HOME', '; rm -rf /'] }, ctx())).toEqual({
      exit_code: 0,
      stdout: 'hello $HOME ; rm -rf /\n',
      stderr: '',
    });
  });

  test('a name and its absolute path on PATH allow each other', async () => {
    const echoPath = (await findOnPath('echo', process.env.PATH ?? ''))!;
    expect(echoPath).toMatch(/^\//);
    const byName = createShellTask({ ...defaults, allowlist: ['echo'] });
    expect((await byName({ argv: [echoPath, 'a'] }, ctx())).stdout).toBe('a\n');
    const byPath = createShellTask({ ...defaults, allowlist: [echoPath] });
    expect((await byPath({ argv: ['echo', 'b'] }, ctx())).stdout).toBe('b\n');
    await expect(byPath({ argv: ['/nonexistent/echo'] }, ctx())).rejects.toThrow('not in SHELL_ALLOWLIST');
  });

  test('a non-zero exit fails with the code and the end of stderr; a signal names the signal', async () => {
    const run = createShellTask(defaults);
    await expect(run({ argv: ['sh', '-c', 'echo starting; echo "disk full" >&2; exit 3'] }, ctx())).rejects.toThrow(
      'sh exited with code 3: disk full',
    );
    await expect(run({ argv: ['sh', '-c', 'kill -9 $$'] }, ctx())).rejects.toThrow('sh was killed by SIGKILL');
  });

  test('stdout and stderr are each bounded to maxOutputBytes, keeping the first bytes', async () => {
    const run = createShellTask({ ...defaults, maxOutputBytes: 1000 });
    const result = await run({ argv: ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do printf "%04d\\n" $i; echo e >&2; i=$((i+1)); done'] }, ctx());
    expect(result.stdout).toHaveLength(1000);
    expect(result.stdout.startsWith('0000\n0001\n')).toBe(true);
    expect(result.stderr).toBe('e\n'.repeat(300).slice(0, 1000));
    expect(result.truncated).toBe(true);
    const small = await run({ argv: ['echo', 'short'] }, ctx());
    expect(small.truncated).toBeUndefined();
  });

  test('a timeout kills the whole process group: the grandchildren are gone', async () => {
    const file = join(scratch, 'timeout-pids');
    // Long enough for a loaded machine to start both sleeps before it fires, so they are seen running first.
    const running = createShellTask(defaults)({ argv: familyScript(file), timeout_ms: 1500 }, ctx());
    const pids = await readPids(file, 2);
    expect(pids.every(isProcessRunning)).toBe(true);
    await expect(running).rejects.toThrow('sh timed out after 1500 ms (process group killed)');
    expect(await allGone(pids)).toBe(true);
  });

  test('an abort of ctx.signal (drain) kills the whole process group', async () => {
    const file = join(scratch, 'abort-pids');
    const controller = new AbortController();
    const running = createShellTask(defaults)({ argv: familyScript(file) }, { signal: controller.signal });
    const pids = await readPids(file, 2);
    controller.abort(new Error('worker draining'));
    await expect(running).rejects.toThrow('sh was aborted: worker draining (process group killed)');
    expect(await allGone(pids)).toBe(true);
  });

  test('a grandchild that ignores SIGTERM gets SIGKILL after the grace', async () => {
    const file = join(scratch, 'stubborn-pids');
    const script = `echo $$ > ${file}; sh -c 'trap "" TERM; echo $$ >> ${file}; while :; do sleep 0.05; done' & wait`;
    const running = createShellTask(defaults)({ argv: ['sh', '-c', script], timeout_ms: 300 }, ctx());
    const pids = await readPids(file, 2);
    await expect(running).rejects.toThrow('timed out');
    expect(await allGone(pids)).toBe(true);
  });

  test('a background process left behind by a successful command is killed too', async () => {
    const file = join(scratch, 'left-pids');
    const result = await createShellTask(defaults)({ argv: ['sh', '-c', `sleep 30 > /dev/null 2>&1 & echo $! > ${file}`] }, ctx());
    expect(result.exit_code).toBe(0);
    expect(await allGone(await readPids(file, 1))).toBe(true);
  });

  test("the child sees PATH and the payload's env, never the worker's environment", async () => {
    process.env.TASKMASTER_TEST_SECRET = 'hunter2';
    try {
      const result = await createShellTask(defaults)({ argv: ['env'], env: { GREETING: 'hello' } }, ctx());
      const names = result.stdout.split('\n').filter(Boolean).map((line) => line.split('=')[0]).sort();
      expect(names).toEqual(['GREETING', 'PATH']);
      expect(result.stdout).not.toContain('hunter2');
      expect(result.stdout).toContain('GREETING=hello\n');
    } finally {
      delete process.env.TASKMASTER_TEST_SECRET;
    }
  });

  test('cwd sets the working directory and must be an existing absolute directory', async () => {
    const run = createShellTask(defaults);
    expect((await run({ argv: ['pwd'], cwd: scratch }, ctx())).stdout).toBe(`${scratch}\n`);
    await expect(run({ argv: ['pwd'], cwd: 'relative/dir' }, ctx())).rejects.toMatchObject({ field: 'payload.cwd' });
    await expect(run({ argv: ['pwd'], cwd: join(scratch, 'missing') }, ctx())).rejects.toThrow('is not a directory');
  });

  test('bad payloads fail with an error naming the field', async () => {
    const run = createShellTask(defaults);
    await expect(run({ argv: [] }, ctx())).rejects.toThrow('argv must be a non-empty array of strings');
    await expect(run({ argv: 'echo hi' }, ctx())).rejects.toMatchObject({ field: 'payload.argv' });
    await expect(run({ argv: ['echo', 1] }, ctx())).rejects.toMatchObject({ field: 'payload.argv' });
    await expect(run({ argv: ['echo'], env: { 'A=B': 'x' } }, ctx())).rejects.toThrow('not a valid variable name');
    await expect(run({ argv: ['echo'], env: { A: 1 } }, ctx())).rejects.toThrow('env.A must be a string');
    await expect(run({ argv: ['echo'], timeout_ms: -5 }, ctx())).rejects.toMatchObject({ field: 'payload.timeout_ms' });
    const aborted = new AbortController();
    aborted.abort(new Error('draining'));
    await expect(run({ argv: ['echo'] }, { signal: aborted.signal })).rejects.toThrow('echo was aborted before it started: draining');
  });
});
