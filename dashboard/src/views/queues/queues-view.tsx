import { useState, type FormEvent } from 'react';
import type { ConcurrencyLimitView, QueueView } from '../../../../services/scheduler/src/api-types';
import { errorMessage } from '../../api/client';
import { api } from '../../api/endpoints';
import { fieldErrors } from '../../api/field-errors';
import { Field } from '../../components/field';
import { Empty, ErrorNotice, Loading } from '../../components/states';
import { useToast } from '../../components/toasts';
import { useAction } from '../../hooks/use-action';
import { usePoll } from '../../hooks/use-poll';

const QUEUES_INTERVAL_MS = 3000;

/**
 * Queue controls (pause, resume, limits) and concurrency limits per key (docs/queues.md): what each gate lets
 * through now, and forms to set them. The default queue takes no controls, so it is not listed.
 */
export function QueuesView() {
  const queues = usePoll((signal) => api.queues(signal), { intervalMs: QUEUES_INTERVAL_MS, minGapMs: 500 });
  const limits = usePoll((signal) => api.concurrencyLimits(signal), { intervalMs: QUEUES_INTERVAL_MS, minGapMs: 500 });
  if (queues.loading || limits.loading) return <Loading label="Loading queues…" />;
  if (!queues.data) return <ErrorNotice title="Could not load queues" error={queues.error} onRetry={queues.refresh} />;
  if (!limits.data) return <ErrorNotice title="Could not load concurrency limits" error={limits.error} onRetry={limits.refresh} />;
  return (
    <div className="schedules-layout">
      <section className="card" aria-labelledby="queues-heading">
        <div className="card-header"><h2 id="queues-heading">Queue controls</h2><span className="muted small">{queues.data.queues.length}</span></div>
        {queues.data.queues.length === 0
          ? <Empty title="No queue has controls">Pause a named queue or limit it below; tasks enqueued with <code>queue: "reports"</code> are in the queue <code>reports</code>.</Empty>
          : <QueueTable queues={queues.data.queues} onChanged={queues.refresh} />}
        <QueueForm onSaved={queues.refresh} />
      </section>
      <section className="card" aria-labelledby="limits-heading">
        <div className="card-header"><h2 id="limits-heading">Concurrency limits per key</h2><span className="muted small">{limits.data.limits.length}</span></div>
        {limits.data.limits.length === 0
          ? <Empty title="No concurrency limits">Limit a task type per payload field below, or declare it in code with <code>defineTask({'{'} concurrency {'}'})</code>.</Empty>
          : <LimitTable limits={limits.data.limits} onChanged={limits.refresh} />}
        <LimitForm onSaved={limits.refresh} />
      </section>
    </div>
  );
}

function QueueTable({ queues, onChanged }: { queues: readonly QueueView[]; onChanged: () => void }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Queues">
        <thead><tr><th>Queue</th><th>State</th><th>Max running</th><th>Max per second</th><th>In flight</th><th>Pending</th><th /></tr></thead>
        <tbody>{queues.map((queue) => <QueueRow key={queue.name} queue={queue} onChanged={onChanged} />)}</tbody>
      </table>
    </div>
  );
}

function QueueRow({ queue, onChanged }: { queue: QueueView; onChanged: () => void }) {
  const notify = useToast();
  const onError = (err: unknown) => notify('error', `Queue ${queue.name}: ${errorMessage(err)}`);
  const pause = useAction(api.pauseQueue, onError);
  const resume = useAction(api.resumeQueue, onError);
  const reset = useAction(api.resetQueue, onError);
  const act = async (action: typeof pause | typeof reset, verb: string) => {
    if ((await action.run(queue.name)) !== undefined) notify('success', `Queue ${queue.name} ${verb}.`);
    onChanged();
  };
  return (
    <tr aria-label={`Queue ${queue.name}`}>
      <td className="mono">{queue.name}</td>
      <td>{queue.paused ? 'Paused' : 'Active'}</td>
      <td>{queue.max_running ?? '–'}</td>
      <td>{queue.max_per_second ?? '–'}</td>
      <td>{queue.running}</td>
      <td>{queue.pending}</td>
      <td className="row-actions">
        {queue.paused
          ? <button type="button" className="button button-small" disabled={resume.busy} aria-label={`Resume queue ${queue.name}`} onClick={() => act(resume, 'resumed')}>Resume</button>
          : <button type="button" className="button button-small" disabled={pause.busy} aria-label={`Pause queue ${queue.name}`} onClick={() => act(pause, 'paused')}>Pause</button>}
        <button type="button" className="button button-small button-quiet" disabled={reset.busy} aria-label={`Remove the controls of queue ${queue.name}`}
          onClick={() => act(reset, 'released')}>Remove controls</button>
      </td>
    </tr>
  );
}

