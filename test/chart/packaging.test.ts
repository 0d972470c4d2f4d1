/**
 * The container packaging, checked without a Docker engine: the Dockerfile's stages and targets, that every
 * path it copies exists, and that docker-compose.yml, kind-config.yaml and the Tiltfile agree with it and
 * with the chart; and the chart as `helm package` makes it for an OCI registry.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, REPO_ROOT, findObject, renderChart, runTool } from '../helpers/helm';
import { loadConfig } from '../../services/common/src/config';
import { grpcListeners } from '../../services/common/src/grpc/peer-security';
import { resolveApiAccess } from '../../services/scheduler/src/auth';

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Dockerfile instructions grouped by stage; continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, rest] = /^(\w+)\s+(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, base, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ name: name ?? String(stages.length), base, instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name, value] = rest.split('=');
      args[name] = value;
    } else {
      stages[stages.length - 1].instructions.push({ keyword: upper, args: rest.replace(/\s+/g, ' ') });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const stage = (name: string) => {
  const found = dockerfile.stages.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`Dockerfile has no stage ${name}`);
  return found;
};
const instructions = (name: string, keyword: string) => stage(name).instructions.filter((instruction) => instruction.keyword === keyword);
/** An instruction as the final image sees it: the stage's own, else inherited from the stage it is built FROM. */
const effective = (name: string, keyword: string): Instruction | undefined => {
  const own = instructions(name, keyword);
  if (own.length > 0) return own[own.length - 1];
  const base = dockerfile.stages.find((candidate) => candidate.name === stage(name).base);
  return base ? effective(base.name, keyword) : undefined;
};

const SERVICE_ENTRIES: Record<string, string> = {
  scheduler: 'dist/services/scheduler/src/main.js',
  coordinator: 'dist/services/coordinator/src/main.js',
  worker: 'dist/services/worker/src/main.js',
  migrate: 'dist/services/common/src/db/migrate-main.js',
};

