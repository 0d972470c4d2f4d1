import { createHash } from 'node:crypto';

/**
 * A request's fingerprint for idempotency (migration 0016): SHA-256 of its JSON with object keys sorted, so the
 * same request sent with its fields in another order is the same request. Absent (undefined) fields are left
 * out, as JSON.stringify leaves them.
 */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value, (_key, item: unknown) => (
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item
  ))).digest('base64url');
}
