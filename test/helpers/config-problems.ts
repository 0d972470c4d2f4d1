import { loadConfig } from '../../services/common/src/config';
import { ConfigError } from '../../services/common/src/errors';

/** The problems loadConfig reports for `env`, one line each; none when it loads. */
export function configProblems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
