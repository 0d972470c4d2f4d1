import { createServer, type RequestListener, type Server } from 'node:http';

/**
 * Starts an HTTP server and resolves once it listens, or rejects with a message naming the address and the
 * variable to change ("port 8081 on 0.0.0.0 is already in use (SCHEDULER_PORT)").
 */
export function listenHttp(handler: RequestListener, port: number, host: string, portVariable: string): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be used: ${err.message}`;
      reject(new Error(`port ${port} on ${host} ${reason} (${portVariable})`));
    });
    server.listen(port, host, () => resolve(server));
  });
}

/** Closes a server and its open connections (SSE streams would otherwise hold it open). */
export function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
