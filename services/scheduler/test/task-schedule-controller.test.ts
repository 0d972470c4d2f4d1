/**
 * The TaskSchedule controller's loop with a fake API, elector and reconciler: who acts, when the watch is
 * started again, and that a failed list never reaches the resync (which deletes what the list lacks).
 * task-schedules.test.ts runs the real thing against a kube-apiserver.
 */
import { createLogger } from '../../common/src/logger';
import { waitFor } from '../../../test/helpers/wait';
import type { LeaderElector } from '../src/scaler/leader-election';
import type { TaskSchedule } from '../src/taskschedules/task-schedule';
import type { TaskScheduleApi, TaskScheduleEvents } from '../src/taskschedules/task-schedule-client';
import { TaskScheduleController } from '../src/taskschedules/task-schedule-controller';
import type { TaskScheduleReconciler } from '../src/taskschedules/task-schedule-reconciler';

const logger = createLogger('test', 'silent');
const nightly: TaskSchedule = { metadata: { name: 'nightly', generation: 1 }, spec: { task: 'report', cron: '0 2 * * *' } };

function fakes(options: { leading?: boolean; failFirstWatch?: boolean; listFails?: boolean } = {}) {
  const state = { leading: options.leading ?? true, watches: 0, stopped: 0, events: undefined as TaskScheduleEvents | undefined, calls: [] as string[] };
  const elector: LeaderElector = { identity: 'a', check: async () => state.leading, release: async () => void state.calls.push('release') };
  const api: TaskScheduleApi = {
    namespace: 'ops',
    list: async () => {
      if (options.listFails) throw Object.assign(new Error('the server could not find the requested resource'), { code: 404 });
      return [nightly];
    },
    patchStatus: async () => {},
    watch: async (events) => {
      state.watches++;
      // As client-node's informer does when its first list fails: the error is reported before start() returns.
      if (options.failFirstWatch && state.watches === 1) events.failed(Object.assign(new Error('not found'), { code: 404 }));
      else state.events = events;
      return { cached: () => [nightly], stop: async () => void state.stopped++ };
    },
  };
  const reconciler = {
    reconcile: async (resource: TaskSchedule) => void state.calls.push(`reconcile ${resource.metadata.name}`),
    remove: async (resource: TaskSchedule) => void state.calls.push(`remove ${resource.metadata.name}`),
    resync: async (resources: TaskSchedule[]) => void state.calls.push(`resync ${resources.length}`),
    refresh: async (resources: TaskSchedule[]) => void state.calls.push(`refresh ${resources.length}`),
  } as unknown as TaskScheduleReconciler;
  const controller = new TaskScheduleController({
    api, elector, reconciler, leaseCheckMs: 20, resyncMs: 60_000, statusIntervalMs: 60_000, watchRetryMs: 30, logger,
  });
  return { state, controller };
}

test('the leader resyncs at once, then reconciles what the watch reports, in order', async () => {
  const { state, controller } = fakes();
  await controller.start();
  expect(controller.isLeading).toBe(true);
  expect(state.calls).toEqual(['resync 1']);
  state.events!.changed(nightly);
  state.events!.deleted(nightly);
  await controller.idle();
  expect(state.calls).toEqual(['resync 1', 'reconcile nightly', 'remove nightly']);
  await controller.stop();
  expect(state.calls.at(-1)).toBe('release');
  expect(state.stopped).toBe(1);
});

test('a watch whose first list failed (the CRD not installed yet) is started again', async () => {
  const { state, controller } = fakes({ failFirstWatch: true });
  await controller.start();
  await waitFor(() => state.events !== undefined, 2000, 'the second watch');
  expect(state.watches).toBe(2);
  // The failed one was stopped, not kept.
  expect(state.stopped).toBe(1);
  state.events!.changed(nightly);
  await controller.idle();
  expect(state.calls).toContain('reconcile nightly');
  await controller.stop();
});

test('a follower neither watches nor reconciles; losing the lease stops the watch and drops what was queued', async () => {
  const { state, controller } = fakes({ leading: false });
  await controller.start();
  expect(state.watches).toBe(0);
  expect(state.calls).toEqual([]);
  state.leading = true;
  await waitFor(() => controller.isLeading && state.events !== undefined, 2000, 'leading');
  state.leading = false;
  await waitFor(() => !controller.isLeading, 2000, 'following again');
  expect(state.stopped).toBe(1);
  const before = state.calls.length;
  state.events!.changed(nightly);
  await controller.idle();
  expect(state.calls.length).toBe(before);
  await controller.stop();
});

test('a list that fails never reaches the resync, which would delete what the list lacks', async () => {
  const { state, controller } = fakes({ listFails: true });
  await controller.start();
  await controller.idle();
  expect(state.calls.filter((call) => call.startsWith('resync'))).toEqual([]);
  await controller.stop();
});
