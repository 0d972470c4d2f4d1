import { existsSync } from 'node:fs';
import type { Config, ScalerKind } from '../../../common/src/config';
import { isInCluster } from './kube-client';

export const DOCKER_SOCKET = '/var/run/docker.sock';

export interface DetectedScaler {
  kind: Exclude<ScalerKind, 'auto'>;
  /** Why this backend: logged at start-up. */
  reason: string;
}

/**
 * SCALER when it names a backend; with "auto": Kubernetes in a pod (ServiceAccount token mounted and
 * KUBERNETES_SERVICE_HOST set), compose when the compose file and the Docker socket are both there, else local.
 */
export function detectScaler(config: Pick<Config, 'scheduler' | 'kubernetes'>, exists: (path: string) => boolean = existsSync): DetectedScaler {
  const { scaler, composeFile } = config.scheduler;
  if (scaler !== 'auto') return { kind: scaler, reason: `SCALER=${scaler}` };
  if (isInCluster(config.kubernetes, exists)) return { kind: 'kubernetes', reason: 'running in a Kubernetes pod with a ServiceAccount token' };
  if (exists(composeFile) && exists(DOCKER_SOCKET)) return { kind: 'compose', reason: `${composeFile} and ${DOCKER_SOCKET} exist` };
  return { kind: 'local', reason: 'neither a Kubernetes ServiceAccount nor a compose file with a Docker socket' };
}
