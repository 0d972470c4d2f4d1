import * as grpc from '@grpc/grpc-js';

export type Unary<Req, Res> = (
  request: Partial<Req>,
  options: { deadline?: grpc.Deadline },
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;

export type Bidi<Req, Res> = () => grpc.ClientDuplexStream<Partial<Req>, Res>;

/**
 * Starts observing one call of the named method; the function it returns is told how the call ended. The SDK
 * takes no metrics of its own calls: the services pass theirs (services/common/src/grpc/contract.ts).
 */
export type CallObserver = (method: string) => (code: grpc.status) => void;

/** Calls a unary method as a promise, with a deadline; `observe` (optional) sees it. */
export function callUnary<Req, Res>(
  client: grpc.Client,
  method: Unary<Req, Res>,
  request: Partial<Req>,
  timeoutMs: number,
  observe?: CallObserver,
): Promise<Res> {
  const done = observe?.(methodName(client, method));
  return new Promise((resolve, reject) => {
    method.call(client, request, { deadline: Date.now() + timeoutMs }, (err, response) => {
      done?.(err ? err.code : grpc.status.OK);
      if (err) reject(err);
      else resolve(response as Res);
    });
  });
}

const methodNames = new WeakMap<object, string>();

/**
 * The proto name of a client method ("SubmitTasks"), found once per method on the client's service
 * definition: grpc-js method functions carry no name of their own.
 */
function methodName(client: grpc.Client, method: object): string {
  let name = methodNames.get(method);
  if (name === undefined) {
    const service = (client.constructor as grpc.ServiceClientConstructor).service ?? {};
    name = Object.keys(service).find((key) => (client as unknown as Record<string, unknown>)[key] === method) ?? 'unknown';
    methodNames.set(method, name);
  }
  return name;
}
