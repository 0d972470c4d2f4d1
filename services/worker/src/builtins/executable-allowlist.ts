import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';

/**
 * Which executables the `shell` task may start (SHELL_ALLOWLIST). An entry is a bare name ("curl"), looked
 * up on the worker's PATH, or an absolute path ("/usr/local/bin/backup"). argv[0] is resolved the same way
 * and allowed when it lands on the same file path as an entry. Paths are compared after resolving symlinked
 * directories (/bin -> /usr/bin) but not a symlinked file itself: busybox links sh, rm and every other tool to
 * one file, so comparing real files would let "sh" allow "rm".
 */

export class ExecutableRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExecutableRefusedError';
  }
}

/**
 * The absolute path to start for `command` (argv[0]), or an ExecutableRefusedError when it is not allowed.
 * `searchPath` is the worker's PATH, never the payload's: a payload could otherwise put its own "curl" first.
 */
export async function resolveAllowedExecutable(command: string, allowlist: readonly string[], searchPath: string): Promise<string> {
  if (allowlist.length === 0) {
    throw new ExecutableRefusedError('the shell task type is disabled: SHELL_ALLOWLIST names no executable');
  }
  if (command.includes('/') && !isAbsolute(command)) {
    throw new ExecutableRefusedError(`argv[0] "${command}" must be an executable name or an absolute path, not a relative path`);
  }
  const resolved = isAbsolute(command) ? command : await findOnPath(command, searchPath);
  if (resolved === undefined) throw new ExecutableRefusedError(`executable "${command}" was not found on PATH`);
  if (allowlist.includes(command)) return resolved;

  const target = await canonicalPath(resolved);
  for (const entry of allowlist) {
    const entryPath = isAbsolute(entry) ? entry : await findOnPath(entry, searchPath);
    if (entryPath !== undefined && (await canonicalPath(entryPath)) === target) return resolved;
  }
  throw new ExecutableRefusedError(`executable "${command}" is not in SHELL_ALLOWLIST`);
}

/** The first executable regular file named `name` in the PATH directories, as `execvp` would pick it. */
export async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const directory of searchPath.split(':')) {
    if (!isAbsolute(directory)) continue; // an empty or relative PATH entry means "the current directory": never
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** The path with its directory's symlinks resolved and the file name kept. */
async function canonicalPath(path: string): Promise<string> {
  try {
    return join(await realpath(dirname(path)), basename(path));
  } catch {
    return path;
  }
}
