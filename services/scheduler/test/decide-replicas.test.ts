import { decideReplicas, type ScalingInput, type ScalingPolicy } from '../src/scaler/decide-replicas';

const policy: ScalingPolicy = { minReplicas: 1, maxReplicas: 10, tasksPerWorker: 5, cooldownMs: 60_000 };
const NOW = 1_000_000;
const input = (over: Partial<ScalingInput>): ScalingInput => ({ current: 2, queued: 0, slotsBusy: 0, slotsTotal: 10, now: NOW, ...over });

describe('decideReplicas', () => {
  test('scales up to exactly what the demand needs once it exceeds capacity', () => {
    expect(decideReplicas(input({ current: 2, queued: 6, slotsBusy: 10 }), policy)).toMatchObject({ action: 'up', replicas: 4, demand: 16 });
    expect(decideReplicas(input({ current: 1, queued: 40, slotsBusy: 5 }), policy)).toMatchObject({ action: 'up', replicas: 9 });
  });

  test('holds at full capacity: 100% busy with nothing queued is not overload', () => {
    expect(decideReplicas(input({ current: 2, queued: 0, slotsBusy: 10 }), policy)).toMatchObject({ action: 'hold', replicas: 2 });
  });

  test('scales down only to a count that stays at most 70% busy', () => {
    // 3 tasks: 1 worker would be 60% busy.
    expect(decideReplicas(input({ current: 4, queued: 0, slotsBusy: 3 }), policy)).toMatchObject({ action: 'down', replicas: 1 });
    // 8 tasks: 2 workers would be 80% busy, so 3 (53%).
    expect(decideReplicas(input({ current: 5, queued: 2, slotsBusy: 6 }), policy)).toMatchObject({ action: 'down', replicas: 3 });
    // 11 tasks on 3 workers (73%): 3 are still needed at 70%, so hold.
    expect(decideReplicas(input({ current: 3, queued: 1, slotsBusy: 10 }), policy)).toMatchObject({ action: 'hold', replicas: 3 });
  });

  test('stays within the minimum and the maximum', () => {
    expect(decideReplicas(input({ current: 10, queued: 500, slotsBusy: 50 }), policy)).toMatchObject({ action: 'hold', replicas: 10 });
    expect(decideReplicas(input({ current: 10, queued: 500, slotsBusy: 50 }), policy).reason).toMatch(/maximum of 10/);
    expect(decideReplicas(input({ current: 2, queued: 0, slotsBusy: 0 }), policy)).toMatchObject({ action: 'down', replicas: 1 });
    expect(decideReplicas(input({ current: 3, queued: 0, slotsBusy: 0 }), { ...policy, minReplicas: 0 })).toMatchObject({ action: 'down', replicas: 0 });
    expect(decideReplicas(input({ current: 0, queued: 1, slotsBusy: 0 }), { ...policy, minReplicas: 0 })).toMatchObject({ action: 'up', replicas: 1 });
  });

  test('brings a count set by hand outside the bounds back at once, cooldown or not', () => {
    const recent = { lastChangeAt: NOW - 1000 };
    expect(decideReplicas(input({ current: 0, ...recent }), policy)).toMatchObject({ action: 'up', replicas: 1 });
    expect(decideReplicas(input({ current: 25, ...recent }), policy)).toMatchObject({ action: 'down', replicas: 10 });
  });

  test('waits out the cooldown after a change, in both directions', () => {
    const overloaded = input({ current: 2, queued: 30, slotsBusy: 10, lastChangeAt: NOW - 59_000 });
    const held = decideReplicas(overloaded, policy);
    expect(held).toMatchObject({ action: 'hold', replicas: 2 });
    expect(held.reason).toMatch(/would scale to 8, cooling down for 1s more/);
    expect(decideReplicas({ ...overloaded, lastChangeAt: NOW - 60_000 }, policy)).toMatchObject({ action: 'up', replicas: 8 });
    expect(decideReplicas(input({ current: 6, slotsBusy: 1, lastChangeAt: NOW - 10_000 }), policy)).toMatchObject({ action: 'hold' });
  });

  test('holds when the coordinator cannot be reached: busy workers must not be scaled away', () => {
    const decision = decideReplicas(input({ current: 6, queued: 0, slotsBusy: null, slotsTotal: null }), policy);
    expect(decision).toMatchObject({ action: 'hold', replicas: 6, demand: null });
    expect(decision.reason).toMatch(/coordinator cannot be reached/);
  });

  test('never flaps under noise: a random walk of ±15% around a level only ever climbs to what the peaks need', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let current = 1;
    let lastChangeAt: number | undefined;
    const changes: number[] = [];
    for (let t = 0; t < 2000; t++) {
      const now = NOW + t * 5000; // a pass every 5 s, cooldown 60 s
      const demand = Math.round(20 * (0.85 + 0.3 * random())); // 17..23 tasks
      const decision = decideReplicas({ current, queued: Math.floor(demand / 2), slotsBusy: Math.ceil(demand / 2), slotsTotal: current * 5, now, lastChangeAt }, policy);
      if (decision.replicas !== current) {
        changes.push(decision.replicas);
        current = decision.replicas;
        lastChangeAt = now;
      }
    }
    // 23 tasks need 5 workers; the troughs (17) would still keep 5 workers over 70% busy with 4, so no way down.
    expect(changes.length).toBeLessThanOrEqual(2);
    expect([...changes].sort((a, b) => a - b)).toEqual(changes);
    expect(current).toBe(5);
  });

  test('a scale-down needs the demand to fall by more than 30%, so it cannot be undone by the same noise', () => {
    // 5 workers hold up to 25 tasks; 4 would be needed at 70% only from 14 tasks down.
    const at = (queued: number) => decideReplicas(input({ current: 5, queued, slotsBusy: 0 }), policy);
    expect(at(25)).toMatchObject({ action: 'hold' });
    expect(at(15)).toMatchObject({ action: 'hold' });
    expect(at(14)).toMatchObject({ action: 'down', replicas: 4 });
    // After that scale-down 4 workers hold up to 20 tasks: 43% more than the 14 that caused it.
    expect(decideReplicas(input({ current: 4, queued: 20, slotsBusy: 0 }), policy)).toMatchObject({ action: 'hold' });
  });

  test('is pure: the same input gives the same decision', () => {
    const same = input({ current: 3, queued: 9, slotsBusy: 12, lastChangeAt: NOW - 120_000 });
    expect(decideReplicas(same, policy)).toEqual(decideReplicas({ ...same }, policy));
  });
  test('adds one worker when the oldest due task has waited past maxQueueAgeMs, even though the depth fits', () => {
    const aged = { ...policy, maxQueueAgeMs: 30_000 };
    // 3 tasks on 2 workers fit (30%), and would scale down without the age limit.
    const waiting = input({ current: 2, queued: 1, slotsBusy: 2, oldestDueAgeMs: 45_000 });
    expect(decideReplicas(waiting, policy)).toMatchObject({ action: 'down', replicas: 1 });
    const decision = decideReplicas(waiting, aged);
    expect(decision).toMatchObject({ action: 'up', replicas: 3 });
    expect(decision.reason).toMatch(/oldest due task has waited 45s \(over 30s\)/);
    // Under the limit, or nothing due: the depth alone decides.
    expect(decideReplicas({ ...waiting, oldestDueAgeMs: 10_000 }, aged)).toMatchObject({ action: 'down', replicas: 1 });
    expect(decideReplicas({ ...waiting, queued: 0, oldestDueAgeMs: 0 }, aged)).toMatchObject({ action: 'down', replicas: 1 });
    // Never past the maximum, and the cooldown still applies.
    expect(decideReplicas({ ...waiting, current: 10 }, aged)).toMatchObject({ action: 'hold', replicas: 10 });
    expect(decideReplicas({ ...waiting, lastChangeAt: NOW - 1000 }, aged)).toMatchObject({ action: 'hold', replicas: 2 });
  });
});
