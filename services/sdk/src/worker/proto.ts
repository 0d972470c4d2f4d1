import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CoordinatorServiceClient } from '../generated/grpcapi/CoordinatorService';
import type { ProtoGrpcType } from '../generated/taskmaster';
import { CHANNEL_OPTIONS } from '../grpc/channel-options';
import { channelSecurity, type TlsFiles } from '../grpc/tls';

/**
 * proto/taskmaster.proto, found by walking up from this file: a packed SDK carries a copy in its own proto/
 * (the package build copies it there), and in the repository the walk reaches the root's proto/.
 */
export function findProto(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto', 'taskmaster.proto');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find proto/taskmaster.proto above ${from}`);
  }
}

let loaded: ProtoGrpcType | undefined;

export function grpcApi(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(findProto(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

/*
 * The shared keepalive settings: pings only under an open call, every 5 minutes. Under Connect a dead
 * coordinator is noticed sooner by the heartbeat's answer timeout (Connection). Mutual TLS with `tls`.
 */
export function createCoordinatorClient(address: string, tls?: TlsFiles): CoordinatorServiceClient {
  const { credentials, options } = channelSecurity(tls, CHANNEL_OPTIONS);
  return new (grpcApi().grpcapi.CoordinatorService)(address, credentials, options);
}
