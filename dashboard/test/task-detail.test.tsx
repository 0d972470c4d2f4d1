import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { apiError, event, FakeApi, task, worker, workers } from './fake-api';
import { renderApp } from './render-app';

describe('task detail', () => {
  it('shows the task, its error and its timeline, and retries it', async () => {
    const failed = task({
      command: 'fail boom', status: 'failed', attempt: 4, executions: 3, worker_id: 7, last_error: 'boom',
      started_at: '2026-01-27T12:00:01.000Z', failed_at: '2026-01-27T12:00:01.500Z',
    });
    const api = new FakeApi()
      .on('GET /api/tasks/:id/events', () => ({
        task: failed,
        events: [
          event({ type: 'scheduled', task_id: failed.task_id, attempt: 0, at: '2026-01-27T12:00:00.000Z' }),
          event({ type: 'started', task_id: failed.task_id, attempt: 1, worker_id: 7, at: '2026-01-27T12:00:00.200Z' }),
          event({ type: 'failed', task_id: failed.task_id, attempt: 3, worker_id: 7, at: '2026-01-27T12:00:01.500Z', message: 'task failed: boom' }),
        ],
        attempts: [
          { attempt: 3, worker_id: 7, assigned_at: '2026-01-27T12:00:00.100Z', started_at: '2026-01-27T12:00:00.200Z', ended_at: '2026-01-27T12:00:01.500Z', outcome: 'failed', error: 'boom' },
        ],
      }))
      .on('POST /api/tasks/:id/retry', () => ({ ...failed, status: 'pending' }));
    const { user } = renderApp(`/tasks/${failed.task_id}`, api);

    expect(await screen.findByRole('heading', { name: 'fail boom' })).toBeInTheDocument();
    expect(screen.getByText('Last error').nextSibling).toHaveTextContent('boom');
    // Runs count executions (the retry budget); the attempt counts deliveries, one of them handed back.
    expect(screen.getByText('3 of 3 (attempt 4)')).toBeInTheDocument();
    expect(screen.getByText('3 events')).toBeInTheDocument();
    expect(screen.getByText('+1.5 s')).toBeInTheDocument();
    expect(screen.getByText('task failed: boom')).toBeInTheDocument();
    const attempts = screen.getByRole('table', { name: 'Attempts' });
    expect(attempts).toHaveTextContent('1.3 s');
    expect(attempts).toHaveTextContent('Failed');
    expect(attempts).toHaveTextContent('boom');
    expect(screen.getByText('Retry policy').nextSibling).toHaveTextContent('default');

    await user.click(screen.getByRole('button', { name: /Retry task/ }));
    expect(await screen.findByText(/queued again/)).toBeInTheDocument();
    expect(api.requestsTo('POST /api/tasks/:id/retry')).toHaveLength(1);
  });

  it('cancels a running task, then shows why it was cancelled and its timeout', async () => {
    const running = task({ name: 'resize', command: 'resize', status: 'running', attempt: 1, worker_id: 7, timeout_seconds: 90, started_at: '2026-01-27T12:00:01.000Z' });
    let current = running;
    const api = new FakeApi()
      .on('GET /api/tasks/:id/events', () => ({ task: current, events: [] }))
      .on('POST /api/tasks/:id/cancel', () => {
        current = { ...running, status: 'cancelled', last_error: 'cancelled', cancelled_at: '2026-01-27T12:00:02.000Z' };
        return current;
      });
    const { user } = renderApp(`/tasks/${running.task_id}`, api);

    expect(await screen.findByRole('heading', { name: 'resize' })).toBeInTheDocument();
    expect(screen.getByText('Timeout').nextSibling).toHaveTextContent('90 s');
    await user.click(screen.getByRole('button', { name: /Cancel task/ }));
    expect(await screen.findByText('Cancelled because')).toBeInTheDocument();
    expect(api.requestsTo('POST /api/tasks/:id/cancel')).toHaveLength(1);
    expect(screen.queryByRole('button', { name: /Cancel task/ })).toBeNull();
  });

  it('shows a named task\'s payload and result as indented JSON, its queue, and its worker by name', async () => {
    const payload = { to: 'ada@example.com', template: 'welcome', body: 'x'.repeat(5000) };
    const done = task({
      name: 'send-email', command: 'send-email', queue: 'emails', status: 'succeeded', attempt: 1, worker_id: 1001,
      payload, result: { delivered: true, id: 42 }, started_at: '2026-01-27T12:00:01.000Z', completed_at: '2026-01-27T12:00:02.000Z',
    });
    const api = new FakeApi()
      .on('GET /api/workers', () => workers([worker('worker-1')]))
      .on('GET /api/tasks/:id/events', () => ({
        task: done,
        events: [
          event({ type: 'scheduled', task_id: done.task_id, attempt: 0 }),
          event({ type: 'started', task_id: done.task_id, attempt: 1, worker_id: 1001 }),
          event({ type: 'assigned', task_id: done.task_id, attempt: 1, worker_id: 9 }),
        ],
      }));
    renderApp(`/tasks/${done.task_id}`, api);

    expect(await screen.findByRole('heading', { name: 'send-email' })).toBeInTheDocument();
    const shownPayload = screen.getByLabelText('Payload');
    expect(shownPayload.textContent).toBe(JSON.stringify(payload, null, 2));
    // Long payloads scroll inside their block, which takes focus so the keyboard can scroll it.
    expect(shownPayload).toHaveClass('json-block');
    expect(shownPayload).toHaveAttribute('tabindex', '0');
    expect(screen.getByLabelText('Result').textContent).toBe('{\n  "delivered": true,\n  "id": 42\n}');
    expect(screen.getByRole('link', { name: 'emails' })).toHaveAttribute('href', '/tasks?queue=emails');
    expect(screen.getByText('Named task')).toBeInTheDocument();

    const workerFact = screen.getByText('Worker').nextSibling as HTMLElement;
    await expect.poll(() => workerFact.textContent).toBe('worker-1');
    expect(screen.getByText('on worker-1')).toBeInTheDocument();
    // A worker no longer registered keeps its id.
    expect(screen.getByText('on worker 9')).toBeInTheDocument();
  });

  it('shows a command task\'s text result as it is, and no payload when it has none', async () => {
    const done = task({ command: 'demo-job', status: 'succeeded', payload: null, result: 'demo-job done' });
    renderApp(`/tasks/${done.task_id}`, new FakeApi().on('GET /api/tasks/:id/events', () => ({ task: done, events: [] })));
    expect(await screen.findByLabelText('Result')).toHaveTextContent(/^demo-job done$/);
    expect(screen.queryByLabelText('Payload')).toBeNull();
    expect(screen.getByText('Command task')).toBeInTheDocument();
  });

  it('says so when the task does not exist', async () => {
    const api = new FakeApi().on('GET /api/tasks/:id/events', () => ({ status: 404, body: apiError('not_found', 'task 0f0f0f0f-0000-4000-8000-000000000000 does not exist', 'id') }));
    renderApp('/tasks/0f0f0f0f-0000-4000-8000-000000000000', api);
    expect(await screen.findByText('Task not found')).toBeInTheDocument();
    expect(screen.getByText('Task 0f0f0f0f-0000-4000-8000-000000000000 does not exist.')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: '← All tasks' })).toHaveAttribute('href', '/tasks');
  });
});
