/**
 * Which PostgreSQL role names TaskMaster accepts in its settings (MIGRATE_GRANT_ROLE). The name is always quoted
 * with escapeIdentifier before it reaches SQL; this refuses the names that quoting does not make harmless:
 * `public` (GRANT ... TO "public" grants to everyone), `none`, the current_* keywords and the reserved pg_ prefix.
 */
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/;
const RESERVED = new Set(['public', 'none', 'current_user', 'current_role', 'session_user']);

/** Why `name` is not accepted as a role name, or undefined when it is. */
export function roleNameProblem(name: string): string | undefined {
  if (!ROLE_NAME.test(name)) return 'must be 1 to 63 letters, digits, "_", "." or "-", starting with a letter or "_"';
  if (RESERVED.has(name.toLowerCase())) return 'is a reserved role name';
  if (name.toLowerCase().startsWith('pg_')) return 'starts with pg_, which PostgreSQL reserves for its own roles';
  return undefined;
}
