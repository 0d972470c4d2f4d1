import { CONTROL_CHARACTERS, MAX_COMMAND_LENGTH } from '../../sdk/src/task-fields';
import { ValidationError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
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
