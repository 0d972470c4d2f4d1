import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from '../../services/common/src/paths';

/** test/go-peers/original.proto: the original contract alone, which the Go test peers are generated from too. */
export const ORIGINAL_PROTO = join(repoRoot(), 'test', 'go-peers', 'original.proto');

/**
 * The original contract's `grpcapi` package, loaded as a peer built against it would: it sends no attempt
 * numbers, worker ids or slot counts, and knows only the original methods.
 */
export function originalContract(): any {
  return grpc.loadPackageDefinition(protoLoader.loadSync(ORIGINAL_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true }));
}
