/**
 * The compose scaler's exact docker commands. No Docker engine runs on our machines (none can be started
 * here), so this is a fake: a recording `docker` executable put first on PATH appends its argv to a file and
 * answers `docker ps`, `docker inspect` and `docker stop` from a state file of containers (ids, names, labels),
 * as the engine would. This is the only fake in the scaler tests; the Kubernetes backend is tested against a
 * real API server (kubernetes-scaler.test.ts).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../common/src/errors';
import { createLogger } from '../../common/src/logger';
import { ComposeScaler } from '../src/scaler/compose';

const FORMAT = '{{.Names}}\t{{.State}}\t{{.Status}}';
const WORKER = { 'com.docker.compose.project': 'taskmaster', 'com.docker.compose.service': 'worker' };
/** Full container ids, as the engine makes them (64 hex digits). */
const id = (n: number) => n.toString(16).padStart(64, 'a');

/*
 * state.json: {names: {name: id}, containers: {id: labels}, renameOnInspect?: {name: id}, removeOnInspect?: [name]}. `inspect` resolves a
 * name (or an id) and prints what its --format asks for ({{.Id}} and {{json .Config.Labels}}); with
 * renameOnInspect, the name is given to another container right after it was inspected, as `docker rm` and a
 * new `docker run --name` between the scaler's two commands would; with removeOnInspect, the container is
 * removed right after. `stop` takes a name or an id; a removed one
 * is the engine's "No such container".
 */
const RECORDING_DOCKER = `#!${process.execPath}
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const stateFile = path.join(__dirname, 'state.json');
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
fs.appendFileSync(path.join(__dirname, 'calls.jsonl'), JSON.stringify(args) + '\\n');
const resolve = (ref) => state.names[ref] ?? (ref in state.containers ? ref : undefined);
const missing = (ref) => {
  process.stderr.write('Error response from daemon: No such container: ' + ref + '\\n');
  process.exit(1);
};
if (args[0] === 'ps') process.stdout.write(fs.readFileSync(path.join(__dirname, 'ps.txt'), 'utf8'));
if (args[0] === 'inspect') {
  const ref = args[args.length - 1];
  const found = resolve(ref);
  if (found === undefined) missing(ref);
  const format = args[args.indexOf('--format') + 1];
  process.stdout.write(format.replace('{{.Id}}', found).replace('{{json .Config.Labels}}', JSON.stringify(state.containers[found])) + '\\n');
  if (state.renameOnInspect && ref in state.renameOnInspect) state.names[ref] = state.renameOnInspect[ref];
  if (state.removeOnInspect && state.removeOnInspect.includes(ref)) {
    delete state.names[ref];
    delete state.containers[found];
  }
  fs.writeFileSync(stateFile, JSON.stringify(state));
}
if (args[0] === 'stop' && resolve(args[1]) === undefined) missing(args[1]);
`;

describe('ComposeScaler (recording docker executable on PATH)', () => {
  let dir: string;
  const logger = createLogger('test', 'silent');
  // The recording docker first on PATH, in the environment docker commands run with.
  const withFakeDocker = () => ({ ...process.env, PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` });

  const writeState = (state: {
    names: Record<string, string>; containers: Record<string, unknown>; renameOnInspect?: Record<string, string>; removeOnInspect?: string[];
  }) =>
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state));

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
    writeState({
      names: { 'taskmaster-worker-1': id(1), 'taskmaster-coordinator-1': id(2), 'other-worker-1': id(3), 'plain-container': id(4) },
      containers: { [id(1)]: WORKER, [id(2)]: { ...WORKER, 'com.docker.compose.service': 'coordinator' }, [id(3)]: { ...WORKER, 'com.docker.compose.project': 'other' }, [id(4)]: null },
    });
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

  const inspect = (name: string) => ['inspect', '--type', 'container', '--format', '{{.Id}} {{json .Config.Labels}}', name];

  test('kill inspects the container, then stops it by the id it inspected, only when it belongs to the worker service', async () => {
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', project: 'taskmaster', env: withFakeDocker(), logger });
    await scaler.kill('taskmaster-worker-1');
    expect(calls()).toEqual([inspect('taskmaster-worker-1'), ['stop', id(1)]]);

    await expect(scaler.kill('taskmaster-coordinator-1')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('taskmaster-coordinator-1')).rejects.toThrow(/does not belong to the compose service "worker" of project "taskmaster"/);
    await expect(scaler.kill('other-worker-1')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('plain-container')).rejects.toThrow(ForbiddenError);
    await expect(scaler.kill('no-such-container')).rejects.toThrow(NotFoundError);
    expect(calls().filter((args) => args[0] === 'stop')).toEqual([['stop', id(1)]]);
  });

  test('a name given to another container after the inspection does not redirect the stop', async () => {
    // Between the scaler's inspect and its stop, the worker's name passes to the coordinator's container.
    writeState({
      names: { 'taskmaster-worker-1': id(1), 'taskmaster-coordinator-1': id(2) },
      containers: { [id(1)]: WORKER, [id(2)]: { ...WORKER, 'com.docker.compose.service': 'coordinator' } },
      renameOnInspect: { 'taskmaster-worker-1': id(2) },
    });
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', project: 'taskmaster', env: withFakeDocker(), logger });
    await scaler.kill('taskmaster-worker-1');
    // Stopped: the worker that was checked, by its id; the name, which now names the coordinator, is not used.
    expect(calls()).toEqual([inspect('taskmaster-worker-1'), ['stop', id(1)]]);
  });

  test('a container removed between the inspection and the stop is a 404, and nothing else is stopped', async () => {
    writeState({ names: { 'taskmaster-worker-1': id(1) }, containers: { [id(1)]: WORKER }, removeOnInspect: ['taskmaster-worker-1'] });
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', env: withFakeDocker(), logger });
    await expect(scaler.kill('taskmaster-worker-1')).rejects.toThrow(NotFoundError);
    expect(calls()).toEqual([inspect('taskmaster-worker-1'), ['stop', id(1)]]);
  });

  test('an inspection that answers no container id is a 503, and nothing is stopped', async () => {
    writeState({ names: { 'taskmaster-worker-1': 'not-an-id' }, containers: { 'not-an-id': WORKER } });
    const scaler = new ComposeScaler({ composeFile: 'docker-compose.yml', env: withFakeDocker(), logger });
    await expect(scaler.kill('taskmaster-worker-1')).rejects.toThrow(UnavailableError);
    expect(calls().filter((args) => args[0] === 'stop')).toEqual([]);
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
    // What failed is logged (the error's detail), not sent to the API's caller.
    const failed = await scaler.list().then((): UnavailableError | undefined => undefined, (err: UnavailableError) => err);
    expect(failed?.message).toBe('docker ps --all failed (see the scheduler\'s log)');
    expect(failed?.detail).toMatch(/ENOENT/);
  });
});
