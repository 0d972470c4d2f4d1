import { escapeIdentifier, escapeLiteral } from 'pg';
import { SCHEMA, type Queryable } from './pool';
import { roleNameProblem } from './role-name';

export interface ServiceRole {
  /** MIGRATE_GRANT_ROLE. */
  name: string;
  /** MIGRATE_GRANT_ROLE_PASSWORD: create the role when missing and set this password (the chart's bundled database). */
  password?: string;
}

/**
 * Gives the services' role what they need and nothing more: they read and write rows, call TaskMaster's
 * functions and draw ids from its sequences, but cannot create, alter, drop or truncate anything, nor rewrite
 * the migration ledger. Run by `migrate` as the owner of the schema, inside its transaction and under its lock
 * (two GRANTs on one object at once fail with "tuple concurrently updated"). Default privileges cover what
 * the owner creates later outside `migrate`; every run grants on everything again anyway.
 */
export async function grantServiceRole(client: Queryable, { name: role, password }: ServiceRole): Promise<void> {
  const problem = roleNameProblem(role);
  if (problem) throw new Error(`MIGRATE_GRANT_ROLE="${role.slice(0, 70)}" ${problem}`);
  if (password !== undefined) await upsertLoginRole(client, role, password);
  const { rows } = await client.query<{ superuser: boolean; migrating: boolean }>(
    'SELECT rolsuper AS superuser, rolname = current_user AS migrating FROM pg_roles WHERE rolname = $1',
    [role],
  );
  if (rows.length === 0) {
    throw new Error(`MIGRATE_GRANT_ROLE: role "${role}" does not exist; create it first (CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD '…')`);
  }
  if (rows[0].migrating) throw new Error(`MIGRATE_GRANT_ROLE: "${role}" is the role migrating; the services need a role of their own`);
  if (rows[0].superuser) throw new Error(`MIGRATE_GRANT_ROLE: "${role}" is a superuser, whose rights no grant can limit`);

  // Identifiers cannot be bound as parameters: both names are quoted, and the role's name was checked above.
  const to = escapeIdentifier(role);
  const schema = escapeIdentifier(SCHEMA);
  const statements = [
    `GRANT USAGE ON SCHEMA ${schema} TO ${to}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${to}`,
    `REVOKE INSERT, UPDATE, DELETE ON ${schema}.schema_migrations FROM ${to}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${to}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${schema} TO ${to}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${to}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE, SELECT ON SEQUENCES TO ${to}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT EXECUTE ON FUNCTIONS TO ${to}`,
  ];
  for (const statement of statements) await client.query(statement);
}

/**
 * Creates the role as a plain login role if it is missing, and sets its password every time, so that it follows
 * the Secret it comes from. CREATE and ALTER ROLE take no bind parameters: the name is quoted with
 * escapeIdentifier and the password with escapeLiteral (the server's own quote_literal rules). Needs CREATEROLE.
 */
async function upsertLoginRole(client: Queryable, role: string, password: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (rowCount === 0) await client.query(`CREATE ROLE ${escapeIdentifier(role)} LOGIN`);
  await client.query(`ALTER ROLE ${escapeIdentifier(role)} WITH LOGIN PASSWORD ${escapeLiteral(password)}`);
}
