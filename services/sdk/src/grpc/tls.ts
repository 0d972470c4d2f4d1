import { accessSync, constants } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

/**
 * PEM files for mutual TLS with the coordinator (docs/security.md). The files are re-read every
 * `reloadIntervalMs` and a new connection uses what was read last, so a certificate that cert-manager
 * rotates in place is picked up without a restart.
 */
export interface TlsFiles {
  /** The CA bundle the coordinator's certificate must chain to. */
  ca: string;
  /** This client's certificate chain: its identity, with its role in the subject's OU (worker, scheduler, client). */
  cert: string;
  /** The certificate's private key. */
  key: string;
  /** The name the coordinator's certificate must carry when the address does not (an IP address, a port-forward). */
  serverName?: string;
  /** How often the files are re-read. @defaultValue 60000 */
  reloadIntervalMs?: number;
}

export const DEFAULT_TLS_RELOAD_MS = 60_000;

/** Throws a TypeError naming the first option whose file cannot be read: a typo fails at start, not at the first dial. */
export function checkTlsFiles(tls: TlsFiles, where: string): void {
  for (const field of ['ca', 'cert', 'key'] as const) {
    const file = tls[field];
    if (typeof file !== 'string' || file === '') throw new TypeError(`${where}: \`tls.${field}\` must be the path of a PEM file`);
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new TypeError(`${where}: \`tls.${field}\` file ${file} cannot be read`);
    }
  }
  if (tls.reloadIntervalMs !== undefined && !(tls.reloadIntervalMs >= 100)) {
    throw new TypeError(`${where}: \`tls.reloadIntervalMs\` must be at least 100`);
  }
}

/** One file watcher per set of files, shared by every channel of the process that uses them. */
const providers = new Map<string, grpc.experimental.CertificateProvider>();

export function certificateProvider(files: { ca: string; cert: string; key: string; reloadIntervalMs?: number }): grpc.experimental.CertificateProvider {
  const refreshIntervalMs = files.reloadIntervalMs ?? DEFAULT_TLS_RELOAD_MS;
  const key = JSON.stringify([files.ca, files.cert, files.key, refreshIntervalMs]);
  let provider = providers.get(key);
  if (!provider) {
    provider = new grpc.experimental.FileWatcherCertificateProvider({
      caCertificateFile: files.ca,
      certificateFile: files.cert,
      privateKeyFile: files.key,
      refreshIntervalMs,
    });
    providers.set(key, provider);
  }
  return provider;
}

/**
 * Credentials and channel options for a client channel: mutual TLS from `tls`, or plaintext without it.
 * The channel options are merged with `base` (the keepalive settings every channel shares).
 */
export function channelSecurity(tls: TlsFiles | undefined, base: grpc.ChannelOptions): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: base };
  const provider = certificateProvider(tls);
  return {
    credentials: grpc.experimental.createCertificateProviderChannelCredentials(provider, provider),
    options: tls.serverName ? { ...base, 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : base,
  };
}
