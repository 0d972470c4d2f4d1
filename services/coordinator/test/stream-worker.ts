import type * as grpc from '@grpc/grpc-js';
import type {
  CoordinatorMessage, CoordinatorServiceClient, HeartbeatRequest, HeldTask, TaskRequest, WorkerMessage,
} from '../../common/src/grpc/contract';

/** Opens a Connect stream on a coordinator client, as an SDK worker does. */
export function connectStream(client: CoordinatorServiceClient): grpc.ClientDuplexStream<Partial<WorkerMessage>, CoordinatorMessage> {
  return (client as unknown as { Connect: () => grpc.ClientDuplexStream<Partial<WorkerMessage>, CoordinatorMessage> }).Connect();
}

/** A worker on a Connect stream that accepts what it is sent (or refuses, per `accept`) and runs nothing. */
export class StreamWorker {
  readonly received: TaskRequest[] = [];
  private seq = 0;
  private readonly answers = new Map<number, (message: CoordinatorMessage) => void>();
  private readonly call: grpc.ClientDuplexStream<Partial<WorkerMessage>, CoordinatorMessage>;

  constructor(
    client: CoordinatorServiceClient,
    readonly id: number,
    private readonly base: Partial<HeartbeatRequest>,
    private readonly accept: (task: TaskRequest) => boolean = () => true,
  ) {
    this.call = connectStream(client);
    this.call.on('data', (message: CoordinatorMessage) => {
      if (message.body === 'tasks' && message.tasks) {
        this.received.push(...message.tasks.tasks);
        this.call.write({
          seq: message.seq,
          accepted: { results: message.tasks.tasks.map((t) => ({ task_id: t.task_id, success: this.accept(t), message: '' })) },
        });
        return;
      }
      this.answers.get(message.seq)?.(message);
      this.answers.delete(message.seq);
    });
    this.call.on('error', () => undefined);
  }

  async beat(held: HeldTask[], extra: Partial<HeartbeatRequest> = {}): Promise<HeldTask[]> {
    const seq = ++this.seq;
    const answer = new Promise<CoordinatorMessage>((resolve) => this.answers.set(seq, resolve));
    this.call.write({
      seq,
      heartbeat: { workerId: this.id, name: `w${this.id}`, slots_total: 10, reports_held: true, delayed_start: true, held, ...this.base, ...extra } as HeartbeatRequest,
    });
    return (await answer).heartbeat!.drop;
  }

  close(): void {
    this.call.end();
  }
}

