import { createHash } from 'node:crypto';
import { ConfigError } from './errors';
import { parseDuration } from './duration';
import { parseLabelSelector, type Labels } from './label-selector';
import { roleNameProblem } from './db/role-name';
import { checkNameList, readWorkerPools, singlePool, type WorkerPoolConfig } from './worker-pools';

/**
 * The one place that reads the environment. `loadConfig()` reads every variable once, gathers every problem
 * into one ConfigError (a line per bad variable), and returns a frozen object; each service takes its slice.
 * Names and defaults follow the original TaskMaster where it had them (POSTGRES_*, SCHEDULER_PORT=:8081, ...).
 * docs/configuration.md lists them all.
 */

export interface DatabaseConfig {
  /** DATABASE_URL; when set it wins over the POSTGRES_* variables. */
  readonly connectionString?: string;
  /** POSTGRES_HOST, default "localhost". */
  readonly host: string;
  /** POSTGRES_PORT, default 5432. */
  readonly port: number;
  /** POSTGRES_DB, default "scheduler". */
  readonly database: string;
  /** POSTGRES_USER, default "postgres". */
  readonly user: string;
  /** POSTGRES_PASSWORD, default "postgres". */
  readonly password: string;
  /** DB_POOL_SIZE, default 20 (the original design's pool). */
  readonly poolSize: number;
  /** DB_CONNECT_TIMEOUT, default 2 s. */
  readonly connectTimeoutMs: number;
  /** DB_IDLE_TIMEOUT, default 30 s. */
  readonly idleTimeoutMs: number;
  /**
   * DB_STATEMENT_TIMEOUT, default 30 s: the server cancels a statement that runs longer (pg's
   * statement_timeout, set on every pooled connection); 0 = no limit. Migrations are exempt.
   */
  readonly statementTimeoutMs: number;
  /**
   * DB_QUERY_TIMEOUT, default 35 s: the client closes a connection checked out this long without an answer
   * (one query, or one transaction), so a half-open connection fails instead of hanging; 0 = no limit.
   */
  readonly queryTimeoutMs: number;
  /** DB_KEEPALIVE_IDLE, default 10 s: TCP keepalive probes start after this much silence on a connection. */
  readonly keepAliveIdleMs: number;
  /**
   * DATABASE_SSLMODE: disable, require, verify-ca or verify-full, as libpq means them; verify-full when only
   * DATABASE_SSL_CA is set. Unset: TLS as DATABASE_URL's own sslmode and sslrootcert say, else none.
   */
  readonly sslMode?: DatabaseSslMode;
  /** DATABASE_SSL_CA: path of the PEM file of the CA(s) the database's certificate must chain to. */
  readonly sslCaFile?: string;
  /** MIGRATE_GRANT_ROLE: the role `migrate` gives the services' rights to (SELECT, INSERT, UPDATE, DELETE; no DDL). */
  readonly migrateGrantRole?: string;
  /** MIGRATE_GRANT_ROLE_PASSWORD: with it, `migrate` also creates that role if missing and sets its password. */
  readonly migrateGrantRolePassword?: string;
}

export type ScalerKind = 'auto' | 'local' | 'kubernetes' | 'compose';

/** What an API token may do: viewer reads (the API's GETs, the event stream); operator also changes things. */
export type ApiRole = 'viewer' | 'operator';

/** A token the scheduler's API accepts, kept only as its SHA-256. */
export interface ApiTokenConfig {
  role: ApiRole;
  /** Who holds it, for the logs and the events of what they did. */
  name: string;
  /** The token's SHA-256, as 64 hex digits. */
  sha256: string;
}

/** Bearer tokens that are JWTs from an OpenID Connect issuer (OIDC_*; docs/api.md, "Authentication"). */
export interface OidcConfig {
  /** OIDC_ISSUER: the issuer URL, exactly as its tokens' `iss` and its discovery document name it. */
  readonly issuer: string;
  /** OIDC_AUDIENCE: the `aud` a token must be for. */
  readonly audience: string;
  /** OIDC_ROLES_CLAIM, default "roles": the claim (a dot path, such as realm_access.roles) holding the caller's roles. */
  readonly rolesClaim: string;
  /** OIDC_VIEWER_ROLES, default "taskmaster-viewer": claim values that make a viewer. */
  readonly viewerRoles: readonly string[];
  /** OIDC_OPERATOR_ROLES, default "taskmaster-operator": claim values that make an operator. */
  readonly operatorRoles: readonly string[];
  /** OIDC_NAME_CLAIM, default "preferred_username" (else `sub`): who the caller is in events and logs. */
  readonly nameClaim: string;
}

