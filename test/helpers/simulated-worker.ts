import * as grpc from '@grpc/grpc-js';
import {
  createCoordinatorClient, type CoordinatorMessage, type CoordinatorServiceClient, type HeartbeatRequest, type HeldTask,
  type TaskRequest, type TaskResponse, type UpdateTaskStatusRequest, type WorkerMessage,
} from '../../services/common/src/grpc/contract';

/*
 * A worker played in the test process on a raw Connect stream, for the randomised fault test
 * (test/e2e/lifecycle-faults.test.ts). It runs each task as a timed sleep, keyed by (task id, attempt), reports
 * STARTED and then COMPLETE or FAILED with its attempt, lists in every heartbeat what it holds (running, and
 * finished but not yet answered), and stops what the coordinator tells it to drop. Faults are methods: kill
 * (the stream is cancelled and nothing more is sent, as when the process dies), freeze and resume (see
 * freeze()), refusing tasks, breaking the stream before or after taking a `tasks` message, moving to another
 * coordinator, and resending an old report. Every execution records the intervals it really ran, so the test
 * can tell whether two attempts of a task ever ran at once.
 */

type ConnectCall = grpc.ClientDuplexStream<Partial<WorkerMessage>, CoordinatorMessage>;

/** One attempt of one task run by one worker, with the intervals (performance.now()) it was really running. */
export interface Execution {
  taskId: string;
  attempt: number;
  workerId: number;
  segments: { from: number; to: number | undefined }[];
  /** How it ended on the worker; undefined while it runs. */
  outcome?: 'COMPLETE' | 'FAILED' | 'dropped' | 'killed';
}

/** What the simulated workers of one run share: timings, task behaviour and the record of executions. */
export interface SimulatedWorld {
  heartbeatMs: number;
  /** How long a task runs, from its command. */
  durationMs(command: string): number;
  /** Whether this run of the task fails, asked when it finishes. */
  fails(taskId: string, command: string): boolean;
  /** A FAILED report for the task applied. */
  failureApplied(taskId: string): void;
  executions: Execution[];
  /** Reports answered as applied on a replay: a late or duplicated report that changed something. */
  appliedReplays: UpdateTaskStatusRequest[];
  /** Tasks refused because the worker was full: the coordinator sent more than the worker's free slots. */
  overbooked: { workerId: number; taskId: string; attempt: number; held: number; slots: number }[];
}

interface Run {
  execution: Execution;
  command: string;
  timer: NodeJS.Timeout | undefined;
  /** performance.now() by which it finishes, while running; the time left, while frozen. */
  endsAt: number;
  remainingMs: number;
}

interface SentReports {
  updates: UpdateTaskStatusRequest[];
  replay: boolean;
}

const key = (taskId: string, attempt: number) => `${taskId.toLowerCase()}/${attempt}`;

export class SimulatedWorker {
  state: 'live' | 'frozen' | 'dead' = 'live';
  /** Refuse this many of the next tasks sent. */
  refuseNext = 0;
  /** Break the stream at the next `tasks` message: before taking them, or after taking them but before answering. */
  breakAtNextTasks: 'before' | 'after' | undefined;
  /** Attempts running. */
  private readonly runs = new Map<string, Run>();
  /** Attempts finished whose report is not answered yet: still held, so still listed. */
  private readonly finished = new Map<string, Execution>();
  /** Reports to send (or resend on a new stream) until answered. */
  private outbox: UpdateTaskStatusRequest[] = [];
  private readonly inFlight = new Map<number, SentReports>();
  /** Reports answered, for replays. */
  readonly answered: UpdateTaskStatusRequest[] = [];
  private call: ConnectCall | undefined;
  private seq = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly frozenInbox: CoordinatorMessage[] = [];
  private readonly clients = new Map<string, CoordinatorServiceClient>();
  /** Whether the stream of the current call has had its first heartbeat (reports may follow). */
  private introduced = false;

  constructor(
    readonly id: number,
    readonly slots: number,
    /** Where its coordinator is now (it changes when the coordinator is restarted or the worker moves). */
    private address: () => string,
    private readonly world: SimulatedWorld,
  ) {}

  start(): void {
    this.connect();
    this.heartbeatTimer = setInterval(() => this.beat(), this.world.heartbeatMs);
  }

  /** The (task, attempt) pairs it holds, as its heartbeats list them. */
  held(): HeldTask[] {
    return [...this.runs.values(), ...this.finished.values()].map((x) => {
      const execution = 'execution' in x ? x.execution : x;
      return { task_id: execution.taskId, attempt: execution.attempt };
    });
  }

  holds(taskId: string, attempt: number): boolean {
    const k = key(taskId, attempt);
    return this.runs.has(k) || this.finished.has(k);
  }

  /** The process dies: the stream is cancelled, nothing is said, nothing runs any more. */
  kill(): void {
    if (this.state === 'dead') return;
    if (this.state === 'live') this.pauseRuns();
    this.state = 'dead';
    for (const run of this.runs.values()) run.execution.outcome = 'killed';
    this.runs.clear();
    this.finished.clear();
    this.stopTimers();
    this.call?.cancel();
    this.call = undefined;
  }

