import type { WorkerView } from '../../../../services/scheduler/src/api-types';
import { RelativeTime } from '../../components/relative-time';

const STATE_LABELS: Record<WorkerView['state'], string> = {
  alive: 'Alive',
  draining: 'Draining',
  starting: 'Starting',
  gone: 'Gone',
};

/** What a registered worker runs: the task names it declared, and whether it takes command tasks. */
function WorkerTasks({ worker }: { worker: WorkerView }) {
  if (worker.handles === undefined && worker.command_tasks === undefined) return null;
  const names = worker.handles ?? [];
  return (
    <div className="small worker-tasks">
      <div className="slots-label"><span>Runs</span></div>
      {names.length > 0 && (
        <ul className="handles" aria-label={`Task names ${worker.name} runs`}>
          {names.map((name) => <li key={name} className="handle">{name}</li>)}
        </ul>
      )}
      <p className="muted">
        {worker.command_tasks ? (names.length > 0 ? 'and command tasks' : 'Command tasks only') : names.length > 0 ? 'No command tasks' : 'No task names declared'}
      </p>
    </div>
  );
}

/** One worker: state, slot usage, what it runs, heartbeat, and a kill button for running ones. */
export function WorkerCard({ worker, onKill, showPool = false }: { worker: WorkerView; onKill: (worker: WorkerView) => void; showPool?: boolean }) {
  const total = worker.slots_total ?? 0;
  const busy = worker.slots_busy ?? 0;
  const killable = worker.state !== 'gone' && worker.runtime !== undefined;
  return (
    <li className={`card worker-card worker-${worker.state}`} aria-label={`Worker ${worker.name}`}>
      <div className="worker-head">
        <div>
          <h3 className="mono">{worker.name}</h3>
          <p className="muted small">
            {worker.worker_id !== undefined ? `id ${worker.worker_id}` : 'not registered'}
            {worker.runtime?.pid !== undefined && ` · pid ${worker.runtime.pid}`}
            {worker.runtime?.node && ` · ${worker.runtime.node}`}
            {showPool && worker.pool && ` · pool ${worker.pool}`}
          </p>
          {worker.queues && worker.queues.length > 0 && <p className="muted small">Queues: {worker.queues.join(', ')}</p>}
        </div>
        <span className={`badge badge-worker-${worker.state}`}>{STATE_LABELS[worker.state]}</span>
      </div>
      {worker.slots_total !== undefined && (
        <div className="slots">
          <div className="slots-label small"><span>Slots</span><span className="numeric">{busy} / {total} busy</span></div>
          <div className="slot-row" aria-hidden="true">
            {Array.from({ length: Math.min(total, 32) }, (_, i) => <span key={i} className={`slot ${i < busy ? 'slot-busy' : ''}`} />)}
          </div>
        </div>
      )}
      <WorkerTasks worker={worker} />
      <dl className="worker-facts small">
        <div><dt>In flight</dt><dd className="numeric">{worker.in_flight ?? '–'}</dd></div>
        <div><dt>Heartbeat</dt><dd>{worker.last_heartbeat_at ? <RelativeTime iso={worker.last_heartbeat_at} /> : '–'}</dd></div>
        {(worker.heartbeat_misses ?? 0) > 0 && <div><dt>Missed</dt><dd className="text-warn numeric">{worker.heartbeat_misses}</dd></div>}
      </dl>
      {killable && (
        <button type="button" className="button button-danger-quiet button-small" aria-label={`Kill ${worker.name}`} onClick={() => onKill(worker)}>
          Kill
        </button>
      )}
    </li>
  );
}
