import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../../services/common/src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { FAST_TIMINGS, startCluster, startService, type Cluster, type ServiceProcess } from '../helpers/processes';
import { waitFor } from '../helpers/wait';
import { browserAvailability, collectPageErrors, launchChromium, screenshot } from './browser';

// The dashboard in real Chromium against a real coordinator, scheduler and worker processes: schedule from the
// form, scale and kill from the workers view, follow tasks to their timeline, survive a scheduler restart.
// Each step leaves a screenshot in test-artifacts/. With UPDATE_DOCS_SCREENSHOT=1 it also rewrites
// docs/dashboard.png from this run (the overview after a few batches).

const { available } = browserAvailability();
const describeInBrowser = available ? describe : describe.skip;

const STEP_MS = 60_000;
const BATCH = 60;
const FAILING = 20;

/** The same scheduler every time it starts, so a restart comes back on the same address. */
async function startScheduler(env: Record<string, string>): Promise<ServiceProcess> {
  const scheduler = startService('scheduler', env);
  await scheduler.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduler listening'));
  return scheduler;
}

async function text(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent()) ?? '';
}

async function waitForTestId(page: Page, testId: string, value: string, what: string): Promise<void> {
  let shown: string | null = null;
  await waitFor(async () => (shown = await page.getByTestId(testId).textContent().catch(() => null)) === value, STEP_MS,
    () => `${what} (${testId} shows "${shown}")`);
}

async function open(page: Page, view: 'Overview' | 'Tasks' | 'Workers' | 'Live log'): Promise<void> {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: view }).click();
}

async function scaleTo(page: Page, count: number): Promise<void> {
  await page.getByLabel('Worker replicas').fill(String(count));
  await page.getByRole('button', { name: 'Scale', exact: true }).click();
  await page.getByText(`Scaling to ${count} workers`).waitFor();
  await waitForTestId(page, 'workers-alive', String(count), `${count} workers alive`);
  await page.getByText('Converged: every requested worker is running and registered.').waitFor({ timeout: STEP_MS });
}

