import { countTasks, type TestDatabase } from '../../../test/helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { DEFAULT_PAYLOAD_MAX_BYTES, TaskBatchResponse, TaskPage, TaskView } from '../../sdk/src/http/schemas';

/** Named tasks over HTTP (issue 11): POST /api/tasks[/batch], payloads, queues, filters, and every bad input. */

let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({}, (running) => ({ db, app } = running));

/** Asserts a refused request: its status, the JSON error naming the field, and nothing written. */
async function expectRefused(path: string, init: Parameters<typeof request>[1], status: number, code: string, field: string) {
  const before = await countTasks(db);
  const response = await request(app.url + path, init);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  expect(response.body.error).toEqual({ code, message: expect.any(String), field });
  expect(await countTasks(db)).toBe(before);
  return response.body.error;
}

/** A string payload whose compact JSON takes exactly `bytes` bytes (the two quotes included). */
const payloadOfBytes = (bytes: number) => 'x'.repeat(bytes - 2);

describe('POST /api/tasks', () => {
  test('creates a named task in the default queue and GET /api/tasks/:id returns its payload', async () => {
    const payload = { url: 'https://example.com/a.png', width: 64, tags: ['a', null, true], nested: { n: 1.5 } };
    const created = await request(`${app.url}/api/tasks`, { body: { name: 'resize-image', payload } });
    expect(created.status).toBe(201);
    const view = TaskView.parse(created.body);
    expect(view).toMatchObject({ name: 'resize-image', queue: 'default', command: 'resize-image', payload, status: 'pending', attempt: 0, max_attempts: 3, priority: 0 });
    expect(Date.parse(view.scheduled_at)).toBeLessThanOrEqual(Date.now());
    const read = await request(`${app.url}/api/tasks/${view.task_id}`);
    expect(TaskView.parse(read.body)).toEqual(view);
    const { rows } = await db.pool.query('SELECT command, name, queue, payload FROM tasks WHERE id = $1', [view.task_id]);
    expect(rows[0]).toEqual({ command: null, name: 'resize-image', queue: 'default', payload });
  });

  test('takes a queue, a priority, max_attempts and scheduled_at or delay_seconds', async () => {
    const at = await request(`${app.url}/api/tasks`, { body: { name: 'report:daily', queue: 'reports.eu', scheduled_at: '2031-01-01T00:00:00Z', priority: 5, max_attempts: 7 } });
    expect(at.status).toBe(201);
    expect(at.body).toMatchObject({ queue: 'reports.eu', scheduled_at: '2031-01-01T00:00:00.000Z', priority: 5, max_attempts: 7, payload: null });
    const before = Date.now();
    const delayed = await request(`${app.url}/api/tasks`, { body: { name: 'later', delay_seconds: 600 } });
    expect(Date.parse(delayed.body.scheduled_at)).toBeGreaterThanOrEqual(before + 599_000);
  });

  test('an idempotency key returns the existing task with 200', async () => {
    const first = await request(`${app.url}/api/tasks`, { body: { name: 'charge', payload: { cents: 100 }, idempotency_key: 'order-1' } });
    expect(first.status).toBe(201);
    const again = await request(`${app.url}/api/tasks`, { body: { name: 'charge', payload: { cents: 100 }, idempotency_key: 'order-1' } });
    expect(again.status).toBe(200);
    expect(again.body.task_id).toBe(first.body.task_id);
  });

  test('a payload of exactly PAYLOAD_MAX_BYTES goes through the body parser and is stored', async () => {
    const payload = payloadOfBytes(DEFAULT_PAYLOAD_MAX_BYTES);
    const created = await request(`${app.url}/api/tasks`, { body: { name: 'big', payload } });
    expect(created.status).toBe(201);
    const { rows } = await db.pool.query('SELECT payload FROM tasks WHERE id = $1', [created.body.task_id]);
    expect(rows[0].payload).toBe(payload);
  });

  test.each([
    ['a payload one byte over PAYLOAD_MAX_BYTES', { body: { name: 'big', payload: payloadOfBytes(DEFAULT_PAYLOAD_MAX_BYTES + 1) } }, 'payload_too_large', 'payload'],
    ['malformed JSON', { rawBody: '{"name": "a", "payload": ' }, 'invalid_json', 'body'],
    ['a payload that is not JSON (NaN)', { rawBody: '{"name": "a", "payload": NaN}' }, 'invalid_json', 'body'],
    ['a body that is not an object', { rawBody: '["a"]' }, 'invalid_argument', 'body'],
    ['a missing name', { body: { payload: 1 } }, 'invalid_argument', 'name'],
    ['a name that is not a string', { body: { name: 7 } }, 'invalid_argument', 'name'],
    ['an empty name', { body: { name: '' } }, 'invalid_argument', 'name'],
    ['an upper-case name', { body: { name: 'Send-Email' } }, 'invalid_argument', 'name'],
    ['a name starting with "-"', { body: { name: '-x' } }, 'invalid_argument', 'name'],
    ['a name with a space', { body: { name: 'send email' } }, 'invalid_argument', 'name'],
    ['a name of 129 characters', { body: { name: 'a'.repeat(129) } }, 'invalid_argument', 'name'],
    ['a queue outside the pattern', { body: { name: 'a', queue: 'Emails!' } }, 'invalid_argument', 'queue'],
    ['an empty queue', { body: { name: 'a', queue: '' } }, 'invalid_argument', 'queue'],
    ['scheduled_at and delay_seconds together', { body: { name: 'a', scheduled_at: '2030-01-01T00:00:00Z', delay_seconds: 5 } }, 'invalid_argument', 'delay_seconds'],
    ['an unparsable scheduled_at', { body: { name: 'a', scheduled_at: 'soon' } }, 'invalid_argument', 'scheduled_at'],
    ['a negative delay', { body: { name: 'a', delay_seconds: -1 } }, 'invalid_argument', 'delay_seconds'],
    ['priority out of range', { body: { name: 'a', priority: 1001 } }, 'invalid_argument', 'priority'],
    ['max_attempts that is not whole', { body: { name: 'a', max_attempts: 1.5 } }, 'invalid_argument', 'max_attempts'],
    ['an empty idempotency key', { body: { name: 'a', idempotency_key: '' } }, 'invalid_argument', 'idempotency_key'],
  ])('refuses %s with 400 naming the field', async (_name, init, code, field) => {
    await expectRefused('/api/tasks', init, 400, code, field);
  });

  test('a name of 128 characters and every allowed character is accepted', async () => {
    const response = await request(`${app.url}/api/tasks`, { body: { name: `a0._:-${'z'.repeat(122)}`, queue: '9q' } });
    expect(response.status).toBe(201);
  });

  test('a body over HTTP_BODY_MAX_BYTES is a JSON 413, not an HTML error', async () => {
    await expectRefused('/api/tasks', { body: { name: 'a', payload: 'x'.repeat(5 * 1024 * 1024) } }, 413, 'payload_too_large', 'body');
  });
});

