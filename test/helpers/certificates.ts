import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway certificate authority for tests, made with the openssl command line (as docs/security.md's
 * self-signed setup does): a CA, and certificates it signs with a CN, OUs and subject alternative names.
 */
export interface TestCa {
  readonly dir: string;
  /** The CA certificate's PEM file. */
  readonly caFile: string;
  /** Issues a certificate signed by this CA; files `<name>.crt` and `<name>.key`, or `into` (overwritten). */
  issue(name: string, options?: { ous?: string[]; dns?: string[]; ips?: string[]; into?: { cert: string; key: string } }): { cert: string; key: string };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestCa(label = 'TaskMaster test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'tm-ca-'));
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${label}`, '-keyout', caKey, '-out', caFile], dir);
  let serial = 0;
  return {
    dir,
    caFile,
    issue(name, options = {}) {
      const cert = options.into?.cert ?? join(dir, `${name}.crt`);
      const key = options.into?.key ?? join(dir, `${name}.key`);
      const csr = join(dir, `${name}-${++serial}.csr`);
      const ext = join(dir, `${name}-${serial}.ext`);
      const subject = `/CN=${name}${(options.ous ?? []).map((ou) => `/OU=${ou}`).join('')}`;
      const alt = [...(options.dns ?? []).map((d) => `DNS:${d}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
      writeFileSync(ext, [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(alt.length > 0 ? [`subjectAltName=${alt.join(',')}`] : []),
      ].join('\n'));
      // Written next to the target and renamed over it, as a Secret volume's update swaps files whole.
      const staging = { cert: `${cert}.new`, key: `${key}.new` };
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject, '-keyout', staging.key, '-out', csr], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', staging.cert], dir);
      renameSync(staging.key, key);
      renameSync(staging.cert, cert);
      return { cert, key };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
