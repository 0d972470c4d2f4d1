/** The autoscaler's tunables (AutoscalerConfig plus the watermarks, which are not configurable). */
export interface ScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  /** Running + queued tasks one worker is sized for. */
  tasksPerWorker: number;
  cooldownMs: number;
  /** When the oldest due task has waited longer than this, one more worker even if the depth fits; 0 or absent: off. */
  maxQueueAgeMs?: number;
}

/**
 * Scale up as soon as the demand exceeds what the replicas can hold (utilisation above 100%), to exactly
 * what it needs. Scale down only to a count that would still be at most 70% busy. Between the two the
 * count holds, so demand has to move by more than 40% before a scale-up can follow a scale-down: queue
 * noise never flaps the workers. (The Kubernetes HPA uses a ±10% tolerance plus a 5-minute window for the
 * same reason; a dead band is simpler to reason about with small integer replica counts.)
 */
export const SCALE_UP_UTILISATION = 1;
export const SCALE_DOWN_UTILISATION = 0.7;

export interface ScalingInput {
  /** The replicas asked for now (the scale's spec.replicas), not the ready ones: pods still starting count. */
  current: number;
  /** Pending tasks that are due. */
  queued: number;
  /** How long the oldest due task has waited, in ms (0 when none is due); absent: not measured. */
  oldestDueAgeMs?: number;
  /** Busy slots of the registered workers (ListWorkers slots_busy), null when the coordinator cannot be reached. */
  slotsBusy: number | null;
  /** Total slots of the registered workers (ListWorkers slots_total), for the record. */
  slotsTotal: number | null;
  /** ms since the epoch. */
  now: number;
  /** When this autoscaler last changed the count (ms since the epoch), undefined for never. */
  lastChangeAt?: number;
}

export interface ScalingDecision {
  action: 'up' | 'down' | 'hold';
  /** The replica count to have; equals `current` when holding. */
  replicas: number;
  current: number;
  /** Running + queued tasks the decision was made for; null when it could not be measured. */
  demand: number | null;
  reason: string;
}

/** Decides the worker replicas from the load. Pure: same input, same decision (docs/scaling.md). */
export function decideReplicas(input: ScalingInput, policy: ScalingPolicy): ScalingDecision {
  const { current, now } = input;
  const { minReplicas, maxReplicas, tasksPerWorker, cooldownMs } = policy;
  const clamp = (n: number) => Math.min(maxReplicas, Math.max(minReplicas, n));
  const decide = (replicas: number, reason: string, demand: number | null): ScalingDecision => ({
    action: replicas > current ? 'up' : replicas < current ? 'down' : 'hold',
    replicas,
    current,
    demand,
    reason,
  });

  // Bounds first and regardless of the cooldown: someone scaled by hand outside them, or they changed.
  if (current < minReplicas) return decide(minReplicas, `below the minimum of ${minReplicas}`, null);
  if (current > maxReplicas) return decide(maxReplicas, `above the maximum of ${maxReplicas}`, null);

  // Without the busy slots the demand is unknown; acting on the queue alone would scale down busy workers.
  if (input.slotsBusy === null) return decide(current, 'the coordinator cannot be reached: load unknown', null);
  const demand = input.queued + input.slotsBusy;
  const load = `${input.queued} queued + ${input.slotsBusy} running tasks, ${tasksPerWorker} per worker`;

  const capacity = current * tasksPerWorker;
  let wanted = current;
  let why = '';
  // Tasks waiting too long mean the workers do not keep up whatever the count says (slow tasks, slots taken by
  // tasks held ahead): one more worker per pass, and no scale-down, until the head is served in time.
  const ageLimit = policy.maxQueueAgeMs ?? 0;
  const tooOld = ageLimit > 0 && input.queued > 0 && (input.oldestDueAgeMs ?? 0) > ageLimit;
  if (demand > capacity * SCALE_UP_UTILISATION) {
    wanted = clamp(Math.ceil(demand / (tasksPerWorker * SCALE_UP_UTILISATION)));
  } else if (tooOld) {
    wanted = clamp(current + 1);
    why = `, the oldest due task has waited ${Math.round(input.oldestDueAgeMs! / 1000)}s (over ${Math.round(ageLimit / 1000)}s)`;
  } else {
    const enough = clamp(Math.ceil(demand / (tasksPerWorker * SCALE_DOWN_UTILISATION)));
    if (enough < current) wanted = enough;
  }
  if (wanted === current) {
    const verdict = demand > capacity || tooOld ? `held at the maximum of ${maxReplicas}` : `${current} replicas fit`;
    return decide(current, `${load}${why}: ${verdict}`, demand);
  }

  const waited = input.lastChangeAt === undefined ? Infinity : now - input.lastChangeAt;
  if (waited < cooldownMs) {
    const left = Math.ceil((cooldownMs - waited) / 1000);
    return decide(current, `${load}${why}: would scale to ${wanted}, cooling down for ${left}s more`, demand);
  }
  return decide(wanted, `${load}${why}: ${wanted} replicas needed`, demand);
}