/** An empty limit field removes the limit (null); anything else goes to the server, which checks it. */
const limitInput = (text: string): number | null => (text.trim() === '' ? null : Number(text));

const QUEUE_FIELDS = ['name', 'max_running', 'max_per_second'] as const;

/** PUT /api/queues/:name: limits set as typed, empty ones removed. */
function QueueForm({ onSaved }: { onSaved: () => void }) {
  const notify = useToast();
  const [name, setName] = useState('');
  const [maxRunning, setMaxRunning] = useState('');
  const [maxPerSecond, setMaxPerSecond] = useState('');
  const action = useAction(api.setQueue);
  const errors = fieldErrors(action.error, QUEUE_FIELDS);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = await action.run(name.trim(), { max_running: limitInput(maxRunning), max_per_second: limitInput(maxPerSecond) });
    if (!saved) return;
    notify('success', `Queue ${saved.name}: max running ${saved.max_running ?? 'none'}, max per second ${saved.max_per_second ?? 'none'}.`);
    onSaved();
  };
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Queue limits">
      <Field label="Queue" name="name" value={name} placeholder="reports" autoComplete="off" onChange={(e) => setName(e.target.value)} error={errors.field.name} />
      <Field label="Max running" name="max_running" value={maxRunning} inputMode="numeric" autoComplete="off" onChange={(e) => setMaxRunning(e.target.value)}
        error={errors.field.max_running} hint="Most of its tasks in flight at once; empty for no limit." />
      <Field label="Max per second" name="max_per_second" value={maxPerSecond} inputMode="numeric" autoComplete="off" onChange={(e) => setMaxPerSecond(e.target.value)}
        error={errors.field.max_per_second} hint="Most of its tasks started a second; empty for no limit." />
      {errors.form && <p className="form-error" role="alert">{errors.form}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={action.busy}>{action.busy ? 'Saving…' : 'Save limits'}</button>
      </div>
    </form>
  );
}

function LimitTable({ limits, onChanged }: { limits: readonly ConcurrencyLimitView[]; onChanged: () => void }) {
  const notify = useToast();
  const remove = useAction(api.removeConcurrencyLimit, (err) => notify('error', errorMessage(err)));
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Concurrency limits">
        <thead><tr><th>Task</th><th>Key</th><th>Max per key</th><th>Keys in use</th><th>At the limit</th><th>In flight</th><th>From</th><th /></tr></thead>
        <tbody>
          {limits.map((limit) => (
            <tr key={limit.name} aria-label={`Limit ${limit.name}`}>
              <td className="mono">{limit.name}</td>
              <td className="mono">{limit.key}</td>
              <td>{limit.max_running}</td>
              <td>{limit.keys}</td>
              <td>{limit.keys_at_limit}</td>
              <td>{limit.running}</td>
              <td>{limit.source === 'worker' ? 'task type' : 'API'}</td>
              <td className="row-actions">
                <button type="button" className="button button-small button-quiet" disabled={remove.busy} aria-label={`Remove the limit of ${limit.name}`}
                  onClick={async () => {
                    if ((await remove.run(limit.name)) !== undefined) notify('success', `Limit of ${limit.name} removed.`);
                    onChanged();
                  }}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const LIMIT_FIELDS = ['name', 'key', 'max_running'] as const;

/** PUT /api/concurrency-limits/:name */
function LimitForm({ onSaved }: { onSaved: () => void }) {
  const notify = useToast();
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [maxRunning, setMaxRunning] = useState('1');
  const action = useAction(api.setConcurrencyLimit);
  const errors = fieldErrors(action.error, LIMIT_FIELDS);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = await action.run(name.trim(), { key: key.trim(), max_running: Number(maxRunning) });
    if (!saved) return;
    notify('success', `${saved.name}: at most ${saved.max_running} in flight per ${saved.key}.`);
    onSaved();
  };
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Concurrency limit">
      <Field label="Task name" name="name" value={name} placeholder="charge-card" autoComplete="off" onChange={(e) => setName(e.target.value)} error={errors.field.name} />
      <Field label="Key (payload field)" name="key" value={key} placeholder="customer_id" autoComplete="off" onChange={(e) => setKey(e.target.value)} error={errors.field.key}
        hint="A field of the payload, or a dot path such as customer.id; tasks without it are not limited." />
      <Field label="Max in flight per key" name="max_running" value={maxRunning} inputMode="numeric" autoComplete="off" onChange={(e) => setMaxRunning(e.target.value)}
        error={errors.field.max_running} />
      {errors.form && <p className="form-error" role="alert">{errors.form}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={action.busy}>{action.busy ? 'Saving…' : 'Set limit'}</button>
      </div>
    </form>
  );
}
