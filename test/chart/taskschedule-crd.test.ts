/**
 * The TaskSchedule CRD (charts/taskmaster/crds/taskschedules.yaml) says the same as the API about each field it
 * shares with POST /api/schedules: the API server then refuses at `kubectl apply` what the API would refuse
 * with a 400, and the reconciler's own check (the API's parser) is left with the pattern and the zone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildOpenApiDocument } from '../../services/sdk/src/http/openapi';
import { SPEC_TO_API_FIELD } from '../../services/scheduler/src/taskschedules/task-schedule';
import { CHART_DIR, parseManifest, runTool, templateArgs } from '../helpers/helm';

const crd = parse(readFileSync(join(CHART_DIR, 'crds', 'taskschedules.yaml'), 'utf8'));
const version = crd.spec.versions[0];
const spec = version.schema.openAPIV3Schema.properties.spec;
const api = (buildOpenApiDocument({ payloadMaxBytes: 1024 }) as any).components.schemas.CronScheduleRequest;

/** The validating keywords of a property; descriptions and defaults may differ. */
const rules = (property: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(property).filter(([keyword]) => ['type', 'pattern', 'minimum', 'maximum', 'enum'].includes(keyword)));

describe('TaskSchedule CRD', () => {
  it('is taskmaster.dev/v1alpha1 TaskSchedule, namespaced, with a status subresource', () => {
    expect(crd.metadata.name).toBe('taskschedules.taskmaster.dev');
    expect(crd.spec).toMatchObject({ group: 'taskmaster.dev', scope: 'Namespaced', names: { kind: 'TaskSchedule', plural: 'taskschedules' } });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
  });

  it('has a spec field for every field of a schedule but its key, and no other', () => {
    const apiFields = Object.keys(api.properties).filter((field) => field !== 'key').sort();
    expect(Object.values(SPEC_TO_API_FIELD).sort()).toEqual(apiFields);
    expect(Object.keys(spec.properties).sort()).toEqual(Object.keys(SPEC_TO_API_FIELD).sort());
    expect(spec.required.map((field: keyof typeof SPEC_TO_API_FIELD) => SPEC_TO_API_FIELD[field]).sort()).toEqual([...api.required].sort());
  });

  it.each(Object.entries(SPEC_TO_API_FIELD))('gives spec.%s the types and bounds the API gives %s', (specField, apiField) => {
    if (apiField === 'payload') {
      // Any JSON value: kept as it is, its size checked by the reconciler as by the API.
      expect(spec.properties.payload).toMatchObject({ 'x-kubernetes-preserve-unknown-fields': true });
      expect(spec.properties.payload.type).toBeUndefined();
      return;
    }
    expect(rules(spec.properties[specField])).toEqual(rules(api.properties[apiField]));
  });

  it('prints the columns kubectl get shows', () => {
    expect(version.additionalPrinterColumns.filter((column: { priority?: number }) => !column.priority).map((column: { name: string }) => column.name))
      .toEqual(['Cron', 'Suspend', 'Next Run', 'Last Result', 'Ready', 'Age']);
  });

  it('ships with the chart: helm template --include-crds renders it, plain helm template does not', () => {
    const kinds = (includeCrds: boolean) => parseManifest(runTool('helm', [...templateArgs(), ...(includeCrds ? ['--include-crds'] : [])]).stdout)
      .filter((object) => object.kind === 'CustomResourceDefinition').map((object) => object.metadata.name);
    expect(kinds(true)).toEqual(['taskschedules.taskmaster.dev']);
    expect(kinds(false)).toEqual([]);
  });
});
