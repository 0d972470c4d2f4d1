import type { z } from 'zod';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import * as schemas from '../../sdk/src/http/schemas';

/**
 * GET /api/openapi.json: an OpenAPI 3.1 document whose references all resolve, with a path for every /api
 * route, whose response components are the schemas real responses of the running scheduler pass.
 */

let app: SchedulerUnderTest;
let doc: any;

useSchedulerApp({}, (running) => ({ app } = running));
beforeAll(async () => {
  const response = await request(`${app.url}/api/openapi.json`);
  expect(response.status).toBe(200);
  doc = response.body;
});

/** Every "$ref" string anywhere in the value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => refs(item, out));
  else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') out.push(child);
      else refs(child, out);
    }
  }
  return out;
}

/** A local JSON pointer ("#/components/schemas/TaskView") into the document. */
function resolve(pointer: string): unknown {
  expect(pointer.startsWith('#/')).toBe(true);
  return pointer.slice(2).split('/').reduce<any>((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('the document', () => {
  test('is OpenAPI 3.1 in structure: version, info, paths of operations with responses', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      expect(path.startsWith('/')).toBe(true);
      const operations = Object.keys(item).filter((key) => METHODS.includes(key));
      expect(operations.length).toBeGreaterThan(0);
      for (const method of operations) {
        const operation = item[method];
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(typeof response.description).toBe('string');
        }
        // A path template's parameters are declared as path parameters.
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          expect(operation.parameters).toContainEqual(expect.objectContaining({ name: name.slice(1, -1), in: 'path', required: true }));
        }
      }
    }
  });

  test('has a path for every /api route', () => {
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/concurrency-limits', '/api/concurrency-limits/{name}', '/api/logs', '/api/logs/stream', '/api/openapi.json',
      '/api/queues', '/api/queues/{name}', '/api/queues/{name}/pause', '/api/queues/{name}/resume', '/api/schedule', '/api/schedule/batch', '/api/schedules',
      '/api/schedules/{id}', '/api/schedules/{id}/pause', '/api/schedules/{id}/resume', '/api/stats', '/api/status',
      '/api/tasks', '/api/tasks/batch', '/api/tasks/bulk', '/api/tasks/{id}', '/api/tasks/{id}/cancel', '/api/tasks/{id}/events',
      '/api/tasks/{id}/retry', '/api/workers', '/api/workers/kill', '/api/workers/scale', '/schedule',
    ]);
    expect(Object.keys(doc.paths['/api/tasks']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/queues/{name}']).sort()).toEqual(['delete', 'get', 'put']);
    expect(doc.paths['/api/tasks'].get.parameters.map((p: { name: string }) => p.name).sort())
      .toEqual(['cursor', 'limit', 'name', 'order', 'q', 'queue', 'status']);
  });

  test('every reference resolves, and every component is a JSON Schema without its own $schema or $id', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(20);
    for (const ref of all) expect(resolve(ref)).toEqual(expect.any(Object));
    for (const [name, schema] of Object.entries<any>(doc.components.schemas)) {
      expect(schema.$schema).toBeUndefined();
      expect(schema.$id).toBeUndefined();
      expect(schema.type ?? schema.anyOf).toBeDefined();
      expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
    }
  });

  test('describes the task name pattern and a request field as the schemas do', () => {
    const task = doc.components.schemas.TaskRequest;
    expect(task.required).toEqual(['name']);
    expect(task.properties.name.pattern).toBe(schemas.NAME_PATTERN.source);
    expect(task.properties.payload).toEqual({ $ref: '#/components/schemas/JsonValue' });
  });
});

/** The zod schema of the component a route's response refers to. */
function responseSchema(path: string, method: string, status: number): z.ZodType {
  const ref: string = doc.paths[path][method].responses[status].content['application/json'].schema.$ref;
  const name = ref.split('/').pop() as keyof typeof schemas;
  const schema = schemas[name] as unknown as z.ZodType;
  expect(schema).toBeDefined();
  return schema;
}

describe('real responses validate against the schemas the document names', () => {
  test('schedule, tasks, events, control, stats, workers, logs and errors', async () => {
    const check = async (path: string, method: string, status: number, url: string, body?: unknown) => {
      // What is sent passes the request component the document names, too.
      const requestRef: string | undefined = doc.paths[path][method].requestBody?.content['application/json'].schema.$ref;
      if (requestRef && status < 400 && (body !== undefined || doc.paths[path][method].requestBody.required)) (schemas[requestRef.split('/').pop() as keyof typeof schemas] as unknown as z.ZodType).parse(body);
      const response = await request(app.url + url, { method: method.toUpperCase(), body });
      expect(response.status).toBe(status);
      const result = responseSchema(path, method, status).safeParse(response.body);
      if (!result.success) throw new Error(`${method} ${url}: ${JSON.stringify(result.error.issues)}`);
      return response.body;
    };
    await check('/schedule', 'post', 201, '/schedule', { command: 'noop', scheduled_at: '2030-01-01T00:00:00Z' });
    await check('/api/schedule/batch', 'post', 201, '/api/schedule/batch', { count: 2 });
    const task = await check('/api/tasks', 'post', 201, '/api/tasks', { name: 'doc-check', payload: { a: [1] } });
    await check('/api/tasks/batch', 'post', 201, '/api/tasks/batch', { tasks: [{ name: 'doc-check' }] });
    await check('/api/tasks', 'get', 200, '/api/tasks?limit=5');
    await check('/api/tasks/{id}', 'get', 200, `/api/tasks/${task.task_id}`);
    await check('/api/status', 'get', 200, `/api/status?task_id=${task.task_id}`);
    await check('/api/tasks/{id}/events', 'get', 200, `/api/tasks/${task.task_id}/events`);
    await check('/api/tasks/{id}/cancel', 'post', 200, `/api/tasks/${task.task_id}/cancel`, { reason: 'checked against the document' });
    await check('/api/tasks/{id}/cancel', 'post', 409, `/api/tasks/${task.task_id}/cancel`);
    await check('/api/tasks/{id}/retry', 'post', 200, `/api/tasks/${task.task_id}/retry`);
    const schedule = await check('/api/schedules', 'post', 201, '/api/schedules', { name: 'doc-check', cron: '0 9 * * 1-5', timezone: 'Europe/Paris', payload: { n: 1 } });
    await check('/api/schedules', 'get', 200, '/api/schedules');
    await check('/api/schedules/{id}', 'get', 200, `/api/schedules/${schedule.id}`);
    await check('/api/schedules/{id}/pause', 'post', 200, `/api/schedules/${schedule.id}/pause`);
    await check('/api/schedules/{id}/resume', 'post', 200, `/api/schedules/${schedule.id}/resume`);
    await check('/api/schedules', 'post', 400, '/api/schedules', { name: 'doc-check', cron: 'every day' });
    await check('/api/tasks/bulk', 'post', 200, '/api/tasks/bulk', { action: 'retry', filter: { status: ['cancelled'] }, limit: 10 });
    await check('/api/tasks/bulk', 'post', 400, '/api/tasks/bulk', { action: 'delete', filter: {} });
    await check('/api/stats', 'get', 200, '/api/stats');
    await check('/api/workers', 'get', 200, '/api/workers');
    await check('/api/logs', 'get', 200, '/api/logs');
    await check('/api/tasks', 'post', 400, '/api/tasks', { name: 'Bad' });
    await check('/api/tasks/{id}', 'get', 404, '/api/tasks/00000000-0000-4000-8000-000000000000');
  });
});
