/**
 * The compose scaler's exact docker commands. No Docker engine runs on our machines, so a recording `docker`
 * executable is put first on PATH: it appends its argv to a file and prints canned `docker ps` and
 * `docker inspect` output. This is the only fake in the scaler tests; the Kubernetes backend is tested
 * against a real API server (kubernetes-scaler.test.ts).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../common/src/errors';
import { createLogger } from '../../common/src/logger';
import { ComposeScaler } from '../src/scaler/compose';

const FORMAT = '{{.Names}}\t{{.State}}\t{{.Status}}';
const WORKER = { 'com.docker.compose.project': 'taskmaster', 'com.docker.compose.service': 'worker' };

// Prints the canned answer for `ps` and `inspect` from files beside it; "compose" and "stop" just succeed.
const RECORDING_DOCKER = `#!${process.execPath}
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
fs.appendFileSync(path.join(__dirname, 'calls.jsonl'), JSON.stringify(args) + '\\n');
if (args[0] === 'ps') process.stdout.write(fs.readFileSync(path.join(__dirname, 'ps.txt'), 'utf8'));
if (args[0] === 'inspect') {
  const containers = JSON.parse(fs.readFileSync(path.join(__dirname, 'containers.json'), 'utf8'));
  const name = args[args.length - 1];
  if (!(name in containers)) {
    process.stderr.write('Error: No such container: ' + name + '\\n');
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(containers[name]) + '\\n');
}
`;

describe('ComposeScaler (recording docker executable on PATH)', () => {
  let dir: string;
  const logger = createLogger('test', 'silent');
  // The recording docker first on PATH, in the environment docker commands run with.
  const withFakeDocker = () => ({ ...process.env, PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` });

  const calls = (): string[][] => {
    const file = join(dir, 'calls.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as string[]);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskmaster-docker-'));
    writeFileSync(join(dir, 'docker'), RECORDING_DOCKER);
    chmodSync(join(dir, 'docker'), 0o755);
    writeFileSync(
      join(dir, 'ps.txt'),
      'taskmaster-worker-1\trunning\tUp 5 minutes\n' +
        'taskmaster-worker-2\trunning\tUp 2 seconds (health: starting)\n' +
        'taskmaster-worker-3\texited\tExited (0) 2 minutes ago\n',
    );
    writeFileSync(
      join(dir, 'containers.json'),
      JSON.stringify({
        'taskmaster-worker-1': WORKER,
        'taskmaster-coordinator-1': { ...WORKER, 'com.docker.compose.service': 'coordinator' },
        'other-worker-1': { ...WORKER, 'com.docker.compose.project': 'other' },
        'plain-container': null,
      }),
    );
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('scale runs `docker compose -f FILE up -d --scale worker=N --no-recreate worker`', async () => {
    const scaler = new ComposeScaler({ composeFile: '/srv/taskmaster/docker-compose.yml', env: withFakeDocker(), logger });
    expect(await scaler.scale(3)).toEqual({ requested: 3, previous: 2 }); // two containers were running
    expect(await scaler.desired()).toBe(3);
    expect(await scaler.scale(1)).toEqual({ requested: 1, previous: 3 });
    const up = (n: number) => ['compose', '-f', '/srv/taskmaster/docker-compose.yml', 'up', '-d', '--scale', `worker=${n}`, '--no-recreate', 'worker'];
    expect(calls()).toEqual([
      ['ps', '--all', '--filter', 'label=com.docker.compose.service=worker', '--format', FORMAT],
      up(3),
      up(1),
    ]);
  });

  test('list reads `docker ps` filtered on the worker service label, ready once running and not starting', async () => {
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', project: 'taskmaster', env: withFakeDocker(), logger });
    expect(await scaler.list()).toEqual([
      { name: 'taskmaster-worker-1', phase: 'running', ready: true },
      { name: 'taskmaster-worker-2', phase: 'running', ready: false },
      { name: 'taskmaster-worker-3', phase: 'exited', ready: false },
    ]);
    expect(calls()).toEqual([
      ['ps', '--all', '--filter', 'label=com.docker.compose.service=worker', '--filter', 'label=com.docker.compose.project=taskmaster', '--format', FORMAT],
    ]);
    expect(await scaler.desired()).toBeNull(); // compose keeps no count until this process sets one
  });

  test('kill inspects the container, then stops it only when it belongs to the worker service', async () => {
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', project: 'taskmaster', env: withFakeDocker(), logger });
    await scaler.kill('taskmaster-worker-1');
    const inspect = (name: string) => ['inspect', '--type', 'container', '--format', '{{json .Config.Labels}}', name];
    expect(calls()).toEqual([inspect('taskmaster-worker-1'), ['stop', 'taskmaster-worker-1']]);

    await expect(scaler.kill('taskmaster-coordinator-1')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('taskmaster-coordinator-1')).rejects.toThrow(/does not belong to the compose service "worker" of project "taskmaster"/);
    await expect(scaler.kill('other-worker-1')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('plain-container')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('no-such-container')).rejects.toThrow(NotFoundError);
    expect(calls().filter((args) => args[0] === 'stop')).toHaveLength(1);
  });

  test('arguments reach docker as they are, never through a shell', async () => {
    const scaler = new ComposeScaler({ composeFile: 'compose file; touch pwned.yml', env: withFakeDocker(), logger });
    await expect(scaler.kill('$(touch pwned)')).rejects.toThrow(NotFoundError);
    await scaler.scale(2);
    const recorded = calls();
    expect(recorded[0].at(-1)).toBe('$(touch pwned)');
    expect(recorded.at(-1)).toContain('compose file; touch pwned.yml');
    expect(existsSync('pwned')).toBe(false);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  test('a missing docker executable is a 503 (UnavailableError)', async () => {
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', env: { PATH: join(dir, 'empty') }, logger });
    await expect(scaler.list()).rejects.toThrow(UnavailableError);
  });
});
