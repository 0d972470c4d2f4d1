import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { CronScheduleView } from '../../services/scheduler/src/api-types';
import { apiError, FakeApi } from './fake-api';
import { renderApp } from './render-app';

function schedule(overrides: Partial<CronScheduleView> = {}): CronScheduleView {
  return {
    id: '5f0c2a61-0000-4000-8000-000000000001', key: null, name: 'send-report', payload: null, queue: 'default', priority: 0, max_attempts: 3,
    cron: '0 9 * * 1-5', timezone: 'Europe/Paris', overlap: 'allow', catch_up: 'last', paused: false,
    next_run_at: new Date(Date.now() + 3_600_000).toISOString(), source: 'api',
    created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', ...overrides,
  };
}

describe('schedules', () => {
  it('lists schedules with their pattern, zone and origin, and pauses one', async () => {
    let current = [schedule(), schedule({ id: '5f0c2a61-0000-4000-8000-000000000002', key: 'task:sdk-tick', name: 'sdk-tick', cron: '*/5 * * * * *', timezone: 'UTC', source: 'worker' })];
    const api = new FakeApi()
      .on('GET /api/schedules', () => ({ schedules: current }))
      .on('POST /api/schedules/:id/pause', () => {
        current = [{ ...current[0], paused: true }, current[1]];
        return current[0];
      });
    const { user } = renderApp('/schedules', api);
    const row = await screen.findByRole('row', { name: 'Schedule send-report' });
    expect(within(row).getByText('0 9 * * 1-5')).toBeInTheDocument();
    expect(within(row).getByText('Europe/Paris')).toBeInTheDocument();
    expect(within(screen.getByRole('row', { name: 'Schedule task:sdk-tick' })).getByText('task type')).toBeInTheDocument();
    await user.click(within(row).getByRole('button', { name: 'Pause schedule send-report' }));
    expect(await screen.findByText('Schedule send-report paused.')).toBeInTheDocument();
    expect(await within(screen.getByRole('row', { name: 'Schedule send-report' })).findByRole('button', { name: 'Resume schedule send-report' })).toBeInTheDocument();
  });

  it('shows a TaskSchedule\'s schedule as managed by Kubernetes, without pause or delete', async () => {
    const api = new FakeApi().on('GET /api/schedules', () => ({
      schedules: [schedule({ key: 'k8s:ops:nightly', name: 'build-report', source: 'kubernetes' })],
    }));
    renderApp('/schedules', api);
    const row = await screen.findByRole('row', { name: 'Schedule k8s:ops:nightly' });
    expect(within(row).getByText('TaskSchedule')).toBeInTheDocument();
    expect(within(row).getByText(/Edit its TaskSchedule/)).toBeInTheDocument();
    expect(within(row).queryByRole('button')).toBeNull();
  });

  it('creates a schedule, and shows the server\'s complaint about the pattern beside its field', async () => {
    const api = new FakeApi()
      .on('GET /api/schedules', () => ({ schedules: [] }))
      .on('POST /api/schedules', (request) => {
        const body = request.body as { cron: string };
        if (body.cron === '61 * * * *') return { status: 400, body: apiError('invalid_argument', 'cron is not a cron pattern: Invalid value for minute: 61', 'cron') };
        return { status: 201, body: schedule({ cron: body.cron }) };
      });
    const { user } = renderApp('/schedules', api);
    const form = await screen.findByRole('form', { name: 'New schedule' });
    expect(screen.getByText('No schedules yet')).toBeInTheDocument();
    await user.type(within(form).getByLabelText('Task name'), 'send-report');
    const cron = within(form).getByLabelText('Cron pattern');
    await user.clear(cron);
    await user.type(cron, '61 * * * *');
    await user.click(within(form).getByRole('button', { name: 'Create schedule' }));
    expect(await within(form).findByText(/Invalid value for minute: 61/)).toBeInTheDocument();
    await user.clear(cron);
    await user.type(cron, '0 9 * * 1-5');
    await user.click(within(form).getByRole('button', { name: 'Create schedule' }));
    expect(await screen.findByText(/Schedule for send-report created/)).toBeInTheDocument();
    expect(api.requestsTo('POST /api/schedules').at(-1)?.body).toMatchObject({ name: 'send-report', cron: '0 9 * * 1-5' });
  });
});