export interface SchedulerConfig {
  /** SCHEDULER_PORT, default 8081 (":8081" and "8081" both work). */
  readonly port: number;
  /** COORDINATOR_ADDRESS, default "localhost:8080": where ListWorkers is asked. */
  readonly coordinatorAddress: string;
  /**
   * COORDINATORS_ADDRESS, default COORDINATOR_ADDRESS: a host:port whose name resolves to every coordinator
   * (a headless Service); the scheduler's worker list asks each one.
   */
  readonly coordinatorsAddress: string;
  /** API_TOKEN: an operator token (named "api-token"), kept for configurations from before roles. */
  readonly apiToken?: string;
  /**
   * API_TOKENS and API_TOKEN: every token the API accepts. API_TOKENS is a comma-separated list of
   * role:name:token or role:name:sha256:<64 hex digits>, role being viewer or operator.
   */
  readonly apiTokens: readonly ApiTokenConfig[];
  /** COORDINATOR_TOKEN: sent with ListWorkers when the coordinators require a token (plaintext gRPC with API_TOKENS set). */
  readonly coordinatorToken?: string;
  /** AUTH, default "token": "none" serves the API without tokens even on a non-loopback address, with a warning. */
  readonly auth: 'token' | 'none';
  /** OIDC_ISSUER and OIDC_AUDIENCE (with OIDC_*): JWTs from that issuer are accepted beside the static tokens. */
  readonly oidc?: OidcConfig;
  /** METRICS_AUTH, default "none": "token" makes /metrics need a viewer's token too (once any token is configured). */
  readonly metricsAuth: 'token' | 'none';
  /**
   * ALLOWED_HOSTS: the Host headers the API answers (comma-separated names, "*" for any), against DNS
   * rebinding. Default: localhost names when BIND_HOST is loopback, any otherwise.
   */
  readonly allowedHosts?: readonly string[];
  /** HTTP_RATE_LIMIT, default 0 (off): changes a client (a token's holder, else an address) may make a minute. */
  readonly rateLimitPerMinute: number;
  /** TRUST_PROXY: Express's "trust proxy" (hops, or addresses), so that client addresses come from X-Forwarded-For. */
  readonly trustProxy?: string;
  /** SSE_MAX_CLIENTS, default 1000: event streams open at once. */
  readonly sseMaxClients: number;
  /** SSE_MAX_RESUME, default 100,000: the most events one resuming stream catches up on. */
  readonly sseMaxResume: number;
  /** SSE_KEEPALIVE, default 15 s. */
  readonly sseKeepAliveMs: number;
  /** SCALER, default "auto". */
  readonly scaler: ScalerKind;
  /** LOCAL_WORKERS, default 0: workers the local scaler starts at boot (npm start sets 3). */
  readonly localWorkers: number;
  /** DOCKER_COMPOSE_FILE, default "docker-compose.yml". */
  readonly composeFile: string;
  /** COMPOSE_PROJECT_NAME (docker compose's own variable): when set, the compose scaler only touches that project. */
  readonly composeProject?: string;
  /** PAYLOAD_MAX_BYTES, default 262144 (256 KiB): the most a task's payload may take as compact JSON. */
  readonly payloadMaxBytes: number;
  /** What the coordinators prune, shown in /api/stats. */
  readonly retention: RetentionConfig;
  /** IDEMPOTENCY_KEY_TTL, default 24 h: how long an idempotency key names its first task (the coordinator's SubmitTask too). */
  readonly idempotencyKeyTtlMs: number;
  /**
   * HTTP_BODY_MAX_BYTES, default 4 MiB: the largest request body; at least PAYLOAD_MAX_BYTES + 64 KiB, so a
   * task with the largest payload always fits. Larger bodies are refused with 413.
   */
  readonly bodyMaxBytes: number;
}

/** Where the Kubernetes scaler and the autoscaler's Lease live; the Helm chart sets all of these. */
export interface KubernetesConfig {
  /** KUBERNETES_SERVICE_HOST, set in every pod: with the service account token it means "in a cluster". */
  readonly serviceHost?: string;
  /** KUBECONFIG: a kubeconfig file, for running outside a cluster (tests, a laptop); wins over in-cluster. */
  readonly kubeconfig?: string;
  /** POD_NAMESPACE; default the service account's namespace, else the kubeconfig context's, else "default". */
  readonly namespace?: string;
  /** WORKER_DEPLOYMENT, default "taskmaster-worker": the only Deployment scaled. */
  readonly workerDeployment: string;
  /**
   * WORKER_SELECTOR, default "app.kubernetes.io/name=taskmaster,app.kubernetes.io/component=worker": a pod
   * must carry every one of these labels to be listed or killed.
   */
  readonly workerSelector: Labels;
  /** LEASE_NAME, default "taskmaster-autoscaler": the coordination.k8s.io Lease the autoscalers elect a leader with. */
  readonly leaseName: string;
  /** POD_NAME, else HOSTNAME (the pod name in Kubernetes), else random: this scheduler's holderIdentity. */
  readonly identity: string;
}

/** The opt-in autoscaler (docs/scaling.md). */
export interface AutoscalerConfig {
  /** AUTOSCALER_ENABLED, default false. */
  readonly enabled: boolean;
  /** AUTOSCALER_MIN_REPLICAS, default 1. */
  readonly minReplicas: number;
  /** AUTOSCALER_MAX_REPLICAS, default 10; at least AUTOSCALER_MIN_REPLICAS. */
  readonly maxReplicas: number;
  /** AUTOSCALER_COOLDOWN, default 60 s: the least time between two changes. */
  readonly cooldownMs: number;
  /** AUTOSCALER_TASKS_PER_WORKER, default 5 (WORKER_POOL_SIZE's default): the running + queued tasks one worker is sized for. */
  readonly tasksPerWorker: number;
  /** AUTOSCALER_INTERVAL, default 5 s: how often the autoscaler looks. */
  readonly intervalMs: number;
}

