import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository (or image) root: the nearest ancestor holding proto/taskmaster.proto. Code runs from
 * services/<svc>/src under ts-jest and from dist/services/<svc>/src when built, so fixed `../` chains would
 * differ between the two.
 */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'proto', 'taskmaster.proto'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find proto/taskmaster.proto above ${from}`);
    dir = parent;
  }
}

/** The compiled entry point of a service, as `npm run build` writes it. */
export function serviceEntry(service: 'scheduler' | 'coordinator' | 'worker'): string {
  return join(repoRoot(), 'dist', 'services', service, 'src', 'main.js');
}
