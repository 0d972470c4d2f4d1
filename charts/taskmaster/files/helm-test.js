// `helm test`: schedules a `noop` task through the scheduler's API and waits until a worker has run it, which
// takes the scheduler, the database, a coordinator and a worker all working. Run by templates/tests/ with the
// scheduler's image. Environment: SCHEDULER_URL, API_TOKEN (an operator's; empty when the API is open),
// TIMEOUT_SECONDS.
'use strict';

const base = process.env.SCHEDULER_URL;
const token = process.env.API_TOKEN || '';
const deadline = Date.now() + Number(process.env.TIMEOUT_SECONDS || 120) * 1000;
const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(method, path, body) {
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

async function main() {
  // The scheduler may still be starting right after an install.
  let task;
  for (;;) {
    try {
      task = await call('POST', '/api/tasks', { name: 'noop', payload: { from: 'helm test' }, max_attempts: 1 });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      console.log(`waiting for the scheduler: ${error.message}`);
      await sleep(2000);
    }
  }
  console.log(`scheduled task ${task.task_id}`);
  while (task.status !== 'succeeded') {
    if (task.status === 'failed' || task.status === 'cancelled') {
      throw new Error(`task ${task.task_id} ${task.status}: ${task.last_error ?? 'no error recorded'}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`task ${task.task_id} still ${task.status} after ${process.env.TIMEOUT_SECONDS}s: are there workers (kubectl get pods)?`);
    }
    await sleep(1000);
    task = await call('GET', `/api/tasks/${task.task_id}`);
  }
  console.log(`task ${task.task_id} succeeded on worker ${task.worker_id}`);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
