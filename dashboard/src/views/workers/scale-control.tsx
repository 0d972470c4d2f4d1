import { useEffect, useState, type FormEvent } from 'react';
import type { PoolView, WorkersResponse } from '../../../../services/scheduler/src/api-types';
import { api } from '../../api/endpoints';
import { fieldErrors } from '../../api/field-errors';
import { useToast } from '../../components/toasts';
import { useAction } from '../../hooks/use-action';

const MIN = 1;
const MAX = 50;

/** What the scaler was asked for against what runs and what has registered, in words. */
function convergence(workers: WorkersResponse): { text: string; done: boolean; ratio: number; alive: number } {
  const desired = workers.scaler.desired;
  const alive = workers.workers.filter((w) => w.state === 'alive').length;
  if (desired === null) return { text: `The ${workers.scaler.kind} scaler does not report a target.`, done: true, ratio: 1, alive };
  const { actual } = workers.scaler;
  const done = actual === desired && alive === desired;
  const text = done ? 'Converged: every requested worker is running and registered.'
    : actual < desired ? 'Starting workers…'
    : actual > desired ? 'Stopping workers…'
    : 'Waiting for workers to register with the coordinator…';
  return { text, done, ratio: desired === 0 ? 1 : Math.min(1, Math.min(actual, alive) / desired), alive };
}

/** Who sets this pool's count, when it is not the operator alone: shown above the form. */
function OwnerNote({ pool }: { pool: PoolView }) {
  if (pool.owner === 'keda') {
    return (
      <p className="notice notice-warn small" role="note">
        KEDA owns these replicas (ScaledObject <span className="mono">{pool.scaled_object}</span>): the scale API refuses changes.
        Change the bounds in the ScaledObject.
      </p>
    );
  }
  if (pool.owner === 'autoscaler') {
    return (
      <p className="muted small" role="note">
        The autoscaler sizes this pool between {pool.min_replicas} and {pool.max_replicas}; a count set here lasts until its next decision.
      </p>
    );
  }
  return null;
}

/**
 * Sets the number of worker replicas (1–50) and shows the scaler converging on it. With worker pools, `workers`
 * holds the chosen pool's workers and counts, and `pool` says which pool and who owns its count; `sendPool`
 * names it in the request (left out for a release with the default pool alone).
 */
export function ScaleControl({ workers, onScaled, pool, sendPool = false }: {
  workers: WorkersResponse; onScaled: () => void; pool?: PoolView; sendPool?: boolean;
}) {
  const notify = useToast();
  const desired = workers.scaler.desired;
  const [value, setValue] = useState(String(desired ?? workers.scaler.actual ?? MIN));
  const [edited, setEdited] = useState(false);
  const action = useAction(api.scale);
  const errors = fieldErrors(action.error, ['count'] as const);

  useEffect(() => {
    if (!edited && desired !== null) setValue(String(desired));
  }, [desired, edited]);

  const count = Number(value);
  const valid = Number.isInteger(count) && count >= MIN && count <= MAX;
  const step = (delta: number) => {
    setEdited(true);
    setValue(String(Math.min(MAX, Math.max(MIN, (Number.isInteger(count) ? count : MIN) + delta))));
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!valid) return;
    const result = await action.run(count, sendPool ? pool?.name : undefined);
    if (!result) return;
    setEdited(false);
    notify('success', `Scaling to ${result.requested} worker${result.requested === 1 ? '' : 's'}${result.previous !== null ? ` (was ${result.previous})` : ''}.`);
    onScaled();
  };
  const state = convergence(workers);
  const error = !valid ? `Enter a whole number from ${MIN} to ${MAX}.` : errors.field.count ?? errors.form;
  const owned = pool?.owner === 'keda';

  return (
    <section className="card scale-card" aria-labelledby="scale-heading">
      <div className="card-header">
        <h2 id="scale-heading">Replicas{sendPool && pool ? ` · ${pool.name}` : ''}</h2>
        <span className="muted small">{workers.scaler.kind} scaler</span>
      </div>
      {pool && <OwnerNote pool={pool} />}
      <form className="scale-form" onSubmit={submit} noValidate>
        <label htmlFor="scale-count" className="visually-hidden">Worker replicas</label>
        <div className="stepper">
          <button type="button" className="button" aria-label="One worker fewer" onClick={() => step(-1)} disabled={owned || count <= MIN}>−</button>
          <input id="scale-count" className="input stepper-input" type="number" inputMode="numeric" min={MIN} max={MAX}
            value={value} disabled={owned} aria-invalid={error ? true : undefined} aria-describedby={error ? 'scale-error' : undefined}
            onChange={(e) => { setEdited(true); setValue(e.target.value); }} />
          <button type="button" className="button" aria-label="One worker more" onClick={() => step(1)} disabled={owned || count >= MAX}>+</button>
        </div>
        <button type="submit" className="button button-primary" disabled={owned || !valid || action.busy}>
          {action.busy ? 'Scaling…' : 'Scale'}
        </button>
      </form>
      {error && <p id="scale-error" className="field-error" role="alert">{error}</p>}
      <div className="convergence">
        <div className="meter" role="meter" aria-label="Workers ready" aria-valuemin={0} aria-valuemax={1} aria-valuenow={state.ratio}>
          <div className={`meter-fill ${state.done ? 'meter-done' : 'meter-progress'}`} style={{ width: `${state.ratio * 100}%` }} />
        </div>
        <dl className="replica-counts">
          <div><dt>Requested</dt><dd>{desired ?? '–'}</dd></div>
          <div><dt>Running</dt><dd>{workers.scaler.actual}</dd></div>
          <div><dt>Registered</dt><dd>{state.alive}</dd></div>
        </dl>
        <p className={`small ${state.done ? 'text-ok' : ''}`} aria-live="polite">{state.text}</p>
      </div>
    </section>
  );
}
