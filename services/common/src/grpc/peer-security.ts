import * as grpc from '@grpc/grpc-js';
import { certificateProvider } from '../../../sdk/src/grpc/tls';
import { isLoopback } from '../bearer-tokens';
import type { GrpcTlsFiles } from '../config';
import { ConfigError } from '../errors';

/**
 * gRPC transport security on the server side (docs/security.md): which ports serve TLS and which plaintext,
 * the server's credentials, and who a caller is by its client certificate.
 */

/** A port a gRPC server listens on; `secure` when it serves TLS. */
export interface GrpcListener {
  port: number;
  secure: boolean;
}

/**
 * The ports a service serves gRPC on and what each speaks. TLS when its files are configured, with an extra
 * plaintext port if asked for; plaintext otherwise, on loopback (`notice`, for the start-up log at info) or with
 * GRPC_INSECURE=true (`warning`, at warn). Plaintext on a reachable address without asking for it refuses to start.
 */
export function grpcListeners(options: {
  tls: GrpcTlsFiles | undefined;
  insecure: boolean;
  bindHost: string;
  port: number;
  plaintextPort?: number;
}): { listeners: GrpcListener[]; warning?: string; notice?: string } {
  const { tls, insecure, bindHost, port, plaintextPort } = options;
  if (tls) {
    const listeners = [{ port, secure: true }];
    if (plaintextPort === undefined) return { listeners };
    return {
      listeners: [...listeners, { port: plaintextPort, secure: false }],
      warning: `gRPC port ${plaintextPort} is plaintext (GRPC_PLAINTEXT_PORT): worker calls without a certificate are served there; `
        + 'let only original-contract workers reach it (a NetworkPolicy)',
    };
  }
  if (!insecure && !isLoopback(bindHost)) {
    throw new ConfigError([
      `BIND_HOST=${bindHost} is not a loopback address and gRPC has no TLS: set GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY, `
      + 'bind to 127.0.0.1, or set GRPC_INSECURE=true to serve plaintext on purpose',
    ]);
  }
  // On loopback only this host's processes reach it (npm start): said, but not as a warning at every start.
  if (isLoopback(bindHost)) {
    return { listeners: [{ port, secure: false }], notice: `gRPC on ${bindHost}:${port} is plaintext (loopback only); set GRPC_TLS_* for mutual TLS` };
  }
  return {
    listeners: [{ port, secure: false }],
    warning: `GRPC_INSECURE=true: gRPC on ${bindHost}:${port} is plaintext; anyone who can reach it can act as a worker`,
  };
}

/**
 * Server credentials for a listener: mutual TLS from the files (re-read every reloadIntervalMs; a new
 * connection gets the latest), or plaintext. A client certificate is asked for but not required at the
 * handshake, so a token-holding client without one can still call SubmitTask; what each method needs is
 * decided per call (services/coordinator/src/caller-access.ts).
 */
export function serverCredentials(tls: GrpcTlsFiles | undefined, listener: GrpcListener): grpc.ServerCredentials {
  if (!tls || !listener.secure) return grpc.ServerCredentials.createInsecure();
  const provider = certificateProvider({ ca: tls.ca, cert: tls.cert, key: tls.key, reloadIntervalMs: tls.reloadIntervalMs });
  // One provider serves as both: grpc-js 1.14's factory passes its two providers to the constructor in the
  // opposite order to their names.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** What a verified client certificate says: its subject's CN names it, its OUs give its roles. */
export interface PeerIdentity {
  name: string;
  roles: readonly string[];
}

/**
 * The identity of the caller's client certificate, when it sent one that chains to the CA; undefined for a
 * plaintext caller, or one without a (valid) certificate.
 */
export function peerIdentity(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>): PeerIdentity | undefined {
  const certificate = call.getAuthContext()?.sslPeerCertificate;
  if (!certificate) return undefined;
  const { CN, OU } = certificate.subject as unknown as { CN?: string | string[]; OU?: string | string[] };
  const name = Array.isArray(CN) ? CN[0] : CN;
  if (!name) return undefined;
  return { name, roles: OU === undefined ? [] : Array.isArray(OU) ? OU : [OU] };
}
