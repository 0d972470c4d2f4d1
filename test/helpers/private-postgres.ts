import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * A PostgreSQL of a test's own, in its own process (postgres-process.mjs), for tests that stop or crash the
 * server: the one the global setup starts is shared by every test file. `settings` are `name=value` pairs.
 */
export function startPostgres(dataDir: string, port: number, settings: readonly string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'postgres-process.mjs'), dataDir, String(port), ...settings], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^ready (\S+)$/m.exec(output);
      if (ready) resolve({ child, url: ready[1] });
    });
    child.once('exit', (code) => reject(new Error(`PostgreSQL process exited with ${code} before it was ready`)));
  });
}

/** Stops the server as an operator would (postgres-process.mjs stops it on SIGTERM: a fast shutdown). */
export function stopPostgres(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
