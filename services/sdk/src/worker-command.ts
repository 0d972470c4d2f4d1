import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Registry } from 'prom-client';
import { isTaskDefinition } from './define-task';
import type { Logger } from './logger';
import type { AnyTaskDefinition } from './worker/options';
import { startWorker } from './worker/start-worker';

/**
 * `taskmaster worker ./tasks.js`: runs a worker with every task definition (what defineTask returned) that a
 * module exports, until SIGINT or SIGTERM, which drain it as worker.stop() does. Its options fall back on the
 * variables the shipped worker reads (and the Helm chart sets), so an image whose command is
 * `taskmaster worker /app/tasks.js` runs in the chart's worker pods as they are.
 */

/** A module that exports no task definition: the CLI exits 2 with this message. */
export class NoTasksError extends Error {}

interface WorkerFlags {
  coordinator: string;
  slots?: number;
  name?: string;
  drainTimeout?: number;
  metricsPort?: number;
}

/** Info and above as JSON lines on stderr: a worker run from a shell says when it connects and what fails. */
const cliLogger: Logger = {
  debug() {},
  info: (fields, message) => process.stderr.write(`${JSON.stringify({ level: 'info', msg: message, ...fields })}\n`),
  warn: (fields, message) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...fields })}\n`),
  error: (fields, message) => process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...fields })}\n`),
};

/**
 * Loads a module by path, ESM or CommonJS (import() of a file URL loads both), and returns the task
 * definitions among its exports: named exports, and a default export that is a definition or an object or
 * array of them (what `module.exports = { a, b }` looks like to import()).
 */
export async function loadTaskModule(path: string): Promise<AnyTaskDefinition[]> {
  const namespace = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const found = new Set<AnyTaskDefinition>();
  const collect = (value: unknown) => {
    if (isTaskDefinition(value)) found.add(value as AnyTaskDefinition);
  };
  for (const [key, value] of Object.entries(namespace)) {
    collect(value);
    if (key === 'default' && typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
  }
  if (found.size === 0) {
    throw new NoTasksError(`${path} exports no task definition: export what defineTask() returns, e.g. \`export const resize = defineTask({ name: 'resize-image', run })\``);
  }
  return [...found];
}

/** A whole number from min to max; a trailing "s" is allowed (WORKER_DRAIN_TIMEOUT is "25s" in the chart). */
function whole(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text.replace(/s$/, ''));
    if (!/^\d+s?$/.test(text) || value < min || value > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return value;
  };
}

/**
 * GET /metrics (the worker's registry) and GET /healthz, for Prometheus and the kubelet's probes. Only when
 * asked (--metrics-port or METRICS_PORT): an SDK worker opens no port otherwise.
 */
async function serveMetrics(registry: Registry, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then((text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text), () => res.writeHead(500).end());
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"try /metrics or /healthz"}}');
    }
  });
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(port, process.env.BIND_HOST || '0.0.0.0', () => listening());
  });
  return server;
}

async function runWorker(modulePath: string, flags: WorkerFlags): Promise<void> {
  const tasks = await loadTaskModule(modulePath);
  const registry = new Registry();
  const server = flags.metricsPort === undefined ? undefined : await serveMetrics(registry, flags.metricsPort);
  if (server) cliLogger.info({ port: (server.address() as { port: number }).port }, 'serving /metrics and /healthz');
  const worker = await startWorker({
    coordinator: flags.coordinator,
    tasks,
    slots: flags.slots,
    name: flags.name,
    drainTimeoutMs: flags.drainTimeout === undefined ? undefined : flags.drainTimeout * 1000,
    logger: cliLogger,
    metrics: registry,
  });
  // The command returns once the worker has drained, so `main` exits 0 after a signal.
  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      cliLogger.info({ signal }, 'draining');
      void worker.stop().then(() => { server?.close(); }).then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Adds `worker` to the taskmaster program. */
export function addWorkerCommand(program: Command): void {
  program.command('worker')
    .description('run a worker with the task definitions a module exports, until SIGINT or SIGTERM')
    .argument('<module>', 'a JavaScript module (ESM or CommonJS) exporting what defineTask() returns')
    .option('--coordinator <host:port>', 'the coordinator (COORDINATOR_ADDRESS)', process.env.COORDINATOR_ADDRESS || 'localhost:8080')
    .addOption(new Option('--slots <n>', 'attempts run at once (default 10)').env('WORKER_POOL_SIZE').argParser(whole(1, 100_000)))
    .addOption(new Option('--name <name>', 'shown in the dashboard (default <hostname>-<pid>)').env('WORKER_NAME'))
    .addOption(new Option('--drain-timeout <seconds>', 'on a signal, how long running attempts may finish (default 25)').env('WORKER_DRAIN_TIMEOUT').argParser(whole(0, 86_400)))
    .addOption(new Option('--metrics-port <port>', 'serve /metrics and /healthz on this port (0: any free port); none by default').env('METRICS_PORT').argParser(whole(0, 65_535)))
    .action((modulePath: string, flags: WorkerFlags) => runWorker(modulePath, flags));
}
