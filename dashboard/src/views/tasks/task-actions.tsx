import type { TaskView } from '../../../../services/scheduler/src/api-types';
import { errorMessage } from '../../api/client';
import { api } from '../../api/endpoints';
import { useToast } from '../../components/toasts';
import { shortId } from '../../format';
import { useAction } from '../../hooks/use-action';

/** Cancel for tasks not finished (a running one is stopped on its worker), retry for failed or cancelled ones. */
export function TaskActions({ task, onChanged }: { task: TaskView; onChanged: () => void }) {
  const notify = useToast();
  const id = shortId(task.task_id);
  const onError = (err: unknown) => notify('error', `Task ${id}: ${errorMessage(err)}`);
  const cancel = useAction(api.cancel, onError);
  const retry = useAction(api.retry, onError);

  const perform = async (action: typeof cancel, verb: string) => {
    if (await action.run(task.task_id)) notify('success', `Task ${id} ${verb}.`);
    onChanged();
  };

  return (
    <span className="task-actions">
      {(task.status === 'pending' || task.status === 'dispatched' || task.status === 'running') && (
        <button type="button" className="button button-small" disabled={cancel.busy}
          aria-label={`Cancel task ${id}`} onClick={() => perform(cancel, 'cancelled')}>Cancel</button>
      )}
      {(task.status === 'failed' || task.status === 'cancelled') && (
        <button type="button" className="button button-small" disabled={retry.busy}
          aria-label={`Retry task ${id}`} onClick={() => perform(retry, 'queued again')}>Retry</button>
      )}
    </span>
  );
}
