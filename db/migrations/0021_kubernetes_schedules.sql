-- Schedules owned by a TaskSchedule resource (docs/schedules.md, "Schedules as Kubernetes resources"): the
-- scheduler's reconciler saves them with source 'kubernetes' and key 'k8s:<namespace>:<name>', and the API
-- refuses to change them (409). The reconciler finds a namespace's schedules by that key prefix among the
-- few 'kubernetes' rows, so no index is added.
ALTER TABLE schedules DROP CONSTRAINT schedules_source_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_source_check CHECK (source IN ('api', 'worker', 'config', 'kubernetes'));
