import { useState, type FormEvent } from 'react';
import type { CronScheduleView } from '../../../../services/scheduler/src/api-types';
import { errorMessage } from '../../api/client';
import { api } from '../../api/endpoints';
import { fieldErrors } from '../../api/field-errors';
import { Field } from '../../components/field';
import { Link } from '../../components/link';
import { RelativeTime } from '../../components/relative-time';
import { Empty, ErrorNotice, Loading } from '../../components/states';
import { useToast } from '../../components/toasts';
import { formatDateTime, shortId } from '../../format';
import { useAction } from '../../hooks/use-action';
import { usePoll } from '../../hooks/use-poll';

const SCHEDULES_INTERVAL_MS = 5000;

/** Where a schedule was declared, in the words of the place to change it. */
const SOURCE_LABELS: Record<CronScheduleView['source'], string> = { api: 'API', worker: 'task type', config: 'chart values', kubernetes: 'TaskSchedule' };

/** Recurring schedules: each one's pattern, next and last run, pause/resume and delete, and a form to make one. */
export function SchedulesView() {
  const schedules = usePoll((signal) => api.schedules(signal), { intervalMs: SCHEDULES_INTERVAL_MS, minGapMs: 500 });
  if (schedules.loading) return <Loading label="Loading schedules…" />;
  if (!schedules.data) return <ErrorNotice title="Could not load schedules" error={schedules.error} onRetry={schedules.refresh} />;
  const list = schedules.data.schedules;
  return (
    <div className="schedules-layout">
      {schedules.error !== undefined && <ErrorNotice title="Showing the last state loaded" error={schedules.error} onRetry={schedules.refresh} />}
      <section className="card" aria-labelledby="schedules-heading">
        <div className="card-header"><h2 id="schedules-heading">Schedules</h2><span className="muted small">{list.length}</span></div>
        {list.length === 0
          ? <Empty title="No schedules yet">Create one below, declare one in code with <code>defineTask({'{'} cron {'}'})</code>, or list them in the chart's <code>schedules</code>.</Empty>
          : <ScheduleTable schedules={list} onChanged={schedules.refresh} />}
      </section>
      <section className="card" aria-labelledby="new-schedule-heading">
        <div className="card-header"><h2 id="new-schedule-heading">New schedule</h2></div>
        <ScheduleForm onCreated={schedules.refresh} />
      </section>
    </div>
  );
}

function ScheduleTable({ schedules, onChanged }: { schedules: readonly CronScheduleView[]; onChanged: () => void }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Schedules">
        <thead><tr><th>Task</th><th>Pattern</th><th>Next run</th><th>Last run</th><th>From</th><th>State</th><th /></tr></thead>
        <tbody>
          {schedules.map((schedule) => <ScheduleRow key={schedule.id} schedule={schedule} onChanged={onChanged} />)}
        </tbody>
      </table>
    </div>
  );
}

function ScheduleRow({ schedule, onChanged }: { schedule: CronScheduleView; onChanged: () => void }) {
  const notify = useToast();
  const onError = (err: unknown) => notify('error', `Schedule ${schedule.key ?? shortId(schedule.id)}: ${errorMessage(err)}`);
  const pause = useAction(api.pauseSchedule, onError);
  const resume = useAction(api.resumeSchedule, onError);
  const remove = useAction(api.deleteSchedule, onError);
  const label = schedule.key ?? schedule.name;
  const act = async (action: typeof pause | typeof remove, verb: string) => {
    if ((await action.run(schedule.id)) !== undefined) notify('success', `Schedule ${label} ${verb}.`);
    onChanged();
  };
  return (
    <tr aria-label={`Schedule ${label}`}>
      <td><span className="mono">{schedule.name}</span>{schedule.key && <div className="muted small">{schedule.key}</div>}</td>
      <td><code>{schedule.cron}</code><div className="muted small">{schedule.timezone}{schedule.overlap === 'skip' ? ' · no overlap' : ''}</div></td>
      <td>{schedule.paused || !schedule.next_run_at ? '–' : <><RelativeTime iso={schedule.next_run_at} /><div className="muted small">{formatDateTime(schedule.next_run_at)}</div></>}</td>
      <td>{schedule.last_task_id && schedule.last_run_at
        ? <Link to={`/tasks/${schedule.last_task_id}`}><RelativeTime iso={schedule.last_run_at} /></Link> : '–'}</td>
      <td>{SOURCE_LABELS[schedule.source]}</td>
      <td>{schedule.paused ? 'Paused' : 'Active'}</td>
      <td className="row-actions">
        {schedule.source === 'kubernetes'
          // The API refuses (409) to change a TaskSchedule's schedule: its resource is where it changes.
          ? <span className="muted small">Edit its TaskSchedule (<code>spec.suspend</code> pauses it)</span>
          : <>
            {schedule.paused
              ? <button type="button" className="button button-small" disabled={resume.busy} aria-label={`Resume schedule ${label}`} onClick={() => act(resume, 'resumed')}>Resume</button>
              : <button type="button" className="button button-small" disabled={pause.busy} aria-label={`Pause schedule ${label}`} onClick={() => act(pause, 'paused')}>Pause</button>}
            <button type="button" className="button button-small button-quiet" disabled={remove.busy} aria-label={`Delete schedule ${label}`}
              onClick={() => act(remove, 'deleted')}>Delete</button>
          </>}
      </td>
    </tr>
  );
}

const FIELDS = ['name', 'cron', 'timezone', 'payload'] as const;

/** POST /api/schedules; the server checks the pattern and zone, and its errors land beside their fields. */
function ScheduleForm({ onCreated }: { onCreated: () => void }) {
  const notify = useToast();
  const [name, setName] = useState('');
  const [cron, setCron] = useState('0 * * * *');
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [payload, setPayload] = useState('');
  const [payloadError, setPayloadError] = useState<string>();
  const action = useAction(api.createSchedule);
  const errors = fieldErrors(action.error, FIELDS);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = payload.trim() === '' ? undefined : JSON.parse(payload);
      setPayloadError(undefined);
    } catch {
      setPayloadError('Enter JSON, such as {"report": "daily"}, or leave it empty.');
      return;
    }
    const made = await action.run({ name: name.trim(), cron: cron.trim(), timezone: timezone.trim() || undefined, payload: parsed as never });
    if (!made) return;
    notify('success', `Schedule for ${made.name} created; next run ${made.next_run_at ? formatDateTime(made.next_run_at) : 'never'}.`);
    setName('');
    onCreated();
  };

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="New schedule">
      <Field label="Task name" name="name" value={name} placeholder="send-report" autoComplete="off" onChange={(e) => setName(e.target.value)} error={errors.field.name} />
      <Field label="Cron pattern" name="cron" value={cron} autoComplete="off" onChange={(e) => setCron(e.target.value)} error={errors.field.cron}
        hint={<>5 fields (minute hour day month weekday) or 6 with seconds first: <code>0 9 * * 1-5</code> is 9:00 on weekdays.</>} />
      <Field label="Time zone" name="timezone" value={timezone} autoComplete="off" onChange={(e) => setTimezone(e.target.value)} error={errors.field.timezone} />
      <Field label="Payload (JSON)" name="payload" value={payload} autoComplete="off" onChange={(e) => setPayload(e.target.value)} error={payloadError ?? errors.field.payload} />
      {errors.form && <p className="form-error" role="alert">{errors.form}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={action.busy}>{action.busy ? 'Creating…' : 'Create schedule'}</button>
      </div>
    </form>
  );
}