/** TaskSchedule resources reconciled into schedules by the scheduler (docs/schedules.md). */
export interface TaskSchedulesConfig {
  /** TASK_SCHEDULES_ENABLED, default false. */
  readonly enabled: boolean;
  /** TASK_SCHEDULES_NAMESPACE: whose TaskSchedules; default the scheduler's namespace (POD_NAMESPACE). The Lease lives there too. */
  readonly namespace?: string;
  /** TASK_SCHEDULES_LEASE_NAME, default "taskmaster-taskschedules": the Lease the replicas elect the one reconciler with. */
  readonly leaseName: string;
  /** TASK_SCHEDULES_RESYNC, default 60 s: how often every resource is listed again and schedules whose resource is gone are deleted. */
  readonly resyncMs: number;
  /** TASK_SCHEDULES_STATUS_INTERVAL, default 10 s: how often nextRunAt, lastRunAt and lastResult are refreshed from the database. */
  readonly statusIntervalMs: number;
}

/** How long finished tasks are kept, per state (0 keeps them forever); pruned by the coordinators. */
export interface RetentionConfig {
  /** TASK_RETENTION_SUCCEEDED, default 7 days. */
  readonly succeededMs: number;
  /** TASK_RETENTION_FAILED, default 30 days: failed tasks are the dead letters, kept longer to redrive. */
  readonly failedMs: number;
  /** TASK_RETENTION_CANCELLED, default 7 days. */
  readonly cancelledMs: number;
  /** EVENTS_RETENTION, default 7 days: events of tasks still kept go too (and with them the attempts' history). */
  readonly eventsMs: number;
}

export interface CoordinatorConfig {
  /** COORDINATOR_PORT, default 8080. */
  readonly port: number;
  /** HEARTBEAT_INTERVAL, default 5 s: how often workers are expected to beat. */
  readonly heartbeatIntervalMs: number;
  /** MAX_MISSED_HEARTBEATS, default 3: a worker silent this many intervals is evicted. */
  readonly maxMissedHeartbeats: number;
  /** LEASE_DURATION, default 30 s: how long a dispatched task is held without a heartbeat from its worker. */
  readonly leaseMs: number;
  /** POLL_INTERVAL, default 5 s: the fallback scan in case a notification is lost. */
  readonly pollIntervalMs: number;
  /**
   * HOLDINGS_GRACE, default 5 s: how long a task sent to a worker may be missing from the holdings its
   * heartbeats list before it is handed back (it may have crossed the heartbeat on the way).
   */
  readonly holdingsGraceMs: number;
  /** DEFAULT_WORKER_SLOTS, default 5: assumed for old workers that do not report slots. */
  readonly defaultWorkerSlots: number;
  /** DISPATCH_BATCH_SIZE, default 500: most tasks claimed by one query. */
  readonly dispatchBatchSize: number;
  /**
   * DISPATCH_LOOKAHEAD, default 250 ms: tasks due this soon are sent ahead and held by their worker until
   * due (never started early); 0 = claim only due tasks. docs/performance.md has why.
   */
  readonly dispatchLookaheadMs: number;
  /** RETRY_BACKOFF_BASE, default 1 s, doubled per attempt with jitter, capped at RETRY_BACKOFF_MAX (60 s). */
  readonly retryBackoffBaseMs: number;
  readonly retryBackoffMaxMs: number;
  /**
   * TASK_TIMEOUT_GRACE, default 30 s: an attempt still held this long after its task's timeout_seconds ran
   * out is failed by the coordinator, and its worker told to drop it (the worker normally reports it first).
   */
  readonly taskTimeoutGraceMs: number;
  /** TASK_RETENTION_*, EVENTS_RETENTION: what this coordinator prunes, once a minute. */
  readonly retention: RetentionConfig;
  /** IDEMPOTENCY_KEY_TTL, default 24 h, for SubmitTask's keys (as the scheduler's). */
  readonly idempotencyKeyTtlMs: number;
  /**
   * SCHEDULES, default none: recurring schedules kept in configuration (the chart's `schedules`), a JSON array
   * of POST /api/schedules bodies, each with a key. Checked and saved by the coordinator when it starts.
   */
  readonly schedulesJson: string | undefined;
  /** METRICS_PORT, default 9464: serves /metrics and /healthz (0 = any free port, logged). */
  readonly metricsPort: number;
  /**
   * GRPC_PLAINTEXT_PORT, default none: a second, plaintext port beside a TLS one, for original-contract workers
   * (which cannot speak TLS); only worker calls are served there without credentials.
   */
  readonly plaintextPort?: number;
  /** API_TOKENS and API_TOKEN, as the scheduler's: SubmitTask and ListWorkers take them in `authorization` metadata. */
  readonly apiTokens: readonly ApiTokenConfig[];
}

/** The shipped worker's built-in `http` task type (docs/builtin-tasks.md); fields as createHttpTask takes them. */
export interface HttpTaskConfig {
  /** HTTP_ALLOW_HOSTS, default none (any host): host names and "*.example.com" wildcards a request may reach. */
  readonly allowHosts: readonly string[];
  /** TASK_OUTPUT_MAX_BYTES, default 64 KiB: the most response body bytes kept in the result. */
  readonly maxBodyBytes: number;
  /** HTTP_MAX_REDIRECTS, default 5. */
  readonly maxRedirects: number;
  /** HTTP_TIMEOUT, default 30 s: a request's limit when its payload sets no timeout_ms. */
  readonly defaultTimeoutMs: number;
}

