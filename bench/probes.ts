import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorkerClient, type TaskBatchRequest } from '../services/common/src/grpc/contract';
import { RequestStream } from '../services/common/src/grpc/request-stream';

/*
 * `npm run bench -- --probes`: the two measurements behind the design of the task path (docs/performance.md,
 * items 11 and 12), apart from the system: how long the disk takes to flush, and what one gRPC call costs
 * as a unary call and as a message on an open stream. Both run at the steady phase's pace, one operation
 * every 5 ms, since that is where the costs showed: between operations the processes are idle.
 */
const GAP_MS = 5;

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** An 8 KB write and fdatasync every 5 ms in the temporary directory (where the bench keeps PostgreSQL's data). */
async function probeDisk(count: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'taskmaster-probe-'));
  const fd = openSync(join(dir, 'flush'), 'w');
  const block = Buffer.alloc(8192, 1);
  const ms: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      writeSync(fd, block, 0, block.length, (i % 2048) * block.length);
      fdatasyncSync(fd);
      ms.push(performance.now() - start);
      await sleep(GAP_MS);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return { flushes: count, flush_ms: percentiles(ms), stalls_over_20_ms: ms.filter((m) => m > 20).length };
}

function ask<T>(child: ChildProcess, filter: (message: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const listen = (message: Record<string, unknown>) => {
      if (!filter(message)) return;
      child.off('message', listen);
      resolve(message as T);
    };
    child.on('message', listen);
  });
}

/** One SubmitTasks call, then one StreamTasks message, every 5 ms, to a forked WorkerService (probe-server.ts). */
async function probeGrpc(count: number): Promise<Record<string, unknown>> {
  const child = fork(join(__dirname, 'probe-server.js'));
  try {
    const { port } = await ask<{ port: number }>(child, (m) => 'port' in m);
    const calleeCpuMs = async () => {
      const reply = ask<{ cpuMs: number }>(child, (m) => 'cpuMs' in m);
      child.send('cpu');
      return (await reply).cpuMs;
    };
    const client = createWorkerClient(`127.0.0.1:${port}`);
    const stream = new RequestStream(client, { name: 'StreamTasks', stream: client.StreamTasks, unary: client.SubmitTasks });
    const request: Partial<TaskBatchRequest> = { tasks: [{ task_id: '0b7e8a3c-1111-4222-8333-444455556666', data: 'noop', attempt: 1, scheduled_at_ms: 0, start_after_ms: 0, name: '', payload: '', queue: '', timeout_ms: 0 }] };
    const measure = async (call: () => Promise<unknown>) => {
      for (let i = 0; i < 100; i++) await call();
      const calleeBefore = await calleeCpuMs();
      const callerBefore = process.cpuUsage();
      const ms: number[] = [];
      for (let i = 0; i < count; i++) {
        const start = performance.now();
        await call();
        ms.push(performance.now() - start);
        await sleep(GAP_MS);
      }
      const caller = process.cpuUsage(callerBefore);
      const callee = (await calleeCpuMs()) - calleeBefore;
      return {
        caller_cpu_us_per_call: Math.round((caller.user + caller.system) / count),
        callee_cpu_us_per_call: Math.round((callee * 1000) / count),
        answer_ms: percentiles(ms),
      };
    };
    const unaryCall = await measure(() => new Promise((resolve, reject) => {
      client.SubmitTasks(request, { deadline: Date.now() + 5000 }, (err, response) => (err ? reject(err) : resolve(response)));
    }));
    const streamMessage = await measure(() => stream.call(request, 5000));
    stream.close();
    client.close();
    return { calls: count, unary: unaryCall, stream: streamMessage };
  } finally {
    child.kill();
  }
}

export async function runProbes(log: (line: string) => void): Promise<Record<string, unknown>> {
  log('disk: an 8 KB write and fdatasync every 5 ms, 2,000 times');
  const disk = await probeDisk(2000);
  log('gRPC: 1,000 unary SubmitTasks calls, then 1,000 StreamTasks messages, one every 5 ms');
  const grpc = await probeGrpc(1000);
  return { disk, grpc };
}
