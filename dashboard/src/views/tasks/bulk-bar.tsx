import { useState } from 'react';
import type { BulkRequest, TaskStatus } from '../../../../services/scheduler/src/api-types';
import { errorMessage } from '../../api/client';
import { api } from '../../api/endpoints';
import { useToast } from '../../components/toasts';
import { formatCount } from '../../format';
import type { TaskFilter } from './use-task-list';

type Action = BulkRequest['action'];
const VERBS: Record<Action, { button: string; done: string }> = {
  cancel: { button: 'Cancel', done: 'Cancelled' },
  retry: { button: 'Retry', done: 'Retried' },
  delete: { button: 'Delete', done: 'Deleted' },
};
const ACTIONS: readonly Action[] = ['cancel', 'retry', 'delete'];
/** The list's status aliases as the bulk filter's states. */
const ALIASES: Record<string, TaskStatus[]> = { active: ['dispatched', 'running'], completed: ['succeeded'] };

/** The list's filter as a bulk filter; undefined when it cannot be one (a search, or no condition at all). */
export function bulkFilterOf(filter: TaskFilter): BulkRequest['filter'] | undefined {
  if (filter.q || !(filter.status || filter.name || filter.queue)) return undefined;
  const status = filter.status ? filter.status.split(',').flatMap((s) => ALIASES[s] ?? [s as TaskStatus]) : undefined;
  return { status, name: filter.name || undefined, queue: filter.queue || undefined };
}

/**
 * Bulk actions on the Tasks page: on the selected rows at once, or on every task the filter matches after a
 * count and a confirmation, a chunk of 1,000 per request (POST /api/tasks/bulk) until none is left.
 */
export function BulkBar({ selected, filter, onDone }: { selected: readonly string[]; filter: TaskFilter; onDone: () => void }) {
  const notify = useToast();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<{ action: Action; matched: number } | null>(null);
  const matching = bulkFilterOf(filter);

  const run = async (action: Action, target: BulkRequest['filter']) => {
    setBusy(true);
    try {
      let done = 0;
      for (;;) {
        const answer = await api.bulk({ action, filter: target, limit: 1000 });
        done += answer.affected;
        if (!answer.more || answer.affected === 0) break;
      }
      notify('success', `${VERBS[action].done} ${formatCount(done)} task${done === 1 ? '' : 's'}.`);
      onDone();
    } catch (err) {
      notify('error', `${VERBS[action].button} failed: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
      setConfirming(null);
    }
  };

  const ask = async (action: Action) => {
    if (!matching) return;
    try {
      const answer = await api.bulk({ action, filter: matching, dry_run: true });
      setConfirming({ action, matched: answer.matched ?? 0 });
    } catch (err) {
      notify('error', errorMessage(err));
    }
  };

  if (selected.length === 0 && !matching) return null;
  return (
    <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
      {confirming ? (
        <>
          <span>{VERBS[confirming.action].button} {formatCount(confirming.matched)} matching task{confirming.matched === 1 ? '' : 's'}?</span>
          <button type="button" className="button button-small button-primary" disabled={busy || confirming.matched === 0}
            onClick={() => run(confirming.action, matching!)}>{busy ? 'Working…' : 'Confirm'}</button>
          <button type="button" className="button button-small button-quiet" disabled={busy} onClick={() => setConfirming(null)}>Back</button>
        </>
      ) : (
        <>
          {selected.length > 0 && ACTIONS.map((action) => (
            <button key={action} type="button" className="button button-small" disabled={busy}
              onClick={() => run(action, { ids: [...selected] })}>{VERBS[action].button} selected ({selected.length})</button>
          ))}
          {matching && ACTIONS.map((action) => (
            <button key={`all-${action}`} type="button" className="button button-small button-quiet" disabled={busy}
              onClick={() => ask(action)}>{VERBS[action].button} all matching…</button>
          ))}
        </>
      )}
    </div>
  );
}
