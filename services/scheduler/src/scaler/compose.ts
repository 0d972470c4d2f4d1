import { execFile } from 'node:child_process';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../../common/src/errors';
import type { Logger } from '../../../common/src/logger';
import type { RuntimeWorker, ScaleResult, Scaler } from './scaler';

/** The labels docker compose puts on every container it creates. */
const SERVICE_LABEL = 'com.docker.compose.service';
const PROJECT_LABEL = 'com.docker.compose.project';
/** The compose service of the workers (docker-compose.yml). */
const SERVICE = 'worker';

export interface ComposeScalerOptions {
  /** DOCKER_COMPOSE_FILE. */
  composeFile: string;
  /** COMPOSE_PROJECT_NAME; when set, containers of other projects are neither listed nor stopped. */
  project?: string;
  /** The environment docker runs in (PATH, DOCKER_HOST, ...); default this process's. */
  env?: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * Workers as the containers of the compose service "worker". Every command runs through execFile with an
 * argument list, never a shell, so a container name cannot become a command. `up --no-recreate` leaves the
 * running workers alone and only adds or removes containers.
 */
export class ComposeScaler implements Scaler {
  readonly kind = 'compose' as const;
  /** docker compose keeps no replica count of its own: the last one this process asked for. */
  private requested: number | null = null;

  constructor(private readonly options: ComposeScalerOptions) {}

  async scale(count: number): Promise<ScaleResult> {
    const previous = this.requested ?? (await this.list()).filter((w) => w.phase === 'running').length;
    const { composeFile } = this.options;
    await this.docker(['compose', '-f', composeFile, 'up', '-d', '--scale', `${SERVICE}=${count}`, '--no-recreate', SERVICE], 300_000);
    this.requested = count;
    this.options.logger.info({ composeFile, service: SERVICE, replicas: count, previous }, 'scaled the compose worker service');
    return { requested: count, previous };
  }

  async kill(name: string): Promise<void> {
    let labels: Record<string, string> | null;
    try {
      labels = JSON.parse(await this.docker(['inspect', '--type', 'container', '--format', '{{json .Config.Labels}}', name])) as Record<string, string> | null;
    } catch (err) {
      if (err instanceof UnavailableError && /no such (object|container)/i.test(err.message)) {
        throw new NotFoundError(`no container named "${name}"`, 'name');
      }
      throw err;
    }
    const project = this.options.project;
    if (labels?.[SERVICE_LABEL] !== SERVICE || (project !== undefined && labels?.[PROJECT_LABEL] !== project)) {
      throw new ForbiddenError(
        `container "${name}" is not a worker: it does not belong to the compose service "${SERVICE}"${project ? ` of project "${project}"` : ''}, so it is not stopped`,
        'name',
      );
    }
    await this.docker(['stop', name], 60_000);
    this.options.logger.info({ container: name }, 'stopped worker container');
  }

  async list(): Promise<RuntimeWorker[]> {
    const filters = ['--filter', `label=${SERVICE_LABEL}=${SERVICE}`];
    if (this.options.project) filters.push('--filter', `label=${PROJECT_LABEL}=${this.options.project}`);
    const output = await this.docker(['ps', '--all', ...filters, '--format', '{{.Names}}\t{{.State}}\t{{.Status}}']);
    return output
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [name, state, status = ''] = line.split('\t');
        // A container with a health check is ready once it reports healthy; one without, once it runs.
        const ready = state === 'running' && !/\((unhealthy|health: starting)\)/.test(status);
        return { name, phase: state, ready };
      });
  }

  async desired(): Promise<number | null> {
    return this.requested;
  }

  async close(): Promise<void> {
    // The containers belong to docker compose, not to this process: they keep running.
  }

  /** Runs docker with `args`; a missing binary, a failure or a timeout is an UnavailableError carrying stderr. */
  private docker(args: string[], timeoutMs = 30_000): Promise<string> {
    const env = this.options.env ?? process.env;
    return new Promise((resolve, reject) => {
      execFile('docker', args, { env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const detail = String(stderr).trim() || err.message;
        reject(new UnavailableError(`docker ${args.slice(0, 2).join(' ')} failed: ${detail}`));
      });
    });
  }
}
