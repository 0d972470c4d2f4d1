import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findObject, renderChart } from '../helpers/helm';

/*
 * The chart's alerts (metrics.prometheusRule), rendered by real helm and checked by Prometheus' own promtool:
 * `check rules` for the syntax, and `test rules` with a unit test of each alert firing on the series that mean
 * trouble and staying quiet on healthy ones (fixtures/alert-tests.yaml).
 */

const promtool = (args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' });

test('no PrometheusRule unless asked for; one when metrics.prometheusRule.enabled, whatever the cluster serves', () => {
  expect(renderChart().some((object) => object.kind === 'PrometheusRule')).toBe(false);
  const rule = findObject(renderChart({ set: { 'metrics.prometheusRule.enabled': true, 'metrics.prometheusRule.labels.release': 'kps' } }), 'PrometheusRule', 'tm-taskmaster');
  expect(rule.metadata.labels?.release).toBe('kps');
  expect(rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert)).toEqual([
    'TaskMasterCoordinatorDown', 'TaskMasterDatabaseUnreachable', 'TaskMasterNoLiveWorkers', 'TaskMasterQueueBacklogOld',
    'TaskMasterHighFailureRatio', 'TaskMasterTasksStuckDispatched',
  ]);
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
