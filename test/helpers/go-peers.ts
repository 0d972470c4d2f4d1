/**
 * The Go peers of the original contract (test/go-peers): `original-worker` and `original-coordinator`, built
 * with grpc-go by scripts/build-go-peers.sh into a cache outside the repository. Each prints one JSON line
 * per event on stdout; a GoPeer collects them, as startService does for our services.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export type GoPeerKind = 'original-worker' | 'original-coordinator';
export type GoPeerEvent = Record<string, unknown> & { event: string };

const BUILD_SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'build-go-peers.sh');
const BUILD_HINT = 'needs Go and protoc (Debian protobuf-compiler); run `bash scripts/build-go-peers.sh` (docs/testing-go-peers.md)';

let built: { dir: string } | { error: string } | undefined;

/** Builds the peers when their sources changed (a no-op otherwise) and returns their directory, or why not. */
function buildGoPeers(): { dir: string } | { error: string } {
  if (!built) {
    try {
      const out = execFileSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
      built = { dir: out.trim().split('\n').pop()! };
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
      built = { error: `${stderr.split('\n').pop()} (${BUILD_HINT})` };
    }
  }
  return built;
}

/** The directory holding both binaries; throws when they cannot be built. */
export function goPeersDir(): string {
  const result = buildGoPeers();
  if ('error' in result) throw new Error(`cannot build the Go peers: ${result.error}`);
  return result.dir;
}

type DescribeLike = ((name: string, fn: () => void) => void) & { skip: (name: string, fn: () => void) => void };

/**
 * `describe` when the Go peers can be built; else `describe.skip` with the reason. Under CI=true a missing
 * Go or protoc fails the run instead: there the tests must run.
 */
export function describeWithGoPeers(name: string, fn: () => void): void {
  const describeFn = (globalThis as unknown as { describe: DescribeLike }).describe;
  const result = buildGoPeers();
  if ('dir' in result) return describeFn(name, fn);
  if (process.env.CI === 'true') throw new Error(`[go-peers] "${name}" cannot run under CI: ${result.error}`);
  console.warn(`[go-peers] skipping "${name}": ${result.error}`);
  describeFn.skip(name, fn);
}

export interface GoPeer {
  readonly kind: GoPeerKind;
  readonly child: ChildProcess;
  /** Its JSON event lines, in order. */
  readonly events: GoPeerEvent[];
  /** Its lines that are not JSON events (grpc-go's own warnings and errors, a panic). */
  readonly otherLines: string[];
  waitForEvent(predicate: (event: GoPeerEvent) => boolean, timeoutMs?: number): Promise<GoPeerEvent>;
  /** Sends a signal and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  readonly exited: Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts one Go peer with `args` (see the flags in test/go-peers/cmd/<kind>/main.go). */
export function startGoPeer(kind: GoPeerKind, args: string[], env: Record<string, string> = {}): GoPeer {
  const child = spawn(path.join(goPeersDir(), kind), args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const events: GoPeerEvent[] = [];
  const otherLines: string[] = [];
  const waiters: Array<{ predicate: (event: GoPeerEvent) => boolean; resolve: (event: GoPeerEvent) => void }> = [];
  const onLine = (text: string) => {
    let event: GoPeerEvent;
    try {
      event = JSON.parse(text) as GoPeerEvent;
    } catch {
      otherLines.push(text);
      return;
    }
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child);
    resolve();
  }));
  const lastLines = () => [...events.slice(-10).map((e) => JSON.stringify(e)), ...otherLines.slice(-5)].join('\n');
  return {
    kind,
    child,
    events,
    otherLines,
    exited,
    waitForEvent(predicate, timeoutMs = 20_000) {
      const found = events.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${kind}: no matching event within ${timeoutMs} ms; last lines:\n${lastLines()}`)), timeoutMs);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${kind}: exited; last lines:\n${lastLines()}`));
        });
        waiters.push({ predicate, resolve: (event) => { clearTimeout(timer); resolve(event); } });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
