import { getConcurrencyLimit, setConcurrencyLimit } from '../../common/src/db/queue-controls';
import type { Pool } from '../../common/src/db/pool';
import type { ConcurrencyDeclaration } from '../../common/src/grpc/contract';
import type { Logger } from '../../common/src/logger';
import { KEY_FIELD_PATTERN, MAX_LIMIT, NAME_PATTERN } from '../../sdk/src/task-fields';

/** Why a declared concurrency limit cannot be saved, as "field message", or undefined. */
export function limitDeclarationProblem(declaration: ConcurrencyDeclaration): string | undefined {
  const { name, key, max_running } = declaration;
  if (!NAME_PATTERN.test(name)) return `name "${name.slice(0, 140)}" is not a task name (${NAME_PATTERN.source})`;
  if (!KEY_FIELD_PATTERN.test(key)) return `key "${key.slice(0, 140)}" is not a payload field (${KEY_FIELD_PATTERN.source})`;
  if (!(max_running >= 1 && max_running <= MAX_LIMIT)) return `max_running must be a whole number from 1 to ${MAX_LIMIT}`;
  return undefined;
}

/**
 * Saves what a joining worker's task types declare (defineTask({ concurrency })). A declaration equal to the
 * stored limit changes nothing: setting a limit re-keys the type's unfinished tasks, which every worker of
 * the type joining must not repeat.
 */
export async function saveDeclaredLimits(pool: Pool, declarations: readonly ConcurrencyDeclaration[], logger: Logger): Promise<void> {
  for (const { name, key, max_running } of declarations) {
    const stored = await getConcurrencyLimit(pool, name);
    if (stored && stored.key_field === key && stored.max_running === max_running) continue;
    await setConcurrencyLimit(pool, name, { keyField: key, maxRunning: max_running }, 'worker');
    logger.info({ task_name: name, key, max_running }, 'concurrency limit declared by a worker');
  }
}
