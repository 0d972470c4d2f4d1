import { getConcurrencyLimit, setConcurrencyLimit } from '../../common/src/db/queue-controls';
import type { Pool } from '../../common/src/db/pool';
import type { ConcurrencyDeclaration } from '../../common/src/grpc/contract';
import type { Logger } from '../../common/src/logger';
import { NAME_PATTERN, concurrencyProblem } from '../../sdk/src/task-fields';

/** Why a declared concurrency limit cannot be saved, as "field message", or undefined. */
export function limitDeclarationProblem(declaration: ConcurrencyDeclaration): string | undefined {
  const { name, key, max_running } = declaration;
  if (!NAME_PATTERN.test(name)) return `name "${name.slice(0, 140)}" is not a task name (${NAME_PATTERN.source})`;
  // The proto's field is max_running; the rule's message says limit, as defineTask does.
  return concurrencyProblem(key, max_running)?.replace(/^limit /, 'max_running ');
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