describeInBrowser('dashboard in Chromium', () => {
  let db: TestDatabase;
  let cluster: Cluster;
  let scheduler: ServiceProcess;
  let schedulerEnv: Record<string, string>;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    const dist = join(repoRoot(), 'dashboard', 'dist', 'index.html');
    if (!existsSync(dist)) throw new Error('the dashboard is not built: run `npm run build` (npm test does it first)');
    db = await createTestDatabase();
    cluster = await startCluster({ databaseEnv: db.env, workers: 0 });
    const port = await freePort();
    schedulerEnv = {
      ...FAST_TIMINGS, ...db.env, COORDINATOR_ADDRESS: cluster.coordinatorAddress, SCHEDULER_PORT: String(port),
      SCALER: 'local', LOCAL_WORKERS: '0', SSE_KEEPALIVE: '1s', TASK_PROCESS_TIME: '300ms',
    };
    scheduler = await startScheduler(schedulerEnv);
    baseUrl = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    pageErrors = collectPageErrors(page);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await scheduler?.stop();
    await cluster?.stop();
    await db?.drop();
  }, 60_000);

  test('the overview connects to the live stream and shows no workers yet', async () => {
    await page.goto(baseUrl);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await waitForTestId(page, 'count-workers', '0', 'no workers');
    expect(await text(page, 'count-pending')).toBe('0');
    await screenshot(page, 'dashboard-overview-empty');
  }, STEP_MS);

  test('a batch scheduled from the form waits in the queue', async () => {
    await open(page, 'Tasks');
    const form = page.getByRole('form', { name: 'Schedule a batch' });
    await form.getByLabel('How many').fill(String(BATCH));
    await form.getByRole('button', { name: 'Schedule batch' }).click();
    await page.getByText(`Scheduled ${BATCH} × demo-job.`).waitFor();
    const pendingFilter = page.getByRole('button', { name: `Pending ${BATCH}`, exact: true });
    await pendingFilter.waitFor({ timeout: STEP_MS });
    await pendingFilter.click();
    await waitFor(async () => (await page.locator('tbody tr').count()) === 50, STEP_MS, '50 pending tasks on the first page');
    await page.getByRole('button', { name: 'Load more' }).click();
    await waitFor(async () => (await page.locator('tbody tr').count()) === BATCH, STEP_MS, `all ${BATCH} pending tasks listed`);
    await screenshot(page, 'dashboard-tasks');
  }, STEP_MS);

  test('scaling to 2 from the workers view runs the batch to completion', async () => {
    await open(page, 'Workers');
    await page.getByText('No workers').waitFor();
    await scaleTo(page, 2);

    await open(page, 'Overview');
    const seen: number[] = [];
    await waitFor(async () => {
      const completed = Number((await text(page, 'count-completed')).replace(/,/g, ''));
      if (seen.at(-1) !== completed) seen.push(completed);
      return completed === BATCH;
    }, 2 * STEP_MS, () => `all ${BATCH} completed (counter went ${seen.join(' → ')})`);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(await text(page, 'count-pending')).toBe('0');
    await screenshot(page, 'dashboard-overview');
  }, 3 * STEP_MS);

  test('scaling to 4 shows the replicas converging', async () => {
    await open(page, 'Workers');
    await scaleTo(page, 4);
    expect(await page.getByRole('listitem').filter({ hasText: 'Alive' }).count()).toBe(4);
    await screenshot(page, 'dashboard-workers');
  }, STEP_MS);

  test('a worker is killed only after confirmation, and the scaler replaces it', async () => {
    await page.getByRole('button', { name: 'Kill worker-1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Kill worker-1?' });
    await dialog.waitFor();
    await screenshot(page, 'dashboard-kill-dialog', false);
    await dialog.getByRole('button', { name: 'Kill worker' }).click();
    await page.getByText('Killed worker-1.').waitFor();
    await page.getByRole('listitem', { name: 'Worker worker-1' }).waitFor({ state: 'detached', timeout: STEP_MS });
    await page.getByRole('listitem', { name: 'Worker worker-5' }).waitFor({ timeout: STEP_MS });
    await waitForTestId(page, 'workers-alive', '4', 'a replacement registered');
  }, STEP_MS);

  test('a task opens from the table, by keyboard, to its timeline', async () => {
    await open(page, 'Tasks');
    await page.getByRole('button', { name: `Succeeded ${BATCH}`, exact: true }).click();
    const firstTask = page.locator('tbody tr').first().getByRole('link');
    await firstTask.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    expect(await page.getByRole('heading', { name: 'demo-job' }).count()).toBe(1);
    for (const type of ['scheduled', 'assigned', 'started', 'completed']) {
      expect(await page.locator(`.timeline .event-type-${type}`).count()).toBe(1);
    }
    expect(await page.getByText('demo-job done').count()).toBe(1);
    await screenshot(page, 'dashboard-task-detail');
  }, STEP_MS);

  test('the live log filters by type', async () => {
    await open(page, 'Live log');
    const rows = page.getByRole('list', { name: 'Events' }).getByRole('listitem');
    await rows.first().waitFor();
    const completedRows = rows.filter({ hasText: 'demo-job completed' });
    expect(await completedRows.count()).toBeGreaterThan(0);
    await page.getByRole('checkbox', { name: 'completed' }).uncheck();
    await waitFor(async () => (await completedRows.count()) === 0, STEP_MS, 'completed events hidden');
    await screenshot(page, 'dashboard-log');
    await page.getByRole('checkbox', { name: 'completed' }).check();
  }, STEP_MS);

  test('the overview counts failures and charts batches spread over time', async () => {
    const batches = [
      { command: 'demo-job', count: 150, delay_seconds: 0 },
      { command: 'fail boom', count: FAILING, delay_seconds: 2 },
      { command: 'demo-job', count: 150, delay_seconds: 6 },
    ];
    for (const batch of batches) {
      const response = await fetch(`${baseUrl}/api/schedule/batch`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch),
      });
      expect(response.status).toBe(201);
    }
    await open(page, 'Overview');
    await waitForTestId(page, 'count-failed', String(FAILING), 'the failing tasks failed after their retries');
    await waitForTestId(page, 'count-completed', String(BATCH + 300), 'both batches completed');
    await page.locator('.toast').first().waitFor({ state: 'detached', timeout: STEP_MS });
    await screenshot(page, 'dashboard-overview-charts');
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      const path = join(repoRoot(), 'docs', 'dashboard.png');
      await page.screenshot({ path, fullPage: false });
      expect(statSync(path).size).toBeLessThan(300 * 1024);
    }
  }, 2 * STEP_MS);

  test('a named task is found by its name and shows its payload and result', async () => {
    const payload = { greeting: 'hello from the e2e test', n: 1 };
    const response = await fetch(`${baseUrl}/api/tasks`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'noop', payload }),
    });
    expect(response.status).toBe(201);
    await open(page, 'Tasks');
    await page.getByRole('button', { name: /^All/ }).click();
    await page.getByRole('searchbox', { name: 'Filter by task name' }).fill('noop');
    await waitFor(async () => (await page.locator('tbody tr').count()) === 1, STEP_MS, 'only the noop task listed');
    await page.locator('tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'noop' }).waitFor();
    // PostgreSQL's jsonb keeps its own key order, so compare the values, and see that it is indented.
    const shown = (await page.getByLabel('Payload').textContent()) ?? '';
    expect(JSON.parse(shown)).toEqual(payload);
    expect(shown).toContain('\n  "greeting": "hello from the e2e test"');
    await page.getByLabel('Result').waitFor({ timeout: STEP_MS });
    await screenshot(page, 'dashboard-named-task');
  }, STEP_MS);

  test('after a scheduler restart the stream reconnects and resumes', async () => {
    await open(page, 'Live log');
    await scheduler.stop();
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor({ timeout: STEP_MS });
    scheduler = await startScheduler(schedulerEnv);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: STEP_MS });

    const response = await fetch(`${baseUrl}/api/schedule`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ command: 'after-restart', scheduled_at: new Date(Date.now() + 3_600_000).toISOString() }),
    });
    expect(response.status).toBe(201);
    await page.getByRole('list', { name: 'Events' }).getByText(/after-restart scheduled/).waitFor({ timeout: STEP_MS });
  }, 2 * STEP_MS);

  test('fits a phone screen in dark mode', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      for (const [path, name] of [['/', 'overview'], ['/tasks', 'tasks'], ['/workers', 'workers'], ['/queues', 'queues']] as const) {
        await phone.goto(`${baseUrl}${path}`);
        await phone.getByRole('main').getByRole('heading').first().waitFor();
        // A string, as this file is compiled without the DOM library.
        const overflow = await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth');
        expect({ path, overflow }).toEqual({ path, overflow: 0 });
        await screenshot(phone, `dashboard-phone-dark-${name}`);
      }
    } finally {
      await phone.close();
    }
  }, STEP_MS);

  test('the page raised no errors', () => {
    // Refused connections while the scheduler was down are expected; anything else is a bug.
    expect(pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|EventSource/.test(e))).toEqual([]);
  });
});