  /**
   * SIGSTOP, simulated in process: the worker stops beating, running its tasks and reading its stream, but
   * the stream stays open and what the coordinator sends waits for it, as a stopped process's socket
   * buffers it. In-process simulation stands for a real SIGSTOP because the coordinator only sees the
   * stream, and a stopped process and this one look the same on it (apart from HTTP/2 pings, which the test
   * process still answers); it lets the test record exactly when each attempt was really running.
   */
  freeze(): void {
    if (this.state !== 'live') return;
    this.state = 'frozen';
    this.pauseRuns();
  }

  resume(): void {
    if (this.state !== 'frozen') return;
    this.state = 'live';
    const now = performance.now();
    for (const run of this.runs.values()) {
      run.execution.segments.push({ from: now, to: undefined });
      this.schedule(run, run.remainingMs);
    }
    if (!this.call) this.connect();
    for (const message of this.frozenInbox.splice(0)) this.receive(message);
    // A stopped process's timer fires as soon as it continues.
    this.beat();
  }

  /** Breaks the stream and dials again (to `address` if given: the worker moved to another coordinator). */
  reconnect(address?: () => string): void {
    if (this.state === 'dead') return;
    if (address) this.address = address;
    this.dropCall();
    this.connect();
  }

  /** Resends an answered report (a late or duplicated report); false when it has none. */
  replay(pick: number): boolean {
    if (this.state !== 'live' || !this.call || !this.introduced || this.answered.length === 0) return false;
    const update = this.answered[pick % this.answered.length];
    this.send([update], true);
    return true;
  }

  /** Ends the test: stream closed, timers stopped; running executions end where they are. */
  close(): void {
    if (this.state === 'live') this.pauseRuns();
    this.state = 'dead';
    this.stopTimers();
    this.call?.cancel();
    this.call = undefined;
    for (const client of this.clients.values()) client.close();
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    for (const run of this.runs.values()) clearTimeout(run.timer);
  }

  /** Stops the clocks of the running attempts, closing their running intervals. */
  private pauseRuns(): void {
    const now = performance.now();
    for (const run of this.runs.values()) {
      clearTimeout(run.timer);
      run.remainingMs = Math.max(0, run.endsAt - now);
      const segment = run.execution.segments.at(-1);
      if (segment && segment.to === undefined) segment.to = now;
    }
  }

  private client(): CoordinatorServiceClient {
    const address = this.address();
    let client = this.clients.get(address);
    if (!client) {
      client = createCoordinatorClient(address);
      this.clients.set(address, client);
    }
    return client;
  }

  private connect(): void {
    clearTimeout(this.reconnectTimer);
    const call = (this.client() as unknown as { Connect: () => ConnectCall }).Connect();
    this.call = call;
    this.introduced = false;
    call.on('data', (message: CoordinatorMessage) => {
      if (call !== this.call) return;
      if (this.state === 'frozen') this.frozenInbox.push(message);
      else if (this.state === 'live') this.receive(message);
    });
    const ended = () => {
      if (call !== this.call) return;
      this.dropCall();
      // Dial again shortly, as the SDK does; a frozen worker dials when it resumes.
      if (this.state === 'live') this.reconnectTimer = setTimeout(() => this.state === 'live' && !this.call && this.connect(), 100);
    };
    call.on('error', ended);
    call.on('end', ended);
    call.on('status', ended);
    this.beat();
  }

  /** Forgets the current stream; what it had not answered is sent again on the next one. */
  private dropCall(): void {
    const call = this.call;
    this.call = undefined;
    this.frozenInbox.length = 0;
    for (const sent of this.inFlight.values()) if (!sent.replay) this.outbox.push(...sent.updates);
    this.inFlight.clear();
    call?.cancel();
  }

  private write(message: Partial<WorkerMessage>): void {
    if (!this.call || this.state !== 'live') return;
    try {
      this.call.write(message);
    } catch {
      // The stream is ending; its 'error' or 'end' dials again.
    }
  }

  private beat(): void {
    if (this.state !== 'live' || !this.call) return;
    const heartbeat: Partial<HeartbeatRequest> = {
      workerId: this.id, name: `sim-${this.id}`, slots_total: this.slots, reports_held: true, delayed_start: false,
      held: this.held(), handles: [], command_tasks: true,
    };
    this.write({ seq: ++this.seq, heartbeat: heartbeat as HeartbeatRequest });
    if (!this.introduced) {
      this.introduced = true;
      this.flush();
    }
  }

  private receive(message: CoordinatorMessage): void {
    if (message.body === 'tasks' && message.tasks) this.take(message.seq, message.tasks.tasks);
    else if (message.body === 'heartbeat' && message.heartbeat) this.dropAll(message.heartbeat.drop);
    else if (message.body === 'drop' && message.drop) this.dropAll(message.drop.tasks);
    else if (message.body === 'reports' && message.reports) this.answeredReports(message.seq, message.reports.results);
  }