/** The shipped worker's built-in `shell` task type (docs/builtin-tasks.md); fields as createShellTask takes them. */
export interface ShellTaskConfig {
  /** SHELL_ALLOWLIST, default none (shell disabled): executable names or absolute paths argv[0] may be. */
  readonly allowlist: readonly string[];
  /** TASK_OUTPUT_MAX_BYTES, default 64 KiB: the most bytes kept of stdout and of stderr, each. */
  readonly maxOutputBytes: number;
  /** SHELL_TIMEOUT, default 5 min: a command's limit when its payload sets no timeout_ms. */
  readonly defaultTimeoutMs: number;
  /** SHELL_KILL_GRACE, default 5 s: between SIGTERM and SIGKILL to a stopped command's process group. */
  readonly killGraceMs: number;
}

export interface WorkerConfig {
  /**
   * WORKER_PORT, default 0 (any free port): used only against an original-contract coordinator (no Connect),
   * which dials its workers; against ours the worker dials out and opens no gRPC port.
   */
  readonly port: number;
  /** WORKER_ADDRESS, default "127.0.0.1": the host (or host:port) an original-contract coordinator dials; as WORKER_PORT. */
  readonly address: string;
  /** COORDINATOR_ADDRESS, default "localhost:8080". */
  readonly coordinatorAddress: string;
  /** WORKER_POOL_SIZE, default 5 concurrent slots. */
  readonly poolSize: number;
  /** WORKER_QUEUES, default none (every queue): the queues this worker takes tasks from, as its worker pool's. */
  readonly queues: readonly string[];
  /** WORKER_TASKS, default none (every built-in type and command tasks): the built-in task types it runs. */
  readonly tasks: readonly string[];
  /** TASK_PROCESS_TIME, default 5 s: how long simulated work takes ("0.05", "50ms"). */
  readonly taskProcessTimeMs: number;
  /** HEARTBEAT_INTERVAL, default 5 s. */
  readonly heartbeatIntervalMs: number;
  /** WORKER_DRAIN_TIMEOUT, default 25 s: how long SIGTERM waits for running tasks. */
  readonly drainTimeoutMs: number;
  /**
   * TASK_TIMEOUT_DEFAULT, default none: how long an attempt may run when its task sets no timeout_seconds
   * (whole seconds, 1 s to a week); then it is aborted and reported failed.
   */
  readonly defaultTaskTimeoutSeconds: number | undefined;
  /** WORKER_ID, default random in 1..2^31-1. */
  readonly id: number;
  /** WORKER_NAME (or POD_NAME, HOSTNAME), default "worker-<id>". */
  readonly name: string;
  /** METRICS_PORT, default 9465: serves /metrics and /healthz (0 = any free port, logged; npm start's workers use 0). */
  readonly metricsPort: number;
  readonly http: HttpTaskConfig;
  readonly shell: ShellTaskConfig;
}

/** PEM files for gRPC's mutual TLS, as GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY name them. */
export interface GrpcTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** GRPC_TLS_SERVER_NAME: the name clients expect in the coordinator's certificate, when the address does not carry it. */
  readonly serverName?: string;
  /** GRPC_TLS_RELOAD, default 60 s: how often the files are re-read (cert-manager rotates them in place). */
  readonly reloadIntervalMs: number;
}

/** How every service speaks gRPC (docs/security.md). */
export interface GrpcConfig {
  /**
   * GRPC_TLS_CA, GRPC_TLS_CERT, GRPC_TLS_KEY: all three, or none. With them the coordinator serves TLS and
   * asks for client certificates, and the scheduler and workers dial it with theirs.
   */
  readonly tls?: GrpcTlsFiles;
  /** GRPC_INSECURE, default false: plaintext gRPC on a non-loopback address, on purpose (a NetworkPolicy guards it). */
  readonly insecure: boolean;
  /** GRPC_MAX_MESSAGE_BYTES, default 4 MiB: the largest message a gRPC server accepts (RESOURCE_EXHAUSTED beyond). */
  readonly maxMessageBytes: number;
}

export interface Config {
  /** BIND_HOST, default "0.0.0.0": the interface every server listens on. */
  readonly bindHost: string;
  readonly grpc: GrpcConfig;
  /** LOG_LEVEL, default "info". */
  readonly logLevel: string;
  readonly database: DatabaseConfig;
  readonly scheduler: SchedulerConfig;
  readonly coordinator: CoordinatorConfig;
  readonly worker: WorkerConfig;
  readonly kubernetes: KubernetesConfig;
  readonly autoscaler: AutoscalerConfig;
  /** WORKER_POOLS, else one pool "default" from WORKER_DEPLOYMENT, WORKER_SELECTOR and AUTOSCALER_* (worker-pools.ts). */
  readonly workerPools: readonly WorkerPoolConfig[];
  readonly taskSchedules: TaskSchedulesConfig;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SCALERS: ScalerKind[] = ['auto', 'local', 'kubernetes', 'compose'];

/** Reads typed values from the environment, remembering every problem instead of stopping at the first. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /** A comma-separated list, entries trimmed, empty ones dropped; `fallback` when the variable is unset. */
  list(name: string, fallback = ''): string[] {
    return this.string(name, fallback).split(',').map((entry) => entry.trim()).filter(Boolean);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\s*-?\d+\s*$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name}="${raw}" must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A port, written "8080" or ":8080" as in the original compose files. */
  port(name: string, fallback: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const match = /^:?(\d{1,5})$/.exec(raw.trim());
    const value = match ? Number(match[1]) : NaN;
    if (!(value >= 0 && value <= 65535)) {
      this.problems.push(`${name}="${raw}" must be a port such as 8080 or :8080`);
      return fallback;
    }
    return value;
  }

