import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeApi, stats } from './fake-api';
import { renderApp } from './render-app';

describe('task names no live worker runs', () => {
  it('warns on every view, naming each, and links to its pending tasks', async () => {
    const api = new FakeApi().on('GET /api/stats', () => stats({
      pending: 3, unhandled: [{ name: 'send-email', pending: 2 }, { name: 'resize-image', pending: 1 }],
    }));
    const { user } = renderApp('/workers', api);
    const notice = await screen.findByRole('status', { name: 'Task names without a worker' });
    const items = within(notice).getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([
      '2 pending tasks named send-email: no live worker runs this task name',
      '1 pending task named resize-image: no live worker runs this task name',
    ]);

    await user.click(within(notice).getByRole('link', { name: 'send-email' }));
    expect(window.location.pathname + window.location.search).toBe('/tasks?status=pending&name=send-email');
    expect(await screen.findByRole('searchbox', { name: 'Filter by task name' })).toHaveValue('send-email');
    await expect.poll(() => api.requestsTo('GET /api/tasks').some((r) => r.query.get('name') === 'send-email' && r.query.get('status') === 'pending')).toBe(true);
  });

  it('stays away while every pending name has a worker', async () => {
    renderApp('/', new FakeApi().on('GET /api/stats', () => stats({ pending: 5 })));
    expect(await screen.findByTestId('count-pending')).toHaveTextContent('5');
    expect(screen.queryByRole('status', { name: 'Task names without a worker' })).toBeNull();
  });
});
