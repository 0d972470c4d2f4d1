import type { WorkerView } from '../../../../services/scheduler/src/api-types';
import { errorMessage } from '../../api/client';
import { Dialog } from '../../components/dialog';

export interface KillDialogProps {
  worker: WorkerView;
  scalerKind: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onClose: () => void;
}

/** Asks before killing a worker, saying what happens to its tasks. */
export function KillDialog({ worker, scalerKind, busy, error, onConfirm, onClose }: KillDialogProps) {
  const inFlight = worker.in_flight ?? 0;
  return (
    <Dialog title={`Kill ${worker.name}?`} onClose={onClose} actions={
      <>
        <button type="button" className="button" onClick={onClose} data-autofocus>Keep it</button>
        <button type="button" className="button button-danger" onClick={onConfirm} disabled={busy}>
          {busy ? 'Killing…' : 'Kill worker'}
        </button>
      </>
    }>
      <p>
        The worker gets SIGTERM: it stops taking tasks and hands back or finishes
        {inFlight > 0 ? ` its ${inFlight} task${inFlight === 1 ? '' : 's'} in flight` : ' what it holds'}; tasks it cannot finish
        go back to the queue and run elsewhere.
      </p>
      <p className="muted small">
        The {scalerKind} scaler keeps the requested number of replicas, so a replacement starts.
      </p>
      {error !== undefined && <p className="form-error" role="alert">{errorMessage(error)}</p>}
    </Dialog>
  );
}