  duration(name: string, fallbackMs: number, bareUnit: 'ms' | 's' = 's'): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallbackMs;
    const value = parseDuration(raw, bareUnit);
    if (value === undefined) {
      this.problems.push(`${name}="${raw}" must be a duration such as 5, 5s or 250ms`);
      return fallbackMs;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name}="${raw}" must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!allowed.includes(raw as T)) {
      this.problems.push(`${name}="${raw}" must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /** host:port, as COORDINATOR_ADDRESS is written. */
  address(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!/^[\w.-]+:\d{1,5}$|^\[[\da-fA-F:]+\]:\d{1,5}$/.test(value)) {
      this.problems.push(`${name}="${value}" must be host:port, such as coordinator:8080`);
    }
    return value;
  }
}

const TOKEN_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const SHA256_HEX = /^sha256:([0-9a-f]{64})$/;

/** API_TOKEN and API_TOKENS, as SHA-256 digests: the plain tokens are not kept. */
function readApiTokens(read: EnvReader): ApiTokenConfig[] {
  const tokens: ApiTokenConfig[] = [];
  const legacy = read.optional('API_TOKEN');
  if (legacy !== undefined) tokens.push({ role: 'operator', name: 'api-token', sha256: createHash('sha256').update(legacy).digest('hex') });
  for (const [i, entry] of read.list('API_TOKENS').entries()) {
    const [role, name, ...rest] = entry.split(':');
    const secret = rest.join(':');
    const where = `API_TOKENS entry ${i + 1}`;
    if (role !== 'viewer' && role !== 'operator') {
      read.problems.push(`${where} must be role:name:token with role viewer or operator (got role "${(role ?? '').slice(0, 20)}")`);
    } else if (!TOKEN_NAME.test(name ?? '')) {
      read.problems.push(`${where}: the name must be 1 to 64 letters, digits, ".", "_", "@" or "-"`);
    } else if (secret.startsWith('sha256:') && !SHA256_HEX.test(secret)) {
      read.problems.push(`${where}: sha256: must be followed by 64 lower-case hex digits`);
    } else if (!secret.startsWith('sha256:') && secret.length < 16) {
      read.problems.push(`${where}: the token must be at least 16 characters (or sha256:<hex digest>)`);
    } else {
      const hex = SHA256_HEX.exec(secret)?.[1];
      tokens.push({ role, name, sha256: hex ?? createHash('sha256').update(secret).digest('hex') });
    }
  }
  return tokens;
}

function readOidc(read: EnvReader): OidcConfig | undefined {
  const issuer = read.optional('OIDC_ISSUER');
  const audience = read.optional('OIDC_AUDIENCE');
  if (issuer === undefined && audience === undefined) return undefined;
  if (issuer === undefined || audience === undefined) {
    read.problems.push('OIDC_ISSUER and OIDC_AUDIENCE go together: a token is accepted only from that issuer and for that audience');
    return undefined;
  }
  if (!/^https?:\/\/[^\s]+$/.test(issuer)) read.problems.push(`OIDC_ISSUER="${issuer}" must be the issuer's http(s) URL`);
  return {
    issuer,
    audience,
    rolesClaim: read.string('OIDC_ROLES_CLAIM', 'roles'),
    viewerRoles: read.list('OIDC_VIEWER_ROLES', 'taskmaster-viewer'),
    operatorRoles: read.list('OIDC_OPERATOR_ROLES', 'taskmaster-operator'),
    nameClaim: read.string('OIDC_NAME_CLAIM', 'preferred_username'),
  };
}

function randomWorkerId(): number {
  return 1 + Math.floor(Math.random() * 0x7ffffffe);
}

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);

  const connectionString = read.optional('DATABASE_URL');
  if (connectionString !== undefined && !/^postgres(ql)?:\/\//.test(connectionString)) {
    read.problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const database: DatabaseConfig = {
    connectionString,
    host: read.string('POSTGRES_HOST', 'localhost'),
    port: read.port('POSTGRES_PORT', 5432),
    database: read.string('POSTGRES_DB', 'scheduler'),
    user: read.string('POSTGRES_USER', 'postgres'),
    password: read.string('POSTGRES_PASSWORD', 'postgres'),
    poolSize: read.int('DB_POOL_SIZE', 20, 1, 1000),
    connectTimeoutMs: read.duration('DB_CONNECT_TIMEOUT', 2000),
    idleTimeoutMs: read.duration('DB_IDLE_TIMEOUT', 30_000),
    statementTimeoutMs: read.duration('DB_STATEMENT_TIMEOUT', 30_000),
    queryTimeoutMs: read.duration('DB_QUERY_TIMEOUT', 35_000),
    keepAliveIdleMs: read.duration('DB_KEEPALIVE_IDLE', 10_000),
    ...readDatabaseSecurity(read),
  };

  // The server should cancel a slow statement before the client gives up on its connection.
  if (database.statementTimeoutMs > 0 && database.queryTimeoutMs > 0 && database.queryTimeoutMs <= database.statementTimeoutMs) {
    read.problems.push(`DB_QUERY_TIMEOUT (${database.queryTimeoutMs} ms) must be longer than DB_STATEMENT_TIMEOUT (${database.statementTimeoutMs} ms), or 0`);
  }

  const heartbeatIntervalMs = read.duration('HEARTBEAT_INTERVAL', 5000);
  // One variable with a default per service, so a coordinator and a worker on one host do not collide.
  // The scheduler serves /metrics on its own HTTP port and ignores it.
  const metricsPort = read.optional('METRICS_PORT') === undefined ? undefined : read.port('METRICS_PORT', 0);
  const coordinatorAddress = read.address('COORDINATOR_ADDRESS', 'localhost:8080');

  const retention: RetentionConfig = {
    succeededMs: read.duration('TASK_RETENTION_SUCCEEDED', 7 * 86_400_000),
    failedMs: read.duration('TASK_RETENTION_FAILED', 30 * 86_400_000),
    cancelledMs: read.duration('TASK_RETENTION_CANCELLED', 7 * 86_400_000),
    eventsMs: read.duration('EVENTS_RETENTION', 7 * 86_400_000),
  };
  const keyTtlMs = read.duration('IDEMPOTENCY_KEY_TTL', 86_400_000);
  if (keyTtlMs < 1000) read.problems.push('IDEMPOTENCY_KEY_TTL must be at least 1s');
  const apiTokens = readApiTokens(read);
  const scheduler: SchedulerConfig = {
    port: read.port('SCHEDULER_PORT', 8081),
    coordinatorAddress,
    coordinatorsAddress: read.optional('COORDINATORS_ADDRESS') === undefined ? coordinatorAddress : read.address('COORDINATORS_ADDRESS', coordinatorAddress),
    apiToken: read.optional('API_TOKEN'),
    apiTokens,
    coordinatorToken: read.optional('COORDINATOR_TOKEN'),
    auth: read.oneOf('AUTH', 'token', ['token', 'none'] as const),
    metricsAuth: read.oneOf('METRICS_AUTH', 'none', ['token', 'none'] as const),
    oidc: readOidc(read),
    allowedHosts: read.optional('ALLOWED_HOSTS') === undefined ? undefined : read.list('ALLOWED_HOSTS').map((host) => host.toLowerCase()),
    rateLimitPerMinute: read.int('HTTP_RATE_LIMIT', 0, 0, 1_000_000),
    trustProxy: read.optional('TRUST_PROXY'),
    sseMaxClients: read.int('SSE_MAX_CLIENTS', 1000, 1, 100_000),
    sseMaxResume: read.int('SSE_MAX_RESUME', 100_000, 100, 10_000_000),
    sseKeepAliveMs: read.duration('SSE_KEEPALIVE', 15_000),
    scaler: read.oneOf('SCALER', 'auto', SCALERS),
    localWorkers: read.int('LOCAL_WORKERS', 0, 0, 50),
    composeFile: read.string('DOCKER_COMPOSE_FILE', 'docker-compose.yml'),
    composeProject: read.optional('COMPOSE_PROJECT_NAME'),
    payloadMaxBytes: read.int('PAYLOAD_MAX_BYTES', 256 * 1024, 1, 64 * 1024 * 1024),
    idempotencyKeyTtlMs: keyTtlMs,
    retention,
    bodyMaxBytes: read.int('HTTP_BODY_MAX_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  };
  if (scheduler.bodyMaxBytes < scheduler.payloadMaxBytes + 64 * 1024) {
    read.problems.push(`HTTP_BODY_MAX_BYTES=${scheduler.bodyMaxBytes} must be at least PAYLOAD_MAX_BYTES + 65536 (${scheduler.payloadMaxBytes + 64 * 1024})`);
  }

  const coordinator: CoordinatorConfig = {
    port: read.port('COORDINATOR_PORT', 8080),
    heartbeatIntervalMs,
    maxMissedHeartbeats: read.int('MAX_MISSED_HEARTBEATS', 3, 1, 100),
    leaseMs: read.duration('LEASE_DURATION', 30_000),
    pollIntervalMs: read.duration('POLL_INTERVAL', 5000),
    holdingsGraceMs: read.duration('HOLDINGS_GRACE', 5000),
    defaultWorkerSlots: read.int('DEFAULT_WORKER_SLOTS', 5, 1, 10_000),
    dispatchBatchSize: read.int('DISPATCH_BATCH_SIZE', 500, 1, 10_000),
    dispatchLookaheadMs: read.duration('DISPATCH_LOOKAHEAD', 250, 'ms'),
    retryBackoffBaseMs: read.duration('RETRY_BACKOFF_BASE', 1000),
    retryBackoffMaxMs: read.duration('RETRY_BACKOFF_MAX', 60_000),
    retention,
    taskTimeoutGraceMs: read.duration('TASK_TIMEOUT_GRACE', 30_000),
    idempotencyKeyTtlMs: keyTtlMs,
    schedulesJson: read.optional('SCHEDULES'),
    metricsPort: metricsPort ?? 9464,
    plaintextPort: read.optional('GRPC_PLAINTEXT_PORT') === undefined ? undefined : read.port('GRPC_PLAINTEXT_PORT', 0),
    apiTokens,
  };

  const id = read.int('WORKER_ID', 0, 0, 0xffffffff) || randomWorkerId();
  // The built-in http and shell task types: lists are comma-separated, and an empty list means "any host" for
  // HTTP_ALLOW_HOSTS but "disabled" for SHELL_ALLOWLIST (docs/builtin-tasks.md says why).
  const allowHosts = read.list('HTTP_ALLOW_HOSTS');
  for (const host of allowHosts.filter((entry) => !/^(\*\.)?[\w-]+(\.[\w-]+)*\.?$|^\[?[\da-f.]*:[\da-f:.]*\]?$/i.test(entry))) {
    read.problems.push(`HTTP_ALLOW_HOSTS entry "${host}" must be a host name, an IP address or a wildcard such as *.example.com`);
  }
  const shellAllowlist = read.list('SHELL_ALLOWLIST');
  for (const entry of shellAllowlist.filter((item) => item.includes('/') && !item.startsWith('/'))) {
    read.problems.push(`SHELL_ALLOWLIST entry "${entry}" must be an executable name (such as curl) or an absolute path`);
  }
  const outputMaxBytes = read.int('TASK_OUTPUT_MAX_BYTES', 65_536, 1024, 16 * 1024 * 1024);
  const taskTimeout = (name: string, fallbackMs: number): number => {
    const value = read.duration(name, fallbackMs);
    if (value < 1 || value > 86_400_000) read.problems.push(`${name} must be from 1ms to 1 day`);
    return value;
  };
  const defaultTaskTimeout = (): number | undefined => {
    if (read.optional('TASK_TIMEOUT_DEFAULT') === undefined) return undefined;
    const ms = read.duration('TASK_TIMEOUT_DEFAULT', 1000);
    if (ms % 1000 !== 0 || ms < 1000 || ms > 7 * 86_400_000) read.problems.push('TASK_TIMEOUT_DEFAULT must be whole seconds from 1s to 7 days');
    return Math.round(ms / 1000);
  };
  const worker: WorkerConfig = {
    port: read.port('WORKER_PORT', 0),
    address: read.string('WORKER_ADDRESS', '127.0.0.1'),
    coordinatorAddress,
    poolSize: read.int('WORKER_POOL_SIZE', 5, 1, 10_000),
    queues: checkNameList('WORKER_QUEUES', read.list('WORKER_QUEUES'), read.problems),
    tasks: checkNameList('WORKER_TASKS', read.list('WORKER_TASKS'), read.problems),
    taskProcessTimeMs: read.duration('TASK_PROCESS_TIME', 5000),
    heartbeatIntervalMs,
    drainTimeoutMs: read.duration('WORKER_DRAIN_TIMEOUT', 25_000),
    defaultTaskTimeoutSeconds: defaultTaskTimeout(),
    id,
    name: read.optional('WORKER_NAME') ?? read.optional('POD_NAME') ?? `worker-${id}`,
    metricsPort: metricsPort ?? 9465,
    http: {
      allowHosts,
      maxBodyBytes: outputMaxBytes,
      maxRedirects: read.int('HTTP_MAX_REDIRECTS', 5, 0, 20),
      defaultTimeoutMs: taskTimeout('HTTP_TIMEOUT', 30_000),
    },
    shell: {
      allowlist: shellAllowlist,
      maxOutputBytes: outputMaxBytes,
      defaultTimeoutMs: taskTimeout('SHELL_TIMEOUT', 300_000),
      killGraceMs: read.duration('SHELL_KILL_GRACE', 5000),
    },
  };

  const taskSchedules: TaskSchedulesConfig = {
    enabled: read.boolean('TASK_SCHEDULES_ENABLED', false),
    namespace: read.optional('TASK_SCHEDULES_NAMESPACE'),
    leaseName: read.string('TASK_SCHEDULES_LEASE_NAME', 'taskmaster-taskschedules'),
    resyncMs: read.duration('TASK_SCHEDULES_RESYNC', 60_000),
    statusIntervalMs: read.duration('TASK_SCHEDULES_STATUS_INTERVAL', 10_000),
  };
  if (taskSchedules.resyncMs < 1000) read.problems.push('TASK_SCHEDULES_RESYNC must be at least 1s');
  if (taskSchedules.statusIntervalMs < 100) read.problems.push('TASK_SCHEDULES_STATUS_INTERVAL must be at least 100ms');

  const selectorText = read.string('WORKER_SELECTOR', 'app.kubernetes.io/name=taskmaster,app.kubernetes.io/component=worker');
  const selector = parseLabelSelector(selectorText);
  if ('problem' in selector) read.problems.push(`WORKER_SELECTOR="${selectorText}" ${selector.problem}`);
  const kubernetes: KubernetesConfig = {
    serviceHost: read.optional('KUBERNETES_SERVICE_HOST'),
    kubeconfig: read.optional('KUBECONFIG'),
    namespace: read.optional('POD_NAMESPACE'),
    workerDeployment: read.string('WORKER_DEPLOYMENT', 'taskmaster-worker'),
    workerSelector: 'labels' in selector ? selector.labels : {},
    leaseName: read.string('LEASE_NAME', 'taskmaster-autoscaler'),
    identity: read.optional('POD_NAME') ?? read.optional('HOSTNAME') ?? `scheduler-${randomWorkerId().toString(36)}`,
  };

  const autoscaler: AutoscalerConfig = {
    enabled: read.boolean('AUTOSCALER_ENABLED', false),
    minReplicas: read.int('AUTOSCALER_MIN_REPLICAS', 1, 0, 1000),
    maxReplicas: read.int('AUTOSCALER_MAX_REPLICAS', 10, 1, 1000),
    cooldownMs: read.duration('AUTOSCALER_COOLDOWN', 60_000),
    tasksPerWorker: read.int('AUTOSCALER_TASKS_PER_WORKER', 5, 1, 10_000),
    intervalMs: read.duration('AUTOSCALER_INTERVAL', 5000),
  };
  if (autoscaler.minReplicas > autoscaler.maxReplicas) {
    read.problems.push(`AUTOSCALER_MIN_REPLICAS=${autoscaler.minReplicas} must not exceed AUTOSCALER_MAX_REPLICAS=${autoscaler.maxReplicas}`);
  }
  if (autoscaler.intervalMs < 100) read.problems.push(`AUTOSCALER_INTERVAL must be at least 100ms`);
  const workerPools = readWorkerPools(env, () => singlePool(kubernetes.workerDeployment, kubernetes.workerSelector, autoscaler), read.problems);

  const tlsFiles = { ca: read.optional('GRPC_TLS_CA'), cert: read.optional('GRPC_TLS_CERT'), key: read.optional('GRPC_TLS_KEY') };
  const tlsGiven = Object.values(tlsFiles).filter((file) => file !== undefined).length;
  if (tlsGiven > 0 && tlsGiven < 3) read.problems.push('GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY go together: set all three (mutual TLS) or none');
  const grpc: GrpcConfig = {
    tls: tlsGiven === 3 ? {
      ca: tlsFiles.ca!,
      cert: tlsFiles.cert!,
      key: tlsFiles.key!,
      serverName: read.optional('GRPC_TLS_SERVER_NAME'),
      reloadIntervalMs: read.duration('GRPC_TLS_RELOAD', 60_000),
    } : undefined,
    insecure: read.boolean('GRPC_INSECURE', false),
    maxMessageBytes: read.int('GRPC_MAX_MESSAGE_BYTES', 4 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024),
  };
  if (grpc.tls && grpc.tls.reloadIntervalMs < 100) read.problems.push('GRPC_TLS_RELOAD must be at least 100ms');
  if (coordinator.plaintextPort !== undefined && !grpc.tls) read.problems.push('GRPC_PLAINTEXT_PORT is a second port beside a TLS one: set GRPC_TLS_* too, or serve plaintext on COORDINATOR_PORT with GRPC_INSECURE=true');

  const config: Config = {
    bindHost: read.string('BIND_HOST', '0.0.0.0'),
    grpc,
    logLevel: read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    database,
    scheduler,
    coordinator,
    worker,
    kubernetes,
    autoscaler,
    workerPools,
    taskSchedules,
  };

  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}

export type DatabaseSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly DatabaseSslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** DATABASE_SSLMODE, DATABASE_SSL_CA and MIGRATE_GRANT_ROLE (docs/configuration.md, "Database"). */
function readDatabaseSecurity(read: EnvReader): Pick<DatabaseConfig, 'sslMode' | 'sslCaFile' | 'migrateGrantRole' | 'migrateGrantRolePassword'> {
  const sslCaFile = read.optional('DATABASE_SSL_CA');
  const given = read.optional('DATABASE_SSLMODE') === undefined ? undefined : read.oneOf('DATABASE_SSLMODE', 'verify-full', SSL_MODES);
  const sslMode = given ?? (sslCaFile === undefined ? undefined : 'verify-full');
  if (sslMode === 'disable' && sslCaFile !== undefined) read.problems.push('DATABASE_SSL_CA is set but DATABASE_SSLMODE=disable turns TLS off');
  // libpq refuses verify-ca without a root certificate too: against the public CAs it would accept any server's.
  if (sslMode === 'verify-ca' && sslCaFile === undefined) read.problems.push('DATABASE_SSLMODE=verify-ca needs DATABASE_SSL_CA');
  const migrateGrantRole = read.optional('MIGRATE_GRANT_ROLE');
  const problem = migrateGrantRole === undefined ? undefined : roleNameProblem(migrateGrantRole);
  if (problem) read.problems.push(`MIGRATE_GRANT_ROLE="${migrateGrantRole!.slice(0, 70)}" ${problem}`);
  const migrateGrantRolePassword = read.optional('MIGRATE_GRANT_ROLE_PASSWORD');
  if (migrateGrantRolePassword !== undefined && migrateGrantRole === undefined) read.problems.push('MIGRATE_GRANT_ROLE_PASSWORD needs MIGRATE_GRANT_ROLE');
  return { sslMode, sslCaFile, migrateGrantRole, migrateGrantRolePassword };
}
