import { CONTROL_CHARACTERS, MAX_COMMAND_LENGTH, UUID_PATTERN } from '../../sdk/src/task-fields';
import type { z } from 'zod';
import { ValidationError } from './errors';

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/** A task's command, for every ingress (HTTP and gRPC): a non-empty string of printable text. */
export function parseCommand(value: unknown, field = 'command'): string {
  if (typeof value !== 'string') throw new ValidationError(`${field} is required and must be a string`, field);
  const command = value.trim();
  if (command.length === 0) throw new ValidationError(`${field} must not be empty`, field);
  if (command.length > MAX_COMMAND_LENGTH) {
    throw new ValidationError(`${field} must be at most ${MAX_COMMAND_LENGTH} characters`, field);
  }
  // A command is a name and arguments: control characters (NUL, which PostgreSQL text cannot hold, newlines,
  // terminal escapes) have no place in one and would garble logs and the dashboard.
  if (CONTROL_CHARACTERS.test(command)) throw new ValidationError(`${field} must not contain control characters`, field);
  return command;
}

/** "tasks[3].name" for ['tasks', 3, 'name']; "body" for the body itself. */
function fieldPath(path: readonly PropertyKey[], root = 'body'): string {
  if (path.length === 0) return root;
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** Parses with a schema, or throws a ValidationError for its first issue. */
export function parseWith<T extends z.ZodType>(schema: T, raw: unknown, root = 'body'): z.output<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = fieldPath(issue.path, root);
  // Our own messages read after the field's name ("must be ...", "is required ..."); zod's own stand apart.
  const message = /^(must|is|should) /.test(issue.message) ? `${field} ${issue.message}` : `${field}: ${issue.message}`;
  throw new ValidationError(message, field);
}
