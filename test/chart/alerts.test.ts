import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { findObject, renderChart } from '../helpers/helm';

/*
 * The chart's alerts (metrics.prometheusRule), rendered by real helm and checked by Prometheus' own promtool:
 * `check rules` for the syntax, and `test rules` with a unit test of each alert firing on the series that mean
 * trouble and staying quiet on healthy ones (fixtures/alert-tests.yaml).
 */

const promtool = (args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' });

/** The alerts issue 14 asks for, by what they watch. */
const ALERTS = {
  'coordinator down': 'TaskMasterCoordinatorDown',
  'database unreachable': 'TaskMasterDatabaseUnreachable',
  'no live workers': 'TaskMasterNoLiveWorkers',
  'queue age above a threshold': 'TaskMasterQueueBacklogOld',
  'failure ratio': 'TaskMasterHighFailureRatio',
  'tasks stuck dispatched': 'TaskMasterTasksStuckDispatched',
};

test('no PrometheusRule unless asked for; one when metrics.prometheusRule.enabled, whatever the cluster serves', () => {
  expect(renderChart().some((object) => object.kind === 'PrometheusRule')).toBe(false);
  // auto: only where the cluster serves PrometheusRules, as helm install finds out (helm template: --api-versions).
  const auto = (apiVersions: string[]) => renderChart({ set: { 'metrics.prometheusRule.enabled': 'auto' }, apiVersions }).filter((object) => object.kind === 'PrometheusRule');
  expect(auto([])).toEqual([]);
  expect(auto(['monitoring.coreos.com/v1/PrometheusRule'])).toHaveLength(1);
  const rule = findObject(renderChart({ set: { 'metrics.prometheusRule.enabled': true, 'metrics.prometheusRule.labels.release': 'kps' } }), 'PrometheusRule', 'tm-taskmaster');
  expect(rule.metadata.labels?.release).toBe('kps');
  expect(rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert)).toEqual(Object.values(ALERTS));
});

test('every alert has a promtool unit test in which it fires and one in which it stays quiet', () => {
  const fixture = parse(readFileSync(join(__dirname, 'fixtures', 'alert-tests.yaml'), 'utf8')) as {
    tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
  };
  const cases = fixture.tests.flatMap((unit) => unit.alert_rule_test);
  for (const alert of Object.values(ALERTS)) {
    const own = cases.filter((candidate) => candidate.alertname === alert);
    expect({ alert, fires: own.some((c) => c.exp_alerts.length > 0), quiet: own.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, fires: true, quiet: true });
  }
});

test('promtool accepts the rules, and each alert fires (and stays quiet) as its unit test says', () => {
  const rule = findObject(renderChart({ set: { 'metrics.prometheusRule.enabled': true } }), 'PrometheusRule', 'tm-taskmaster');
  const dir = mkdtempSync(join(tmpdir(), 'taskmaster-alerts-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
    copyFileSync(join(__dirname, 'fixtures', 'alert-tests.yaml'), join(dir, 'alert-tests.yaml'));
    const checked = promtool(['check', 'rules', join(dir, 'rules.yaml')]);
    expect({ status: checked.status, output: checked.stdout + checked.stderr }).toMatchObject({ status: 0 });
    expect(checked.stdout).toContain('SUCCESS: 6 rules found');
    const tested = promtool(['test', 'rules', join(dir, 'alert-tests.yaml')]);
    expect({ status: tested.status, output: tested.stdout + tested.stderr }).toMatchObject({ status: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
