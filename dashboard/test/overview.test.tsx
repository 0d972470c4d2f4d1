import { act, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { apiError, event, FakeApi, stats } from './fake-api';
import { renderApp } from './render-app';

describe('overview', () => {
  it('shows the counts and workers from /api/stats', async () => {
    const api = new FakeApi().on('GET /api/stats', () => stats({ pending: 1234, running: 7, dispatched: 1, completed: 99, failed: 3, cancelled: 2, workers: 4, slots_total: 20, slots_busy: 8 }));
    renderApp('/', api);
    expect(await screen.findByTestId('count-pending')).toHaveTextContent('1,234');
    expect(screen.getByTestId('count-running')).toHaveTextContent('8');
    expect(screen.getByTestId('count-completed')).toHaveTextContent('99');
    expect(screen.getByTestId('count-failed')).toHaveTextContent('3');
    expect(screen.getByTestId('count-workers')).toHaveTextContent('4');
    expect(screen.getByText(/8 \/ 20 slots busy/)).toBeInTheDocument();
    expect(screen.getByText('2 cancelled')).toBeInTheDocument();
  });

  it('says how long finished tasks and events are kept', async () => {
    const retention = { succeeded_seconds: 7 * 86_400, failed_seconds: 0, cancelled_seconds: 36 * 3600, events_seconds: 86_400 };
    renderApp('/', new FakeApi().on('GET /api/stats', () => stats({ retention })));
    expect(await screen.findByText(/Finished tasks are kept/)).toHaveTextContent(
      'Finished tasks are kept: succeeded 7 d, failed forever, cancelled 36 h; events and attempt history 1 d.');
  });

  it('refreshes the counts soon after events arrive, and lists the latest events', async () => {
    let completed = 0;
    const api = new FakeApi().on('GET /api/stats', () => stats({ completed }));
    const { deliver } = renderApp('/', api);
    expect(await screen.findByTestId('count-completed')).toHaveTextContent('0');
    const before = api.requestsTo('GET /api/stats').length;

    completed = 5;
    deliver(event({ type: 'completed', task_id: 'aaaaaaaa-0000-4000-8000-000000000000', message: 'task aaaaaaaa demo-job completed' }));
    expect(await screen.findByText('task aaaaaaaa demo-job completed')).toBeInTheDocument();
    await expect.poll(() => screen.getByTestId('count-completed').textContent, { timeout: 3000 }).toBe('5');
    // A burst of events makes one request, not one per event.
    deliver(...Array.from({ length: 50 }, () => event({ type: 'completed' })));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(api.requestsTo('GET /api/stats').length - before).toBeLessThanOrEqual(3);
  });

  it('says why when the scheduler cannot be reached, and recovers on retry', async () => {
    let down = true;
    const api = new FakeApi().on('GET /api/stats', () => (down ? { status: 503, body: apiError('unavailable', 'database unreachable') } : stats({ pending: 2 })));
    const { user } = renderApp('/', api);
    const alert = await screen.findByRole('alert');
    expect(within(alert).getByText('Could not load statistics')).toBeInTheDocument();
    expect(within(alert).getByText('Database unreachable.')).toBeInTheDocument();
    down = false;
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('count-pending')).toHaveTextContent('2');
  });

  it('shows the connection state of the event stream', async () => {
    const { stream } = renderApp('/');
    expect(await screen.findByText('Connecting…')).toBeInTheDocument();
    act(() => stream.latest().open());
    expect(screen.getByText('Live')).toBeInTheDocument();
    act(() => stream.latest().fail());
    expect(screen.getByText('Reconnecting…')).toBeInTheDocument();
  });

  it('warns when the coordinator is unreachable', async () => {
    renderApp('/', new FakeApi().on('GET /api/stats', () => stats({ coordinator_reachable: false })));
    expect(await screen.findByText(/The coordinator is not answering/)).toBeInTheDocument();
    expect(screen.getByTestId('count-workers')).toHaveTextContent('?');
  });
});