describe('Dockerfile', () => {
  it('builds on node:24-slim, a supported LTS: npm ci and npm run build, then a runtime with production dependencies only', () => {
    expect(dockerfile.args.NODE_IMAGE).toBe('node:24-slim');
    expect(stage('build').base).toBe('${NODE_IMAGE}');
    expect(stage('runtime').base).toBe('${NODE_IMAGE}');
    const buildRuns = instructions('build', 'RUN').map((run) => run.args);
    expect(buildRuns[0]).toMatch(/^npm ci\b/);
    expect(buildRuns).toContain('npm run build');
    const runtimeRuns = instructions('runtime', 'RUN').map((run) => run.args).join('\n');
    expect(runtimeRuns).toMatch(/npm ci --omit=dev\b/);
    expect(runtimeRuns).toContain('tini');
  });

  it('copies every workspace manifest before each npm ci, so that the workspaces\' dependencies are installed', () => {
    const workspaces = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    expect(workspaces.length).toBeGreaterThan(0);
    for (const name of ['build', 'runtime']) {
      const steps = stage(name).instructions;
      const ci = steps.findIndex((step) => step.keyword === 'RUN' && /^npm ci\b/.test(step.args));
      const copiedBefore = steps.slice(0, ci).filter((step) => step.keyword === 'COPY').map((step) => step.args);
      for (const workspace of workspaces) {
        expect({ stage: name, workspace, copied: copiedBefore.includes(`${workspace}/package.json ${workspace}/`) }).toEqual({ stage: name, workspace, copied: true });
      }
    }
  });

  it('copies the build output, protos, migrations and the dashboard into the runtime', () => {
    const copies = instructions('runtime', 'COPY').map((copy) => copy.args);
    expect(copies).toEqual(expect.arrayContaining([
      'proto/ proto/',
      'db/migrations/ db/migrations/',
      '--from=build /app/dashboard/dist/ dashboard/dist/',
    ]));
    expect(copies.some((copy) => /--from=build \/app\/dist\/ dist\/$/.test(copy))).toBe(true);
  });

  it('copies from the build context only paths that exist and that .dockerignore lets through', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const sources = dockerfile.stages
      .flatMap((candidate) => candidate.instructions)
      .filter((instruction) => instruction.keyword === 'COPY' && !instruction.args.includes('--from='))
      .flatMap((copy) => copy.args.split(' ').filter((word) => !word.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect({ source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ source, exists: true });
      const top = source.replace(/\/$/, '');
      expect({ source, ignored: ignored.includes(top) || ignored.includes(top.split('/')[0]) }).toEqual({ source, ignored: false });
    }
  });

  it('runs every target as uid 10001 under tini', () => {
    for (const target of [...Object.keys(SERVICE_ENTRIES), 'scheduler-compose']) {
      expect({ target, user: effective(target, 'USER')?.args }).toEqual({ target, user: '10001:10001' });
      expect({ target, entrypoint: JSON.parse(effective(target, 'ENTRYPOINT')!.args) }).toEqual({ target, entrypoint: ['/usr/bin/tini', '--'] });
    }
  });

  it.each(Object.entries(SERVICE_ENTRIES))('has a %s target starting its compiled entry point', (target, entry) => {
    expect(stage(target).base).toBe('runtime');
    expect(JSON.parse(instructions(target, 'CMD')[0].args)).toEqual(['node', entry]);
    const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(existsSync(join(REPO_ROOT, source))).toBe(true);
  });

  it('adds the docker CLI and compose plugin for the compose scaler in a separate target', () => {
    expect(stage('scheduler-compose').base).toBe('scheduler');
    const copies = instructions('scheduler-compose', 'COPY').map((copy) => copy.args);
    expect(copies.join('\n')).toContain('/usr/local/bin/docker');
    expect(copies.join('\n')).toContain('cli-plugins/docker-compose');
    expect(instructions('scheduler', 'COPY')).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    name: string;
    services: Record<string, Record<string, any>>;
  };
  const targets = new Set(dockerfile.stages.map((candidate) => candidate.name));

  it('has the services, each built from a Dockerfile target', () => {
    expect(compose.name).toBe('taskmaster');
    expect(Object.keys(compose.services).sort()).toEqual(['coordinator', 'migrate', 'postgres', 'scheduler', 'worker']);
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'postgres') continue;
      expect({ name, target: targets.has(service.build.target) }).toEqual({ name, target: true });
    }
  });

  it('starts PostgreSQL 17 with a health check, then migrates once, then the services', () => {
    const { postgres, migrate, coordinator, scheduler } = compose.services;
    expect(postgres.image).toBe('postgres:17');
    expect(postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(coordinator.depends_on.migrate).toEqual({ condition: 'service_completed_successfully' });
    expect(scheduler.depends_on.migrate).toEqual({ condition: 'service_completed_successfully' });
  });

  it('lets the scheduler scale workers through the Docker socket with this file', () => {
    const { scheduler } = compose.services;
    // Published on the host's loopback only, and never open: an operator token is required.
    expect(scheduler.ports).toEqual(['127.0.0.1:8081:8081']);
    expect(scheduler.environment).not.toHaveProperty('AUTH');
    expect(scheduler.environment).toMatchObject({
      API_TOKENS: expect.stringMatching(/^operator:compose:\$\{TASKMASTER_API_TOKEN:\?[^}$]+\}$/),
      SCALER: 'compose',
      DOCKER_COMPOSE_FILE: '/app/docker-compose.yml',
      COMPOSE_PROJECT_NAME: compose.name,
      COORDINATOR_ADDRESS: 'coordinator:8080',
    });
    expect(scheduler.volumes).toEqual(['/var/run/docker.sock:/var/run/docker.sock', './docker-compose.yml:/app/docker-compose.yml:ro']);
    expect(scheduler.build.target).toBe('scheduler-compose');
  });

  it('runs the scheduler as the image\'s unprivileged user with the Docker socket\'s group, which the host must name', () => {
    const { scheduler } = compose.services;
    expect(scheduler.user).toBe('10001:10001');
    expect(scheduler.group_add).toEqual([expect.stringMatching(/^\$\{DOCKER_GID:\?[^}$]+\}$/)]);
    // Its own `docker compose` calls read this file too, so it gets the values the host interpolated.
    expect(scheduler.environment).toMatchObject({ DOCKER_GID: '${DOCKER_GID}', TASKMASTER_API_TOKEN: '${TASKMASTER_API_TOKEN}' });
    // With the host's values substituted (as compose interpolates them), the scheduler starts with one operator token.
    const substitute = (value: string) => value.replace(/\$\{(\w+)(:\?[^}]*)?\}/g, (_match, name: string) => ({ DOCKER_GID: '998', TASKMASTER_API_TOKEN: 'a-compose-token-0123456789' })[name] ?? '');
    const env = Object.fromEntries(Object.entries(scheduler.environment as Record<string, string>).map(([key, value]) => [key, substitute(String(value))]));
    const config = loadConfig(env);
    expect(config.scheduler.apiTokens.map(({ role, name }) => ({ role, name }))).toEqual([{ role: 'operator', name: 'compose' }]);
    expect(resolveApiAccess({ tokens: config.scheduler.apiTokens, auth: config.scheduler.auth, bindHost: '0.0.0.0' }).warning).toBeUndefined();
    // No other service mounts the socket.
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== 'scheduler') expect({ name, volumes: (service.volumes ?? []).filter((v: string) => v.includes('docker.sock')) }).toEqual({ name, volumes: [] });
    }
  });

  it('keeps the worker scalable and dialable by its own address', () => {
    const { worker } = compose.services;
    expect(worker).not.toHaveProperty('container_name');
    expect(worker).not.toHaveProperty('ports');
    expect(worker.command.join(' ')).toMatch(/WORKER_ADDRESS=\$\$HOSTNAME/);
    expect(worker.environment).toMatchObject({ COORDINATOR_ADDRESS: 'coordinator:8080', WORKER_PORT: '8090' });
    // Longer than WORKER_DRAIN_TIMEOUT (25 s), or Docker kills a draining worker.
    expect(worker.stop_grace_period).toBe('35s');
  });

  it('serves the coordinator plaintext on the compose network only because it says so (GRPC_INSECURE)', () => {
    const { coordinator } = compose.services;
    const config = loadConfig({ ...coordinator.environment, BIND_HOST: '0.0.0.0' });
    expect(config.grpc.insecure).toBe(true);
    expect(() => grpcListeners({ tls: undefined, insecure: config.grpc.insecure, bindHost: '0.0.0.0', port: 8080 })).not.toThrow();
    expect(coordinator).not.toHaveProperty('ports');
  });

  it('uses the database settings config.ts reads', () => {
    for (const name of ['migrate', 'coordinator', 'scheduler']) {
      expect(compose.services[name].environment).toMatchObject({ POSTGRES_HOST: 'postgres', POSTGRES_DB: 'taskmaster', POSTGRES_USER: 'taskmaster' });
    }
  });
});

