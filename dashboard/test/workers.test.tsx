import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { apiError, FakeApi, worker, workers } from './fake-api';
import { renderApp } from './render-app';
import type { PoolView } from '../../services/scheduler/src/api-types';

describe('workers', () => {
  it('shows each worker with its state, slots and heartbeat', async () => {
    const api = new FakeApi().on('GET /api/workers', () => workers([
      worker('worker-1', { slots_busy: 3, in_flight: 3 }),
      worker('worker-2', { state: 'draining' }),
      worker('worker-3', { state: 'starting', worker_id: undefined, slots_total: undefined, last_heartbeat_at: undefined }),
    ], { desired: 3, actual: 3 }));
    renderApp('/workers', api);
    const first = await screen.findByRole('listitem', { name: 'Worker worker-1' });
    expect(within(first).getByText('Alive')).toBeInTheDocument();
    expect(within(first).getByText('3 / 5 busy')).toBeInTheDocument();
    expect(within(first).getByText('just now')).toBeInTheDocument();
    expect(within(screen.getByRole('listitem', { name: 'Worker worker-2' })).getByText('Draining')).toBeInTheDocument();
    expect(within(screen.getByRole('listitem', { name: 'Worker worker-3' })).getByText(/not registered/)).toBeInTheDocument();
    expect(screen.getByTestId('workers-alive')).toHaveTextContent('1');
    expect(screen.getByText('Waiting for workers to register with the coordinator…')).toBeInTheDocument();
  });

  it('shows the task names each worker runs and whether it runs command tasks', async () => {
    const api = new FakeApi().on('GET /api/workers', () => workers([
      worker('worker-1', { handles: ['send-email', 'resize-image'], command_tasks: false }),
      worker('worker-2', { handles: ['noop', 'sleep'], command_tasks: true }),
      worker('worker-3', { handles: [], command_tasks: true }),
      worker('worker-4', { state: 'starting', worker_id: undefined }),
    ]));
    renderApp('/workers', api);
    const first = await screen.findByRole('listitem', { name: 'Worker worker-1' });
    const names = within(first).getByRole('list', { name: 'Task names worker-1 runs' });
    expect(within(names).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['send-email', 'resize-image']);
    expect(within(first).getByText('No command tasks')).toBeInTheDocument();
    expect(within(screen.getByRole('listitem', { name: 'Worker worker-2' })).getByText('and command tasks')).toBeInTheDocument();
    expect(within(screen.getByRole('listitem', { name: 'Worker worker-3' })).getByText('Command tasks only')).toBeInTheDocument();
    expect(within(screen.getByRole('listitem', { name: 'Worker worker-4' })).queryByText('Runs')).toBeNull();
  });

  it('scales to the requested count and shows it converging', async () => {
    let state = workers([worker('worker-1')], { desired: 1, actual: 1 });
    const api = new FakeApi()
      .on('GET /api/workers', () => state)
      .on('POST /api/workers/scale', ({ body }) => {
        const { count } = body as { count: number };
        state = workers([worker('worker-1'), worker('worker-2', { state: 'starting' })], { desired: count, actual: 2 });
        return { scaler: 'local', requested: count, previous: 1 };
      });
    const { user } = renderApp('/workers', api);
    expect(await screen.findByText('Converged: every requested worker is running and registered.')).toBeInTheDocument();
    const input = screen.getByLabelText('Worker replicas');
    await user.click(screen.getByRole('button', { name: 'One worker more' }));
    await user.click(screen.getByRole('button', { name: 'One worker more' }));
    expect(input).toHaveValue(3);
    await user.click(screen.getByRole('button', { name: 'Scale' }));
    expect(await screen.findByText('Scaling to 3 workers (was 1).')).toBeInTheDocument();
    expect(api.requestsTo('POST /api/workers/scale')[0].body).toEqual({ count: 3 });
    expect(await screen.findByText('Starting workers…')).toBeInTheDocument();
  });

  it('refuses a count outside 1–50 and shows the API\'s refusal', async () => {
    const api = new FakeApi()
      .on('GET /api/workers', () => workers([worker('worker-1')]))
      .on('POST /api/workers/scale', () => ({ status: 503, body: apiError('unavailable', 'the Kubernetes API refused the scale request') }));
    const { user } = renderApp('/workers', api);
    const input = await screen.findByLabelText('Worker replicas');
    await user.clear(input);
    await user.type(input, '51');
    expect(screen.getByText('Enter a whole number from 1 to 50.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Scale' })).toBeDisabled();
    await user.clear(input);
    await user.type(input, '5');
    await user.click(screen.getByRole('button', { name: 'Scale' }));
    expect(await screen.findByText('The Kubernetes API refused the scale request.')).toBeInTheDocument();
  });

  it('kills a worker only after confirmation', async () => {
    const api = new FakeApi()
      .on('GET /api/workers', () => workers([worker('worker-1', { in_flight: 2 }), worker('worker-2')]))
      .on('POST /api/workers/kill', ({ body }) => ({ scaler: 'local', killed: (body as { name: string }).name }));
    const { user } = renderApp('/workers', api);
    const card = await screen.findByRole('listitem', { name: 'Worker worker-1' });

    await user.click(within(card).getByRole('button', { name: 'Kill worker-1' }));
    const dialog = screen.getByRole('dialog', { name: 'Kill worker-1?' });
    expect(within(dialog).getByText(/its 2 tasks in flight/)).toBeInTheDocument();
    expect(within(dialog).getByRole('button', { name: 'Keep it' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(api.requestsTo('POST /api/workers/kill')).toHaveLength(0);

    await user.click(within(card).getByRole('button', { name: 'Kill worker-1' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Kill worker' }));
    expect(await screen.findByText('Killed worker-1.')).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(api.requestsTo('POST /api/workers/kill')[0].body).toEqual({ name: 'worker-1' });
  });

  it('keeps the dialog open with the reason when a kill is refused', async () => {
    const api = new FakeApi()
      .on('GET /api/workers', () => workers([worker('worker-1')]))
      .on('POST /api/workers/kill', () => ({ status: 404, body: apiError('not_found', 'no running worker named "worker-1"', 'name') }));
    const { user } = renderApp('/workers', api);
    await user.click(await screen.findByRole('button', { name: 'Kill worker-1' }));
    await user.click(screen.getByRole('button', { name: 'Kill worker' }));
    expect(await within(screen.getByRole('dialog')).findByText('No running worker named "worker-1".')).toBeInTheDocument();
  });

  it('shows an empty state and an error state', async () => {
    let fail = false;
    const api = new FakeApi().on('GET /api/workers', () => (fail ? { status: 500, body: apiError('internal', 'internal error; see the scheduler log for request 42') } : workers([], { desired: 0, actual: 0 })));
    const first = renderApp('/workers', api);
    expect(await screen.findByText('No workers')).toBeInTheDocument();
    first.unmount();
    fail = true;
    renderApp('/workers', api);
    expect(await screen.findByText('Could not load workers')).toBeInTheDocument();
    expect(screen.getByText('Internal error; see the scheduler log for request 42.')).toBeInTheDocument();
  });
  describe('worker pools', () => {
    const pools = (over: Partial<PoolView>[] = []): PoolView[] => [
      { name: 'default', deployment: 'tm-taskmaster-worker', owner: 'manual', desired: 1, actual: 1, queues: [], tasks: [] },
      { name: 'reports', deployment: 'tm-taskmaster-worker-reports', owner: 'autoscaler', desired: 2, actual: 2, queues: ['reports'], tasks: [], min_replicas: 0, max_replicas: 8 },
      { name: 'gpu', deployment: 'tm-taskmaster-worker-gpu', owner: 'keda', scaled_object: 'tm-taskmaster-worker-gpu', desired: 1, actual: 1, queues: [], tasks: ['render'] },
    ].map((pool, i) => ({ ...pool, ...over[i] }) as PoolView);
    const pooled = () => ({
      ...workers([
        worker('worker-a', { pool: 'default' }),
        worker('reports-b', { pool: 'reports', queues: ['reports'] }),
        worker('reports-c', { pool: 'reports', queues: ['reports'] }),
        worker('gpu-d', { pool: 'gpu' }),
      ], { kind: 'kubernetes', desired: 1, actual: 1 }),
      pools: pools(),
    });

    it("shows one pool at a time and scales the chosen pool, naming it", async () => {
      const api = new FakeApi()
        .on('GET /api/workers', pooled)
        .on('POST /api/workers/scale', ({ body }) => ({ scaler: 'kubernetes', pool: (body as { pool: string }).pool, requested: (body as { count: number }).count, previous: 2 }));
      const { user } = renderApp('/workers', api);
      await screen.findByRole('listitem', { name: 'Worker worker-a' });
      expect(screen.queryByRole('listitem', { name: 'Worker reports-b' })).toBeNull();
      await user.selectOptions(screen.getByLabelText('Worker pool'), 'reports');
      const card = await screen.findByRole('listitem', { name: 'Worker reports-b' });
      expect(within(card).getByText('Queues: reports')).toBeInTheDocument();
      expect(screen.queryByRole('listitem', { name: 'Worker worker-a' })).toBeNull();
      expect(screen.getByText(/The autoscaler sizes this pool between 0 and 8/)).toBeInTheDocument();
      expect(screen.getByLabelText('Worker replicas')).toHaveValue(2);
      await user.click(screen.getByRole('button', { name: 'One worker more' }));
      await user.click(screen.getByRole('button', { name: 'Scale' }));
      expect(await screen.findByText('Scaling to 3 workers (was 2).')).toBeInTheDocument();
      expect(api.requestsTo('POST /api/workers/scale')[0].body).toEqual({ count: 3, pool: 'reports' });
    });

    it("says when KEDA owns a pool's replicas, and offers no scaling for it", async () => {
      const api = new FakeApi().on('GET /api/workers', pooled);
      const { user } = renderApp('/workers', api);
      await screen.findByRole('listitem', { name: 'Worker worker-a' });
      await user.selectOptions(screen.getByLabelText('Worker pool'), 'gpu');
      expect(await screen.findByText(/KEDA owns these replicas/)).toBeInTheDocument();
      expect(screen.getByText('tm-taskmaster-worker-gpu')).toBeInTheDocument();
      expect(screen.getByRole('button', { name: 'Scale' })).toBeDisabled();
      expect(screen.getByLabelText('Worker replicas')).toBeDisabled();
      expect(api.requestsTo('POST /api/workers/scale')).toEqual([]);
    });

    it('with the default pool alone, the page and its requests are as before pools', async () => {
      const api = new FakeApi()
        .on('GET /api/workers', () => ({ ...workers([worker('worker-1', { pool: 'default' })], { desired: 1, actual: 1 }), pools: pools().slice(0, 1) }))
        .on('POST /api/workers/scale', () => ({ scaler: 'local', requested: 2, previous: 1 }));
      const { user } = renderApp('/workers', api);
      await screen.findByRole('listitem', { name: 'Worker worker-1' });
      expect(screen.queryByLabelText('Worker pool')).toBeNull();
      await user.click(screen.getByRole('button', { name: 'One worker more' }));
      await user.click(screen.getByRole('button', { name: 'Scale' }));
      await screen.findByText('Scaling to 2 workers (was 1).');
      expect(api.requestsTo('POST /api/workers/scale')[0].body).toEqual({ count: 2 });
    });
  });
});
