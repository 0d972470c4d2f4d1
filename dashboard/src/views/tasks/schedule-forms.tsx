import { useState, type FormEvent } from 'react';
import { api } from '../../api/endpoints';
import { fieldErrors } from '../../api/field-errors';
import { Field } from '../../components/field';
import { useToast } from '../../components/toasts';
import { formatCount, shortId, toLocalInputValue } from '../../format';
import { useAction } from '../../hooks/use-action';

export interface ScheduleFormProps {
  /** Called after tasks were created, to refresh lists. */
  onScheduled: () => void;
}

/** The form-wide error, if any, and the submit button, which says when it is working. */
function SubmitRow({ error, busy, label }: { error?: string; busy: boolean; label: string }) {
  return (
    <>
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>{busy ? 'Scheduling…' : label}</button>
      </div>
    </>
  );
}

/** POST /api/schedule: one command at a date and time, defaulting to now. */
export function ScheduleOneForm({ onScheduled }: ScheduleFormProps) {
  const notify = useToast();
  const [command, setCommand] = useState('');
  const [when, setWhen] = useState(() => toLocalInputValue(new Date()));
  const [localError, setLocalError] = useState<{ command?: string; scheduled_at?: string }>({});
  const action = useAction(api.schedule);
  const errors = fieldErrors(action.error, ['command', 'scheduled_at'] as const);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const at = new Date(when);
    const problems = {
      command: command.trim() ? undefined : 'Enter the command the task runs, such as demo-job.',
      scheduled_at: when && !Number.isNaN(at.getTime()) ? undefined : 'Pick a date and time.',
    };
    setLocalError(problems);
    if (problems.command || problems.scheduled_at) return;
    const result = await action.run(command.trim(), at.toISOString());
    if (!result) return;
    notify('success', `Scheduled task ${shortId(result.task_id)} (${result.command}).`);
    setCommand('');
    onScheduled();
  };

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Schedule one task">
      <Field label="Command" name="command" value={command} placeholder="demo-job" autoComplete="off"
        onChange={(e) => setCommand(e.target.value)} error={localError.command ?? errors.field.command}
        hint={<>Try <code>demo-job</code>, <code>sleep 2</code> or <code>fail boom</code>.</>} />
      <Field label="Run at (your time zone)" name="scheduled_at" type="datetime-local" step={1} value={when}
        onChange={(e) => setWhen(e.target.value)} error={localError.scheduled_at ?? errors.field.scheduled_at}
        addon={<button type="button" className="button button-quiet" onClick={() => setWhen(toLocalInputValue(new Date()))}>Now</button>} />
      <SubmitRow error={errors.form} busy={action.busy} label="Schedule task" />
    </form>
  );
}

/** POST /api/schedule/batch: count copies of one command, after an optional delay. */
export function ScheduleBatchForm({ onScheduled }: ScheduleFormProps) {
  const notify = useToast();
  const [command, setCommand] = useState('demo-job');
  const [count, setCount] = useState('100');
  const [delay, setDelay] = useState('0');
  const [localError, setLocalError] = useState<{ command?: string; count?: string; delay_seconds?: string }>({});
  const action = useAction(api.scheduleBatch);
  const errors = fieldErrors(action.error, ['command', 'count', 'delay_seconds'] as const);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const n = Number(count);
    const seconds = Number(delay || '0');
    const problems = {
      command: command.trim() ? undefined : 'Enter the command the tasks run.',
      count: Number.isInteger(n) && n >= 1 && n <= 1000 ? undefined : 'Enter a whole number from 1 to 1,000.',
      delay_seconds: Number.isFinite(seconds) && seconds >= 0 ? undefined : 'Enter 0 or more seconds.',
    };
    setLocalError(problems);
    if (problems.command || problems.count || problems.delay_seconds) return;
    const result = await action.run(command.trim(), n, seconds);
    if (!result) return;
    notify('success', `Scheduled ${formatCount(result.count)} × ${result.command}${seconds > 0 ? ` in ${seconds} s` : ''}.`);
    onScheduled();
  };

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Schedule a batch">
      <Field label="Command" name="command" value={command} autoComplete="off"
        onChange={(e) => setCommand(e.target.value)} error={localError.command ?? errors.field.command} />
      <div className="form-row">
        <Field label="How many" name="count" type="number" inputMode="numeric" min={1} max={1000} value={count}
          onChange={(e) => setCount(e.target.value)} error={localError.count ?? errors.field.count} hint="1 to 1,000" />
        <Field label="Delay (seconds)" name="delay_seconds" type="number" inputMode="decimal" min={0} value={delay}
          onChange={(e) => setDelay(e.target.value)} error={localError.delay_seconds ?? errors.field.delay_seconds} hint="0 runs them now" />
      </div>
      <SubmitRow error={errors.form} busy={action.busy} label="Schedule batch" />
    </form>
  );
}
