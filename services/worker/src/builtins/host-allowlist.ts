/**
 * The `http` task's host allowlist (HTTP_ALLOW_HOSTS). An entry is an exact host name or IP address
 * ("api.example.com", "10.0.0.5", "[::1]"), or a wildcard "*.example.com" that matches every name below
 * example.com but not example.com itself. Matching ignores case, a trailing dot and IPv6 brackets; ports are
 * not part of the match.
 */

/** Lower case, no IPv6 brackets, no trailing dot: "Example.COM." and "example.com" are one host. */
function normalizeHost(host: string): string {
  let value = host.trim().toLowerCase();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  if (value.endsWith('.')) value = value.slice(0, -1);
  return value;
}

/** Whether `host` (a URL's hostname) is allowed; an empty list allows every host. */
export function isHostAllowed(host: string, allowHosts: readonly string[]): boolean {
  if (allowHosts.length === 0) return true;
  const name = normalizeHost(host);
  return allowHosts.some((entry) => {
    const pattern = normalizeHost(entry);
    if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1); // ".example.com"
      return name.length > suffix.length && name.endsWith(suffix);
    }
    return name === pattern;
  });
}
