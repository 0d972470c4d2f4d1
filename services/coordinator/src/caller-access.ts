import type * as grpc from '@grpc/grpc-js';
import type { BearerTokens } from '../../common/src/bearer-tokens';
import { ForbiddenError, UnauthenticatedError } from '../../common/src/errors';
import { peerIdentity } from '../../common/src/grpc/peer-security';

/**
 * Who may call which CoordinatorService method (docs/security.md). On a TLS port a caller is who its client
 * certificate says (CN) in the roles its OUs give: only `worker` certificates may beat, hold tasks and report;
 * SubmitTask and ListWorkers take a `scheduler` or `client` certificate, or a bearer token in `authorization`
 * metadata. On a plaintext port (loopback, GRPC_INSECURE, or GRPC_PLAINTEXT_PORT for original workers) worker
 * calls come from no one in particular, and SubmitTask and ListWorkers need a token once tokens are configured.
 */

export interface ListenerAccess {
  /** The port serves TLS with client certificates. */
  secure: boolean;
  /** API_TOKENS / API_TOKEN of the coordinator; none configured = no token asked for on a plaintext port. */
  tokens: BearerTokens;
}

type Call = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'metadata'>;

/**
 * The identity a worker call comes from: its certificate's name on a TLS port, null on a plaintext one.
 * A worker's id is bound to it (heartbeats.ts), so another identity cannot take the id over.
 */
export function workerIdentity(call: Pick<Call, 'getAuthContext'>, access: ListenerAccess): string | null {
  if (!access.secure) return null;
  const identity = peerIdentity(call);
  if (!identity) throw new UnauthenticatedError('worker calls on this port need a client certificate signed by the TaskMaster CA, with OU=worker');
  if (!identity.roles.includes('worker')) {
    throw new ForbiddenError(`the certificate of ${identity.name} is not a worker's (OU=${identity.roles.join(',') || 'none'}): only OU=worker may heartbeat and report`);
  }
  return identity.name;
}

/** What a client call asks for: `submit` (SubmitTask) needs an operator, `list` (ListWorkers) a viewer. */
export type ClientNeed = 'submit' | 'list';

const CLIENT_ROLES = ['scheduler', 'client'];

/** Allows a SubmitTask or ListWorkers call, or throws UNAUTHENTICATED / PERMISSION_DENIED saying what is missing. */
export function authorizeClient(call: Call, access: ListenerAccess, need: ClientNeed): void {
  const identity = access.secure ? peerIdentity(call) : undefined;
  if (identity?.roles.some((role) => CLIENT_ROLES.includes(role))) return;
  const authorization = call.metadata.get('authorization')[0];
  const holder = typeof authorization === 'string' ? access.tokens.holderOf(authorization) : undefined;
  if (holder) {
    if (need === 'submit' && holder.role !== 'operator') {
      throw new ForbiddenError(`the token of ${holder.name} is a viewer's: SubmitTask needs an operator token`);
    }
    return;
  }
  if (!access.secure && access.tokens.none) return;
  if (identity) {
    throw new ForbiddenError(`the certificate of ${identity.name} (OU=${identity.roles.join(',') || 'none'}) may not call this method: it needs OU=scheduler or OU=client, or a token`);
  }
  throw new UnauthenticatedError(authorization === undefined
    ? 'this method needs a client certificate (OU=scheduler or OU=client) or "authorization: Bearer <token>" metadata'
    : 'the token in the authorization metadata is not valid');
}