  private take(seq: number, tasks: TaskRequest[]): void {
    const breaking = this.breakAtNextTasks;
    this.breakAtNextTasks = undefined;
    if (breaking === 'before') {
      this.reconnect();
      return;
    }
    const results: TaskResponse[] = tasks.map((task) => this.accept(task));
    if (breaking === 'after') {
      // Took them, but the answer never reaches the coordinator: its send fails.
      this.reconnect();
      return;
    }
    this.write({ seq, accepted: { results } });
  }

  private accept(task: TaskRequest): TaskResponse {
    const k = key(task.task_id, task.attempt);
    if (this.runs.has(k) || this.finished.has(k)) return { task_id: task.task_id, success: true, message: 'already held' };
    if (this.refuseNext > 0) {
      this.refuseNext--;
      return { task_id: task.task_id, success: false, message: 'refused (fault injected)' };
    }
    // Slots are what runs, as in the SDK worker (holdings.ts): an attempt that finished frees its slot at once and
    // stays listed, without a slot, until its report is answered. The coordinator frees the slot when it has
    // recorded the report, so a new task can arrive before that answer does; counting finished attempts here
    // flagged that as overbooking (seen once in ~15 runs).
    const held = this.runs.size;
    if (held >= this.slots) {
      this.world.overbooked.push({ workerId: this.id, taskId: task.task_id, attempt: task.attempt, held, slots: this.slots });
      return { task_id: task.task_id, success: false, message: 'no free slot' };
    }
    const now = performance.now();
    const execution: Execution = { taskId: task.task_id.toLowerCase(), attempt: task.attempt, workerId: this.id, segments: [{ from: now, to: undefined }] };
    this.world.executions.push(execution);
    const run: Run = { execution, command: task.data, timer: undefined, endsAt: 0, remainingMs: 0 };
    this.runs.set(k, run);
    this.schedule(run, this.world.durationMs(task.data));
    this.report({ status: 'STARTED', execution, atMs: Date.now() });
    return { task_id: task.task_id, success: true, message: '' };
  }

  private schedule(run: Run, ms: number): void {
    run.endsAt = performance.now() + ms;
    run.timer = setTimeout(() => this.finish(run), ms);
  }

  private finish(run: Run): void {
    const { execution } = run;
    const k = key(execution.taskId, execution.attempt);
    if (this.runs.get(k) !== run || this.state !== 'live') return;
    this.runs.delete(k);
    execution.segments.at(-1)!.to = performance.now();
    const failed = this.world.fails(execution.taskId, run.command);
    execution.outcome = failed ? 'FAILED' : 'COMPLETE';
    this.finished.set(k, execution);
    this.report({ status: execution.outcome, execution, atMs: Date.now() });
  }

  private dropAll(drop: HeldTask[]): void {
    const now = performance.now();
    for (const task of drop) {
      const k = key(task.task_id, task.attempt);
      const run = this.runs.get(k);
      if (run) {
        clearTimeout(run.timer);
        const segment = run.execution.segments.at(-1);
        if (segment && segment.to === undefined) segment.to = now;
        run.execution.outcome = 'dropped';
        this.runs.delete(k);
      }
      this.finished.delete(k);
      // Reports of a dropped attempt are not sent: the database no longer gives it to this worker.
      this.outbox = this.outbox.filter((u) => key(u.task_id, u.attempt) !== k);
    }
  }

  private report(event: { status: 'STARTED' | 'COMPLETE' | 'FAILED'; execution: Execution; atMs: number }): void {
    const { execution } = event;
    this.outbox.push({
      task_id: execution.taskId, status: event.status as UpdateTaskStatusRequest['status'], attempt: execution.attempt,
      worker_id: this.id, at_ms: event.atMs, started_at: 0, completed_at: 0, failed_at: 0, started_at_ms: 0,
      error: event.status === 'FAILED' ? 'failed once (fault test)' : '', result: '', no_retry: false,
    });
    this.flush();
  }

  private flush(): void {
    if (this.state !== 'live' || !this.call || !this.introduced || this.outbox.length === 0) return;
    const updates = this.outbox;
    this.outbox = [];
    this.send(updates, false);
  }

  private send(updates: UpdateTaskStatusRequest[], replay: boolean): void {
    const seq = ++this.seq;
    this.inFlight.set(seq, { updates, replay });
    this.write({ seq, reports: { updates } });
  }

  private answeredReports(seq: number, results: { success: boolean }[]): void {
    const sent = this.inFlight.get(seq);
    if (!sent) return;
    this.inFlight.delete(seq);
    sent.updates.forEach((update, i) => {
      const applied = results[i]?.success === true;
      if (sent.replay) {
        if (applied) this.world.appliedReplays.push(update);
        return;
      }
      if (applied && update.status === 'FAILED') this.world.failureApplied(update.task_id);
      this.answered.push(update);
      if (update.status === 'STARTED') return;
      this.finished.delete(key(update.task_id, update.attempt));
    });
  }
}