describe('local cluster files', () => {
  it('kind-config.yaml maps 80/443 of the node, where Contour\'s Envoy takes them as host ports', () => {
    const kind = parse(readFileSync(join(REPO_ROOT, 'kind-config.yaml'), 'utf8'));
    const [node] = kind.nodes;
    expect(node.extraPortMappings.map((mapping: { containerPort: number; hostPort: number }) => [mapping.containerPort, mapping.hostPort])).toEqual([[80, 80], [443, 443]]);
  });

  it('Tiltfile builds Dockerfile targets the chart uses and names resources the chart renders', () => {
    const tiltfile = readFileSync(join(REPO_ROOT, 'Tiltfile'), 'utf8');
    const targets = new Set(dockerfile.stages.map((candidate) => candidate.name));
    const loop = /for service in \[([^\]]+)\]/.exec(tiltfile)![1].match(/'(\w+)'/g)!.map((quoted) => quoted.slice(1, -1));
    for (const target of [...loop, 'migrate']) expect(targets.has(target)).toBe(true);

    const valuesFiles = /VALUES = \[([^\]]+)\]/.exec(tiltfile)![1].match(/'([^']+)'/g)!.map((quoted) => join(REPO_ROOT, quoted.slice(1, -1)));
    const objects = renderChart({ release: 'taskmaster', valuesFiles });
    // The password generator's Job is named after its spec, so the Tiltfile cannot name it; Tilt shows it by that name.
    const workloads = new Set(objects.filter((object) => ['Deployment', 'StatefulSet', 'Job'].includes(object.kind))
      .filter((object) => object.metadata.labels?.['app.kubernetes.io/component'] !== 'postgres-password').map((object) => object.metadata.name));
    const resources = [...tiltfile.matchAll(/k8s_resource\(\s*'([^']+)'/g)].map((match) => match[1]);
    expect(resources.sort()).toEqual([...workloads].sort());
    // Tilt swaps in its builds by image name: the chart must ask for taskmaster-<target>.
    for (const target of [...loop, 'migrate']) {
      const images = objects.flatMap((object) => object.spec?.template?.spec?.containers ?? []).map((container: { image: string }) => container.image);
      expect(images).toContain(`taskmaster-${target}:dev`);
    }
    expect(findObject(objects, 'Deployment', 'taskmaster-scheduler').spec.template.spec.containers[0].ports[0].containerPort).toBe(8081);
  });
});

describe('helm package', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chart-package-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes taskmaster-<version>.tgz, the archive `helm push … oci://` uploads, with the chart, values and schema as they are here', () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { name: string; version: string };
    const packaged = runTool('helm', ['package', CHART_DIR, '-d', dir]);
    expect(packaged.stderr).toBe('');
    const archive = join(dir, `${chart.name}-${chart.version}.tgz`);
    expect(packaged.stdout.trim()).toBe(`Successfully packaged chart and saved it to: ${archive}`);

    expect(parse(runTool('helm', ['show', 'chart', archive]).stdout)).toEqual(chart);
    const packagedFile = (path: string) => spawnSync('tar', ['xzfO', archive, `taskmaster/${path}`], { encoding: 'utf8' }).stdout;
    for (const path of ['values.yaml', 'values.schema.json']) expect({ path, same: packagedFile(path) === readFileSync(join(CHART_DIR, path), 'utf8') }).toEqual({ path, same: true });
    const files = spawnSync('tar', ['tzf', archive], { encoding: 'utf8' }).stdout.split('\n');
    expect(files).toEqual(expect.arrayContaining([
      'taskmaster/values.schema.json', 'taskmaster/README.md', 'taskmaster/crds/taskschedules.yaml', 'taskmaster/ci/default-values.yaml',
      'taskmaster/files/ensure-postgres-secret.js', 'taskmaster/files/helm-test.js', 'taskmaster/templates/tests/scheduler-test.yaml',
    ]));
    // What a user installs from the registry renders exactly what the chart directory does.
    const render = (source: string) => runTool('helm', ['template', 'tm', source, '--namespace', 'taskmaster']).stdout;
    expect(render(archive)).toBe(render(CHART_DIR));
  });
});
