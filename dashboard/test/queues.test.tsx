import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ConcurrencyLimitView, QueueView } from '../../services/scheduler/src/api-types';
import { apiError, FakeApi } from './fake-api';
import { renderApp } from './render-app';

function queue(overrides: Partial<QueueView> = {}): QueueView {
  return {
    name: 'reports', paused: false, max_running: 3, max_per_second: null, running: 2, pending: 40, tokens: null,
    created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', ...overrides,
  };
}

function limit(overrides: Partial<ConcurrencyLimitView> = {}): ConcurrencyLimitView {
  return {
    name: 'charge', key: 'customer.id', max_running: 1, source: 'worker', keys: 12, keys_at_limit: 5, running: 5,
    created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', ...overrides,
  };
}

describe('queues', () => {
  it('lists controlled queues and limits, and pauses a queue', async () => {
    let current = [queue()];
    const api = new FakeApi()
      .on('GET /api/queues', () => ({ queues: current }))
      .on('GET /api/concurrency-limits', () => ({ limits: [limit()] }))
      .on('POST /api/queues/:name/pause', () => {
        current = [{ ...current[0], paused: true }];
        return current[0];
      });
    const { user } = renderApp('/queues', api);
    const row = await screen.findByRole('row', { name: 'Queue reports' });
    expect(within(row).getByText('40')).toBeInTheDocument();
    const limitRow = screen.getByRole('row', { name: 'Limit charge' });
    expect(within(limitRow).getByText('customer.id')).toBeInTheDocument();
    expect(within(limitRow).getByText('task type')).toBeInTheDocument();
    await user.click(within(row).getByRole('button', { name: 'Pause queue reports' }));
    expect(await screen.findByText('Queue reports paused.')).toBeInTheDocument();
    expect(await within(screen.getByRole('row', { name: 'Queue reports' })).findByRole('button', { name: 'Resume queue reports' })).toBeInTheDocument();
  });

  it('sets limits, with the server\'s complaint beside its field, and empty fields remove a limit', async () => {
    const api = new FakeApi()
      .on('GET /api/queues', () => ({ queues: [] }))
      .on('GET /api/concurrency-limits', () => ({ limits: [] }))
      .on('PUT /api/queues/:name', (request) => {
        const body = request.body as { max_running: number | null; max_per_second: number | null };
        if (body.max_running === 0) return { status: 400, body: apiError('invalid_argument', 'max_running must be a whole number from 1 to 1000000', 'max_running') };
        return queue({ name: 'mail', max_running: body.max_running, max_per_second: body.max_per_second });
      })
      .on('PUT /api/concurrency-limits/:name', (request) => ({ status: 201, body: limit({ name: 'export', ...(request.body as object), source: 'api' }) }));
    const { user } = renderApp('/queues', api);
    const form = await screen.findByRole('form', { name: 'Queue limits' });
    expect(screen.getByText('No queue has controls')).toBeInTheDocument();
    await user.type(within(form).getByLabelText('Queue'), 'mail');
    await user.type(within(form).getByLabelText('Max running'), '0');
    await user.click(within(form).getByRole('button', { name: 'Save limits' }));
    expect(await within(form).findByText(/max_running must be a whole number/)).toBeInTheDocument();
    await user.clear(within(form).getByLabelText('Max running'));
    await user.type(within(form).getByLabelText('Max per second'), '20');
    await user.click(within(form).getByRole('button', { name: 'Save limits' }));
    expect(await screen.findByText('Queue mail: max running none, max per second 20.')).toBeInTheDocument();
    expect(api.requestsTo('PUT /api/queues/:name').at(-1)?.body).toEqual({ max_running: null, max_per_second: 20 });

    const limitForm = screen.getByRole('form', { name: 'Concurrency limit' });
    await user.type(within(limitForm).getByLabelText('Task name'), 'export');
    await user.type(within(limitForm).getByLabelText('Key (payload field)'), 'account');
    await user.click(within(limitForm).getByRole('button', { name: 'Set limit' }));
    expect(await screen.findByText('export: at most 1 in flight per account.')).toBeInTheDocument();
    expect(api.requestsTo('PUT /api/concurrency-limits/:name').at(-1)?.body).toEqual({ key: 'account', max_running: 1 });
  });
});
