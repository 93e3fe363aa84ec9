/**
 * A loopback HTTP server for the simulators: listens, tracks its connections
 * (a hanging response must not keep stop() waiting), and closes them all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface Listening {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host: string): Promise<Listening> {
  const server = createServer(handler);
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = (server.address() as { port: number }).port;
      resolve({
        server,
        port: bound,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: string | Buffer, type = 'application/json'): void {
  if (res.destroyed || res.writableEnded) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': type, 'content-length': buf.length });
  res.end(buf);
}
