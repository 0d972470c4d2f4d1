import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * Custom resource definitions of the projects the chart renders objects for, taken from those projects' own Go
 * modules through the Go module proxy (cached in the module cache after the first download), so the API
 * server judges the chart's objects by the real schemas.
 */

/** The directory of MODULE@VERSION in the Go module cache, downloaded through the proxy when missing. */
export function goModuleDir(module: string, version: string): string {
  // `go mod download` needs a module to run in; a throwaway one leaves no go.mod behind.
  const query = mkdtempSync(join(tmpdir(), 'tm-gomod-'));
  try {
    writeFileSync(join(query, 'go.mod'), 'module taskmaster.local/crds\n\ngo 1.22\n');
    const json = execFileSync('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: query, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(json) as { Dir: string }).Dir;
  } finally {
    rmSync(query, { recursive: true, force: true });
  }
}

export const CERT_MANAGER = { module: 'github.com/cert-manager/cert-manager', version: 'v1.16.2' } as const;

/**
 * cert-manager's Certificate, Issuer and ClusterIssuer CRDs from its module's deploy/crds, as one multi-document
 * YAML. The files are also templates of cert-manager's chart: their `{{ ... }}` label lines are dropped (labels
 * only; the schemas are untouched).
 */
export function certManagerCrds(): string {
  const dir = join(goModuleDir(CERT_MANAGER.module, CERT_MANAGER.version), 'deploy', 'crds');
  return ['crd-certificates.yaml', 'crd-issuers.yaml', 'crd-clusterissuers.yaml']
    .map((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter((line) => !/^\s+[\w./-]+: '?\{\{/.test(line) && !/^\s+#.*\{\{/.test(line)).join('\n'))
    .join('\n---\n');
}
