import { useState } from 'react';
import type { WorkerView, WorkersResponse } from '../../../../services/scheduler/src/api-types';
import { api } from '../../api/endpoints';
import { Link } from '../../components/link';
import { Empty, ErrorNotice, Loading } from '../../components/states';
import { useToast } from '../../components/toasts';
import { formatCount } from '../../format';
import { useAction } from '../../hooks/use-action';
import { usePoll } from '../../hooks/use-poll';
import { useStats } from '../../stats/stats-context';
import { KillDialog } from './kill-dialog';
import { ScaleControl } from './scale-control';
import { WorkerCard } from './worker-card';

/** Workers change by the second while scaling, so this view refreshes every two seconds while it is open. */
const WORKERS_INTERVAL_MS = 2000;

/** A worker of a pod without a pool label (a registered worker the scaler does not list) counts as the default pool's. */
const poolOf = (worker: WorkerView) => worker.pool ?? 'default';

/** Workers: each one's state and slots, kill with confirmation, and the replica count, per worker pool. */
export function WorkersView() {
  const workers = usePoll((signal) => api.workers(signal), { intervalMs: WORKERS_INTERVAL_MS, minGapMs: 500 });
  const notify = useToast();
  const stats = useStats();
  const [victim, setVictim] = useState<WorkerView | null>(null);
  const [poolName, setPoolName] = useState('default');
  const kill = useAction(api.kill);

  if (workers.loading) return <Loading label="Loading workers…" />;
  if (!workers.data) return <ErrorNotice title="Could not load workers" error={workers.error} onRetry={workers.refresh} />;

  const all = workers.data;
  const pools = all.pools ?? [];
  // With several pools the page shows one at a time; with one (or an older scheduler) it is the page it was.
  const several = pools.length > 1;
  const pool = pools.find((p) => p.name === poolName) ?? pools[0];
  const data: WorkersResponse = several && pool
    ? { ...all, workers: all.workers.filter((w) => poolOf(w) === pool.name), scaler: { kind: all.scaler.kind, desired: pool.desired, actual: pool.actual } }
    : all;
  const alive = data.workers.filter((w) => w.state === 'alive');
  const slotsTotal = alive.reduce((sum, w) => sum + (w.slots_total ?? 0), 0);
  const slotsBusy = alive.reduce((sum, w) => sum + (w.slots_busy ?? 0), 0);
  const utilization = slotsTotal > 0 ? slotsBusy / slotsTotal : 0;

  const confirmKill = async () => {
    if (!victim) return;
    const result = await kill.run(victim.name, several ? victim.pool : undefined);
    if (!result) return;
    notify('success', `Killed ${result.killed}.`);
    setVictim(null);
    workers.refresh();
  };

  return (
    <div className="workers-layout">
      {workers.error !== undefined && <ErrorNotice title="Showing the last state loaded" error={workers.error} onRetry={workers.refresh} />}
      {!data.coordinator_reachable && (
        <div className="notice notice-warn" role="status">
          The coordinator is not answering, so registration, slots and heartbeats are unknown. The list shows what the scaler runs.
        </div>
      )}
      {several && (
        <div className="pool-picker">
          <label htmlFor="worker-pool">Worker pool</label>
          <select id="worker-pool" className="input" value={pool?.name} onChange={(e) => setPoolName(e.target.value)}>
            {pools.map((p) => (
              <option key={p.name} value={p.name}>{p.name} ({p.actual}/{p.desired ?? '–'}{p.queues.length > 0 ? ` · ${p.queues.join(', ')}` : ''})</option>
            ))}
          </select>
        </div>
      )}
      <div className="workers-top">
        <section className="card summary-card" aria-labelledby="workers-summary-heading">
          <h2 id="workers-summary-heading">Workers</h2>
          <dl className="summary-numbers">
            <div><dt>Alive</dt><dd data-testid="workers-alive">{alive.length}</dd></div>
            <div><dt>Slots busy</dt><dd>{slotsBusy} <span className="muted">/ {slotsTotal}</span></dd></div>
            <div><dt>In flight</dt><dd>{alive.reduce((sum, w) => sum + (w.in_flight ?? 0), 0)}</dd></div>
          </dl>
          <div className="utilization">
            <div className="slots-label small"><span>Slot utilization</span><span className="numeric">{Math.round(utilization * 100)}%</span></div>
            <div className="meter" aria-hidden="true"><div className="meter-fill meter-busy" style={{ width: `${utilization * 100}%` }} /></div>
            {stats.data && (
              <p className="muted small">
                <Link to="/tasks?status=pending">{formatCount(stats.data.pending)} pending</Link> ·{' '}
                <Link to="/tasks?status=active">{formatCount(stats.data.running + stats.data.dispatched)} running</Link>
              </p>
            )}
          </div>
        </section>
        <ScaleControl key={pool?.name} workers={data} pool={pool} sendPool={several} onScaled={workers.refresh} />
      </div>
      {data.workers.length === 0 ? (
        <Empty title="No workers">Scale to one or more replicas to start workers; tasks wait in the queue until then.</Empty>
      ) : (
        <ul className="worker-grid" aria-label="Workers">
          {data.workers.map((worker) => (
            <WorkerCard key={worker.name} worker={worker} showPool={several} onKill={(w) => { kill.clearError(); setVictim(w); }} />
          ))}
        </ul>
      )}
      {victim && (
        <KillDialog worker={victim} scalerKind={data.scaler.kind} busy={kill.busy} error={kill.error}
          onConfirm={confirmKill} onClose={() => setVictim(null)} />
      )}
    </div>
  );
}
