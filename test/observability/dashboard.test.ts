import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../services/common/src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { metricsUrl, requireBinary, scrapeText } from '../helpers/metrics';
import { freePort } from '../helpers/ports';
import { startCluster, type Cluster } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * The Grafana dashboard only asks for metrics the services really export, and every expression is PromQL a
 * real Prometheus evaluates against them. docs/operations.md describes every metric they export.
 */

jest.setTimeout(180_000);

interface Query {
  where: string;
  expr: string;
}

interface Panel {
  title: string;
  panels?: Panel[];
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'charts/taskmaster/dashboards/taskmaster.json'), 'utf8')) as {
  panels: Panel[];
  annotations: { list: Array<{ name: string; expr?: string }> };
};

function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  const visit = (panel: Panel) => {
    for (const target of panel.targets ?? []) queries.push({ where: `panel "${panel.title}"`, expr: target.expr });
    for (const child of panel.panels ?? []) visit(child);
  };
  dashboard.panels.forEach(visit);
  for (const annotation of dashboard.annotations.list) {
    if (annotation.expr) queries.push({ where: `annotation "${annotation.name}"`, expr: annotation.expr });
  }
  return queries;
}

const NOT_METRICS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: identifiers left once strings, matchers, ranges, groupings and calls are set aside. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  // Not preceded by a digit or a word character (the "m" of "offset 5m"), not followed by "(" (a function).
  return [...bare.matchAll(/(?<![\w:.])[a-zA-Z_:][\w:]*(?!\s*\(|[\w:])/g)].map((m) => m[0]).filter((name) => !NOT_METRICS.has(name.toLowerCase()));
}

/** Grafana's own variables, as Grafana would fill them in for a short range. */
const forPrometheus = (expr: string) => expr.replaceAll('$__rate_interval', '1m');

let db: TestDatabase;
let cluster: Cluster;
let targets: string[];
const expositions: string[] = [];

async function post(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${cluster.schedulerUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 1, scheduler: true });
  targets = [`${cluster.schedulerUrl}/metrics`, await metricsUrl(cluster.coordinator), await metricsUrl(cluster.workers[0])];
});

afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

/** Some of everything the dashboard shows: successes, retries, final failures, a cancellation, a scale. */
async function runWorkload(): Promise<void> {
  const finished = async () => (await db.pool.query<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE status IN ('succeeded', 'failed')`)).rows[0].n;
  const finishedBefore = await finished();
  await post('/api/schedule/batch', { command: 'noop', count: 20 });
  await post('/api/schedule/batch', { command: 'fail on purpose', count: 3, max_attempts: 2 });
  await post('/api/schedule', { command: 'noop', scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
  const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM tasks WHERE status = 'pending' AND scheduled_at > now() + interval '1 minute'`);
  await post(`/api/tasks/${rows[0].id}/cancel`, {});
  await post('/api/workers/scale', { count: 1 });
  // The worker list asks the coordinator (ListWorkers): the scheduler's gRPC client series.
  expect((await fetch(`${cluster.schedulerUrl}/api/workers`)).status).toBe(200);
  await waitFor(async () => (await finished()) === finishedBefore + 23, 60_000, 'the workload finished');
}

test('the dashboard names only metrics that the three services export, and docs/operations.md describes each', async () => {
  await runWorkload();
  for (const url of targets) expositions.push(await scrapeText(url));
  const exported = new Set(expositions.flatMap((text) => [...text.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)].map((m) => m[1])));

  const queries = dashboardQueries();
  expect(queries.length).toBeGreaterThan(20);
  expect(queries.filter(({ expr }) => metricNames(expr).length === 0)).toEqual([]);
  const unknown = queries.flatMap(({ where, expr }) => metricNames(expr).filter((name) => !exported.has(name)).map((name) => `${where}: ${name}`));
  expect(unknown).toEqual([]);

  const docs = readFileSync(join(repoRoot(), 'docs/operations.md'), 'utf8');
  const families = new Set(expositions.flatMap((text) => [...text.matchAll(/^# TYPE (taskmaster_\w+) /gm)].map((m) => m[1])));
  expect(families.size).toBeGreaterThan(20);
  expect([...families].filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
});

test('a real Prometheus scraping the services evaluates every dashboard expression', async () => {
  const prometheus = requireBinary('prometheus', 'prometheus');
  if (!prometheus) return;
  const dir = mkdtempSync(join(tmpdir(), 'taskmaster-prometheus-'));
  const port = await freePort();
  const api = `http://127.0.0.1:${port}/api/v1`;
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: taskmaster',
    `    static_configs: [{ targets: [${targets.map((url) => `"${new URL(url).host}"`).join(', ')}] }]`,
  ].join('\n'));
  const server: ChildProcess = spawn(prometheus, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitFor(async () => (await fetch(`${api}/targets`).catch(() => null))?.ok === true, 30_000, () => `Prometheus up; its log: ${stderr}`);
    await waitFor(async () => {
      const body = (await (await fetch(`${api}/query?query=${encodeURIComponent('count_over_time(up[1m])')}`)).json()) as {
        data: { result: Array<{ value: [number, string]; metric: Record<string, string> }> };
      };
      return body.data.result.length === targets.length && body.data.result.every((r) => Number(r.value[1]) >= 2);
    }, 60_000, 'every target scraped twice');
    // One more round of work between scrapes, so the rates over the last minute are not all zero.
    await runWorkload();
    await new Promise((resolve) => setTimeout(resolve, 3000));

    const failures: string[] = [];
    for (const { where, expr } of dashboardQueries()) {
      const query = forPrometheus(expr);
      const response = await fetch(`${api}/query?query=${encodeURIComponent(query)}`);
      const body = (await response.json()) as { status: string; error?: string };
      if (body.status !== 'success') failures.push(`${where}: ${body.error} in ${query}`);
      for (const name of metricNames(expr)) {
        const series = (await (await fetch(`${api}/series?match[]=${encodeURIComponent(name)}`)).json()) as { data: unknown[] };
        if (series.data.length === 0) failures.push(`${where}: Prometheus has no series named ${name}`);
      }
    }
    expect(failures).toEqual([]);
  } finally {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
