import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { apiError, FakeApi, task, worker, workers } from './fake-api';
import { renderApp } from './render-app';

describe('tasks', () => {
  it('lists tasks, filters by status and searches by command', async () => {
    const failing = task({ command: 'fail boom', status: 'failed', attempt: 3, last_error: 'boom' });
    const api = new FakeApi().on('GET /api/tasks', ({ query }) => ({
      tasks: query.get('status') === 'failed' ? [failing] : [task({ command: 'demo-job' }), failing],
      next_cursor: null,
    }));
    const { user } = renderApp('/tasks', api);
    expect(await screen.findByRole('cell', { name: 'demo-job' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: /^Failed/ }));
    await expect.poll(() => screen.queryByRole('cell', { name: 'demo-job' })).toBeNull();
    expect(screen.getByRole('button', { name: /^Failed/ })).toHaveAttribute('aria-pressed', 'true');
    expect(window.location.search).toBe('?status=failed');

    await user.type(screen.getByRole('searchbox', { name: /Search tasks/ }), 'fail');
    await expect.poll(() => api.requestsTo('GET /api/tasks').at(-1)?.query.get('q'), { timeout: 2000 }).toBe('fail');
    expect(api.requestsTo('GET /api/tasks').at(-1)?.query.get('status')).toBe('failed');
  });

  it('acts on the selected tasks at once, and on all matching the filter after a count and a confirmation', async () => {
    const first = task({ name: 'report', command: 'report', status: 'failed' });
    const second = task({ name: 'report', command: 'report', status: 'failed' });
    const api = new FakeApi()
      .on('GET /api/tasks', () => ({ tasks: [first, second], next_cursor: null }))
      .on('POST /api/tasks/bulk', ({ body }) => {
        const request = body as { dry_run?: boolean; filter: { ids?: string[] } };
        if (request.dry_run) return { action: 'delete', affected: 0, more: false, matched: 2 };
        return { action: 'retry', affected: request.filter.ids?.length ?? 2, more: false };
      });
    const { user } = renderApp('/tasks?status=failed&name=report', api);
    await user.click(await screen.findByRole('checkbox', { name: `Select task ${first.task_id.slice(0, 8)}` }));
    const bar = screen.getByRole('toolbar', { name: 'Bulk actions' });
    await user.click(within(bar).getByRole('button', { name: 'Retry selected (1)' }));
    expect(await screen.findByText('Retried 1 task.')).toBeInTheDocument();
    expect(api.requestsTo('POST /api/tasks/bulk')[0].body).toEqual({ action: 'retry', filter: { ids: [first.task_id] }, limit: 1000 });

    await user.click(within(bar).getByRole('button', { name: 'Delete all matching…' }));
    expect(await within(bar).findByText('Delete 2 matching tasks?')).toBeInTheDocument();
    await user.click(within(bar).getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('Deleted 2 tasks.')).toBeInTheDocument();
    const sent = api.requestsTo('POST /api/tasks/bulk').map((r) => r.body);
    expect(sent.at(-2)).toEqual({ action: 'delete', filter: { status: ['failed'], name: 'report' }, dry_run: true });
    expect(sent.at(-1)).toEqual({ action: 'delete', filter: { status: ['failed'], name: 'report' }, limit: 1000 });
  });

  it('shows name or command, queue and worker name, and filters by name and queue through the URL', async () => {
    const email = task({ name: 'send-email', command: 'send-email', queue: 'emails', status: 'running', worker_id: 1002 });
    const command = task({ command: 'sleep 5', status: 'succeeded', worker_id: 77 });
    const api = new FakeApi()
      .on('GET /api/workers', () => workers([worker('worker-2')]))
      .on('GET /api/tasks', ({ query }) => ({
        tasks: [email, command].filter((t) => (!query.get('name') || t.name === query.get('name')) && (!query.get('queue') || t.queue === query.get('queue'))),
        next_cursor: null,
      }));
    const { user } = renderApp('/tasks', api);
    const emailRow = (await screen.findByRole('cell', { name: 'send-email' })).closest('tr') as HTMLElement;
    expect(within(emailRow).getByRole('cell', { name: 'emails' })).toBeInTheDocument();
    expect(await within(emailRow).findByRole('cell', { name: 'worker-2' })).toBeInTheDocument();
    const commandRow = screen.getByRole('cell', { name: 'sleep 5' }).closest('tr') as HTMLElement;
    expect(within(commandRow).getByRole('cell', { name: 'default' })).toBeInTheDocument();
    // Its worker is gone from the registry: the id stays.
    expect(within(commandRow).getByRole('cell', { name: 'worker 77' })).toBeInTheDocument();
    expect(screen.getByRole('columnheader', { name: 'Name or command' })).toBeInTheDocument();

    await user.type(screen.getByRole('searchbox', { name: 'Filter by task name' }), 'send-email');
    await expect.poll(() => window.location.search, { timeout: 2000 }).toBe('?name=send-email');
    await expect.poll(() => screen.queryByRole('cell', { name: 'sleep 5' })).toBeNull();
    expect(api.requestsTo('GET /api/tasks').at(-1)?.query.get('name')).toBe('send-email');

    await user.type(screen.getByRole('searchbox', { name: 'Filter by queue' }), 'other');
    await expect.poll(() => window.location.search, { timeout: 2000 }).toBe('?name=send-email&queue=other');
    expect(await screen.findByText('No tasks match this filter')).toBeInTheDocument();
    expect(api.requestsTo('GET /api/tasks').at(-1)?.query.get('queue')).toBe('other');
  });

  it('starts from the name and queue in the URL', async () => {
    const api = new FakeApi();
    renderApp('/tasks?name=resize-image&queue=images', api);
    expect(await screen.findByRole('searchbox', { name: 'Filter by task name' })).toHaveValue('resize-image');
    expect(screen.getByRole('searchbox', { name: 'Filter by queue' })).toHaveValue('images');
    await expect.poll(() => api.requestsTo('GET /api/tasks').find((r) => r.query.get('name'))?.query.get('queue')).toBe('images');
  });

  it('pages with the cursor the API returned', async () => {
    const api = new FakeApi().on('GET /api/tasks', ({ query }) => (query.get('cursor') === 'page-2'
      ? { tasks: [task({ command: 'second-page' })], next_cursor: null }
      : { tasks: [task({ command: 'first-page' })], next_cursor: 'page-2' }));
    const { user } = renderApp('/tasks', api);
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByRole('cell', { name: 'second-page' })).toBeInTheDocument();
    expect(screen.getByRole('cell', { name: 'first-page' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('shows an empty state with a hint', async () => {
    renderApp('/tasks');
    expect(await screen.findByText('No tasks yet')).toBeInTheDocument();
    expect(screen.getByText(/Schedule a batch/)).toBeInTheDocument();
  });

  it('schedules a batch and confirms it', async () => {
    const api = new FakeApi().on('POST /api/schedule/batch', ({ body }) => {
      const { command, count } = body as { command: string; count: number };
      return { status: 201, body: { command, count, scheduled_at: 1_800_000_000, task_ids: [] } };
    });
    const { user, retype } = renderApp('/tasks', api);
    const form = await screen.findByRole('form', { name: 'Schedule a batch' });
    const count = within(form).getByLabelText('How many');
    await retype(count, '250');
    await user.click(within(form).getByRole('button', { name: 'Schedule batch' }));
    expect(await screen.findByText('Scheduled 250 × demo-job.')).toBeInTheDocument();
    expect(api.requestsTo('POST /api/schedule/batch')[0].body).toEqual({ command: 'demo-job', count: 250, delay_seconds: 0 });
  });

  it('checks the batch size before sending, and shows the API\'s field errors beside the field', async () => {
    const api = new FakeApi().on('POST /api/schedule/batch', () => ({
      status: 400, body: apiError('validation', 'delay_seconds must be a number of seconds from 0 to 31536000', 'delay_seconds'),
    }));
    const { user, retype } = renderApp('/tasks', api);
    const form = await screen.findByRole('form', { name: 'Schedule a batch' });
    const count = within(form).getByLabelText('How many');
    await retype(count, '5000');
    await user.click(within(form).getByRole('button', { name: 'Schedule batch' }));
    expect(await within(form).findByText('Enter a whole number from 1 to 1,000.')).toBeInTheDocument();
    expect(count).toHaveAttribute('aria-invalid', 'true');
    expect(api.requestsTo('POST /api/schedule/batch')).toHaveLength(0);

    await retype(count, '10');
    const delay = within(form).getByLabelText('Delay (seconds)');
    await retype(delay, '99999999');
    await user.click(within(form).getByRole('button', { name: 'Schedule batch' }));
    expect(await within(form).findByText('delay_seconds must be a number of seconds from 0 to 31536000.')).toBeInTheDocument();
    expect(delay).toHaveAttribute('aria-invalid', 'true');
  });

  it('schedules one task at the chosen time, defaulting to now', async () => {
    const api = new FakeApi().on('POST /api/schedule', ({ body }) => ({
      status: 201, body: { command: (body as { command: string }).command, scheduled_at: 1_800_000_000, task_id: '12345678-0000-4000-8000-000000000000' },
    }));
    const { user, retype } = renderApp('/tasks', api);
    await user.click(await screen.findByRole('tab', { name: 'One task' }));
    const form = screen.getByRole('form', { name: 'Schedule one task' });
    const when = within(form).getByLabelText('Run at (your time zone)') as HTMLInputElement;
    expect(Math.abs(new Date(when.value).getTime() - Date.now())).toBeLessThan(60_000);

    await user.type(within(form).getByLabelText('Command'), 'sleep 2');
    await retype(when, '2030-05-01T09:30:00');
    await user.click(within(form).getByRole('button', { name: 'Schedule task' }));
    expect(await screen.findByText('Scheduled task 12345678 (sleep 2).')).toBeInTheDocument();
    const sent = api.requestsTo('POST /api/schedule')[0].body as { command: string; scheduled_at: string };
    expect(sent.command).toBe('sleep 2');
    expect(sent.scheduled_at).toBe(new Date('2030-05-01T09:30:00').toISOString());
  });

  it('cancels a pending task, and explains a refusal', async () => {
    const pending = task({ status: 'pending' });
    const api = new FakeApi()
      .on('GET /api/tasks', () => ({ tasks: [pending], next_cursor: null }))
      .on('POST /api/tasks/:id/cancel', () => ({ status: 409, body: apiError('conflict', `task ${pending.task_id} is running; only pending tasks can be cancelled`) }));
    const { user } = renderApp('/tasks', api);
    await user.click(await screen.findByRole('button', { name: `Cancel task ${pending.task_id.slice(0, 8)}` }));
    expect(await screen.findByText(/only pending tasks can be cancelled/)).toBeInTheDocument();
    expect(api.requestsTo('POST /api/tasks/:id/cancel')[0].path).toBe(`/api/tasks/${pending.task_id}/cancel`);
  });

  it('sends the API token with changes once it is set, and says how to set it on 401', async () => {
    const api = new FakeApi().on('POST /api/schedule/batch', ({ headers }) => (headers.Authorization === 'Bearer s3cret'
      ? { status: 201, body: { command: 'demo-job', count: 100, scheduled_at: 1, task_ids: [] } }
      : { status: 401, body: apiError('unauthorized', 'this route needs "Authorization: Bearer <API_TOKEN>"') }));
    const { user } = renderApp('/tasks', api);
    await user.click(await screen.findByRole('button', { name: 'Schedule batch' }));
    expect(await screen.findByText(/requires an API token/)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'API token' }));
    await user.type(screen.getByLabelText('Token'), 's3cret');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await user.click(screen.getByRole('button', { name: 'Schedule batch' }));
    expect(await screen.findByText('Scheduled 100 × demo-job.')).toBeInTheDocument();
  });
});
