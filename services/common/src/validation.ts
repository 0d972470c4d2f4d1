import { MAX_COMMAND_LENGTH } from '../../sdk/src/task-fields';
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
  // NUL cannot be stored in a PostgreSQL text column.
  if (command.includes('\u0000')) throw new ValidationError(`${field} must not contain NUL characters`, field);
  return command;
}
