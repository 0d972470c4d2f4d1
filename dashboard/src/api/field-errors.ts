import { ApiError, errorMessage } from './client';

/**
 * Splits an action's error into a message for one of the form's fields (when the API named a field the form
 * has) and a message for the whole form.
 */
export function fieldErrors<F extends string>(error: unknown, fields: readonly F[]): { field: Partial<Record<F, string>>; form?: string } {
  if (error === undefined) return { field: {} };
  if (error instanceof ApiError && error.field && (fields as readonly string[]).includes(error.field)) {
    return { field: { [error.field]: error.message } as Partial<Record<F, string>> };
  }
  return { field: {}, form: errorMessage(error) };
}