describe('POST /api/tasks/batch', () => {
  test('creates every task in one request and answers them in request order', async () => {
    const tasks = Array.from({ length: 5 }, (_, i) => ({ name: i % 2 ? 'odd' : 'even', queue: 'batch-q', payload: { i } }));
    const response = await request(`${app.url}/api/tasks/batch`, { body: { tasks } });
    expect(response.status).toBe(201);
    const body = TaskBatchResponse.parse(response.body);
    expect(body.tasks.map((task) => [task.name, task.payload])).toEqual(tasks.map((task) => [task.name, task.payload]));
    expect(new Set(body.tasks.map((task) => task.task_id)).size).toBe(5);
  });

  test('takes 1,000 tasks', async () => {
    const response = await request(`${app.url}/api/tasks/batch`, { body: { tasks: Array.from({ length: 1000 }, (_, i) => ({ name: 'many', payload: i })) } });
    expect(response.status).toBe(201);
    expect(response.body.tasks).toHaveLength(1000);
  });

  const good = { name: 'ok', payload: { a: 1 } };
  test.each([
    ['a bad name in the fourth task', { body: { tasks: [good, good, good, { name: 'Bad' }] } }, 'invalid_argument', 'tasks[3].name'],
    ['a bad queue in the second task', { body: { tasks: [good, { name: 'ok', queue: 'a b' }] } }, 'invalid_argument', 'tasks[1].queue'],
    ['a payload over the limit in the third task', { body: { tasks: [good, good, { name: 'ok', payload: payloadOfBytes(DEFAULT_PAYLOAD_MAX_BYTES + 1) }] } }, 'payload_too_large', 'tasks[2].payload'],
    ['an idempotency key given twice', { body: { tasks: [{ ...good, idempotency_key: 'k' }, good, { ...good, idempotency_key: 'k' }] } }, 'invalid_argument', 'tasks[2].idempotency_key'],
    ['no tasks', { body: { tasks: [] } }, 'invalid_argument', 'tasks'],
    ['tasks that is not an array', { body: { tasks: { name: 'a' } } }, 'invalid_argument', 'tasks'],
    ['a missing tasks', { body: {} }, 'invalid_argument', 'tasks'],
    ['1,001 tasks', { body: { tasks: Array.from({ length: 1001 }, () => good) } }, 'invalid_argument', 'tasks'],
    ['a task that is not an object', { body: { tasks: [good, 'x'] } }, 'invalid_argument', 'tasks[1]'],
  ])('refuses %s with 400 naming it, and writes none', async (_name, init, code, field) => {
    await expectRefused('/api/tasks/batch', init, 400, code, field);
  });
});

