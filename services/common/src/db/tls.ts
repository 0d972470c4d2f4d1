import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { DatabaseConfig } from '../config';

/**
 * node-postgres' `ssl` option for DATABASE_SSLMODE and DATABASE_SSL_CA, with libpq's meanings: `require`
 * encrypts without checking the certificate (unless a CA is given, then as verify-ca), `verify-ca` checks it
 * chains to the CA, `verify-full` also that it names the host connected to. Undefined when DATABASE_SSLMODE is
 * unset, so that a DATABASE_URL's own sslmode and sslrootcert (which node-postgres reads, and which win over this)
 * decide alone. The CA file is read here, at start-up, so a missing file stops the service with its name.
 */
export function databaseTls(config: Pick<DatabaseConfig, 'sslMode' | 'sslCaFile'>): false | ConnectionOptions | undefined {
  const { sslMode, sslCaFile } = config;
  if (sslMode === undefined) return undefined;
  if (sslMode === 'disable') return false;
  const ca = sslCaFile === undefined ? undefined : readCa(sslCaFile);
  // Node checks the chain by default (rejectUnauthorized) and the name through checkServerIdentity.
  const anyName = { checkServerIdentity: () => undefined };
  switch (sslMode) {
    case 'require':
      return ca ? { ca, ...anyName } : { rejectUnauthorized: false };
    case 'verify-ca':
      return { ca, ...anyName };
    case 'verify-full':
      return ca ? { ca } : {};
  }
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`DATABASE_SSL_CA=${path} cannot be read: ${(err as Error).message}`);
  }
}

/** OpenSSL's verdicts on a certificate that does not chain to the trusted CAs, and Node's on a wrong name. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
]);

/**
 * A connection error's message, with what to check when TLS refused the server: the bare OpenSSL text
 * ("self-signed certificate in certificate chain") names neither the setting nor the file involved.
 */
export function describeConnectError(err: unknown, config: Pick<DatabaseConfig, 'sslCaFile'>): string {
  const message = (err as Error)?.message ?? String(err);
  const code = (err as { code?: unknown })?.code;
  const trusted = config.sslCaFile ? `the CA in DATABASE_SSL_CA (${config.sslCaFile})` : "the system's CAs or the URL's sslrootcert";
  if (typeof code === 'string' && UNTRUSTED.has(code)) {
    return `${message}: the database's TLS certificate is not signed by ${trusted}`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `${message}: the database's TLS certificate does not name the host connected to (DATABASE_SSLMODE=verify-full checks it)`;
  }
  return message;
}
