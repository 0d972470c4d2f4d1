import { execFile } from 'node:child_process';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../../common/src/errors';
import type { Logger } from '../../../common/src/logger';
import type { RuntimeWorker, ScaleResult, Scaler } from './scaler';

/** The labels docker compose puts on every container it creates. */
const SERVICE_LABEL = 'com.docker.compose.service';
const PROJECT_LABEL = 'com.docker.compose.project';
/** The compose service of the workers (docker-compose.yml). */
const SERVICE = 'worker';
/** What `docker inspect` prints of a container: its full id, then its labels as JSON. */
const INSPECT_FORMAT = '{{.Id}} {{json .Config.Labels}}';

function isNoSuchContainer(err: unknown): boolean {
  return err instanceof UnavailableError && /no such (object|container)/i.test(err.detail ?? '');
}

/** The id and labels INSPECT_FORMAT printed; an answer without a full container id is the backend's failure. */
function parseInspect(output: string): { id: string; labels: Record<string, string> | null } {
  const text = output.trim();
  const space = text.indexOf(' ');
  const id = space === -1 ? text : text.slice(0, space);
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UnavailableError(`docker inspect answered no container id: ${text.slice(0, 200)}`);
  return { id, labels: JSON.parse(text.slice(space + 1)) as Record<string, string> | null };
}

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

  /**
   * Stops one worker container. The container is looked up once, and the id that lookup answered is the one
   * checked and stopped: stopping by name would act on whichever container holds the name by then, which need
   * not be the one whose labels were checked.
   */
  async kill(name: string): Promise<void> {
    let inspected: string;
    try {
      inspected = await this.docker(['inspect', '--type', 'container', '--format', INSPECT_FORMAT, name]);
    } catch (err) {
      if (isNoSuchContainer(err)) throw new NotFoundError(`no container named "${name}"`, 'name');
      throw err;
    }
    const { id, labels } = parseInspect(inspected);
    const project = this.options.project;
    if (labels?.[SERVICE_LABEL] !== SERVICE || (project !== undefined && labels?.[PROJECT_LABEL] !== project)) {
      throw new ForbiddenError(
        `container "${name}" is not a worker: it does not belong to the compose service "${SERVICE}"${project ? ` of project "${project}"` : ''}, so it is not stopped`,
        'name',
      );
    }
    try {
      await this.docker(['stop', id], 60_000);
    } catch (err) {
      // Removed since it was inspected: what was checked is gone, and nothing else is stopped in its place.
      if (isNoSuchContainer(err)) throw new NotFoundError(`container "${name}" (${id.slice(0, 12)}) no longer exists`, 'name');
      throw err;
    }
    this.options.logger.info({ container: name, id }, 'stopped worker container');
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

  /** Runs docker with `args`; a missing binary, a failure or a timeout is an UnavailableError, stderr its logged detail. */
  private docker(args: string[], timeoutMs = 30_000): Promise<string> {
    const env = this.options.env ?? process.env;
    return new Promise((resolve, reject) => {
      execFile('docker', args, { env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const detail = String(stderr).trim() || err.message;
        reject(new UnavailableError(`docker ${args.slice(0, 2).join(' ')} failed (see the scheduler's log)`).withDetail(detail));
      });
    });
  }
}