describe('the original routes take payload and queue too', () => {
  test('POST /api/schedule keeps its response and stores the payload and queue of a command task', async () => {
    const response = await request(`${app.url}/api/schedule`, { body: { command: 'http', scheduled_at: '2030-01-01T00:00:00Z', payload: { url: 'http://127.0.0.1/' }, queue: 'web' } });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ command: 'http', scheduled_at: Date.parse('2030-01-01T00:00:00Z') / 1000, task_id: expect.any(String) });
    const view = TaskView.parse((await request(`${app.url}/api/tasks/${response.body.task_id}`)).body);
    expect(view).toMatchObject({ name: null, command: 'http', queue: 'web', payload: { url: 'http://127.0.0.1/' } });
  });

  test('POST /api/schedule/batch keeps its response and gives every task the payload and queue', async () => {
    const response = await request(`${app.url}/api/schedule/batch`, { body: { command: 'noop', count: 3, payload: [1, 2], queue: 'bulk' } });
    expect(response.status).toBe(201);
    expect(Object.keys(response.body).sort()).toEqual(['command', 'count', 'scheduled_at', 'task_ids']);
    const { rows } = await db.pool.query('SELECT payload, queue FROM tasks WHERE id = ANY($1::uuid[])', [response.body.task_ids]);
    expect(rows).toEqual(Array.from({ length: 3 }, () => ({ payload: [1, 2], queue: 'bulk' })));
  });

  test.each([
    ['/api/schedule', { body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z', queue: 'UPPER' } }, 'invalid_argument', 'queue'],
    ['/schedule', { body: { command: 'x', scheduled_at: '2030-01-01T00:00:00Z', payload: payloadOfBytes(DEFAULT_PAYLOAD_MAX_BYTES + 1) } }, 'payload_too_large', 'payload'],
    ['/api/schedule/batch', { body: { count: 2, queue: '-q' } }, 'invalid_argument', 'queue'],
    ['/api/schedule/batch', { body: { count: 2, payload: payloadOfBytes(DEFAULT_PAYLOAD_MAX_BYTES + 1) } }, 'payload_too_large', 'payload'],
  ])('%s refuses a bad payload or queue', async (path, init, code, field) => {
    await expectRefused(path, init, 400, code, field);
  });
});

describe('GET /api/tasks filters by name and queue', () => {
  test('name and queue select exactly their tasks, together with status', async () => {
    await request(`${app.url}/api/tasks/batch`, { body: { tasks: [
      { name: 'filter-a', queue: 'fq1' }, { name: 'filter-a', queue: 'fq2' }, { name: 'filter-b', queue: 'fq1' },
    ] } });
    const byName = TaskPage.parse((await request(`${app.url}/api/tasks?name=filter-a`)).body);
    expect(byName.tasks.map((task) => task.queue).sort()).toEqual(['fq1', 'fq2']);
    // A page leaves payloads out; GET /api/tasks/:id has them.
    expect(byName.tasks[0]).not.toHaveProperty('payload');
    const byQueue = TaskPage.parse((await request(`${app.url}/api/tasks?queue=fq1`)).body);
    expect(byQueue.tasks.map((task) => task.name).sort()).toEqual(['filter-a', 'filter-b']);
    const both = TaskPage.parse((await request(`${app.url}/api/tasks?name=filter-a&queue=fq2&status=pending`)).body);
    expect(both.tasks).toHaveLength(1);
    expect((await request(`${app.url}/api/tasks?name=filter-a&status=failed`)).body.tasks).toEqual([]);
  });

  test.each([
    ['name=Bad', 'name'],
    ['queue=a%20b', 'queue'],
    ['name=a&name=b', 'name'],
    ['limit=0', 'limit'],
    ['order=up', 'order'],
  ])('refuses ?%s naming %s', async (query, field) => {
    const response = await request(`${app.url}/api/tasks?${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe(field);
  });
});
