// The simulator's HTTP listener, which can go down for a while and come back on the same
// host:port: goDown() (or `POST /sim/down?ms=N`) closes the listening socket and every
// connection, so that clients see connections refused, as when the kernel restarts.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface DownState {
  /** Date.now() at which the simulator listens again */
  until: number;
  timer: NodeJS.Timeout | null;
  /** stop() was called while down: do not listen again */
  cancelled: boolean;
  /** the old server has closed (all its connections gone) */
  closing: Promise<void>;
  /** listening again (started when the timer fires) */
  relisten: Promise<void> | null;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class RestartableServer {
  private server: Server | null = null;
  /** the port actually bound by start() (goDown() listens there again) */
  private boundPort: number | null = null;
  private readonly sockets = new Set<Socket>();
  private down: DownState | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handle: (req: IncomingMessage, res: ServerResponse) => void,
  ) {}

  /** Neither listening nor down: never started, or stopped. */
  get stopped(): boolean {
    return this.server === null && this.down === null;
  }

  private listenOn(port: number): Promise<Server> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return new Promise<Server>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve(server);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, this.host);
    });
  }

  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.server || this.down) throw new Error('simulator already started');
    const server = await this.listenOn(this.port);
    this.server = server;
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : this.port;
    this.boundPort = port;
    const hostForUrl = this.host.includes(':') ? `[${this.host}]` : this.host;
    return { host: this.host, port, url: `http://${hostForUrl}:${port}` };
  }

  /** Destroy every open connection (idle keep-alive, in flight, hanging, trickling). */
  private dropConnections(server: Server): void {
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Go down for `ms` milliseconds: close the listening socket and destroy every open
   * connection, so that new connections are refused (ECONNREFUSED); then listen again on
   * the same host:port. Resolves once listening again (at once, without listening, if
   * stop() is called meanwhile); rejects if listening again fails (e.g. EADDRINUSE).
   * Called while already down, it extends the down time to at least `ms` from now and
   * returns the same promise.
   */
  goDown(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return Promise.reject(new RangeError(`goDown: ms must be a non-negative number, got ${String(ms)}`));
    }
    const d = this.down;
    if (d !== null) {
      const until = Date.now() + ms;
      if (d.timer !== null && until > d.until) {
        clearTimeout(d.timer);
        d.until = until;
        d.timer = this.downTimer(d, ms);
      }
      return d.promise;
    }
    const server = this.server;
    if (server === null) return Promise.reject(new Error('goDown: the simulator is not running'));
    this.server = null;
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const state: DownState = {
      until: Date.now() + ms,
      timer: null,
      cancelled: false,
      closing: new Promise<void>((res) => server.close(() => res())),
      relisten: null,
      promise,
      resolve,
      reject,
    };
    this.dropConnections(server);
    state.timer = this.downTimer(state, ms);
    this.down = state;
    return promise;
  }

  private downTimer(state: DownState, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      state.timer = null;
      state.relisten = this.relisten(state);
    }, ms);
  }

  private async relisten(state: DownState): Promise<void> {
    await state.closing;
    if (state.cancelled) return;
    let server: Server;
    try {
      server = await this.listenOn(this.boundPort ?? this.port);
    } catch (err) {
      if (!state.cancelled) {
        this.down = null;
        state.reject(err as Error);
      }
      return;
    }
    if (state.cancelled) {
      // stop() ran while listening again
      await new Promise<void>((res) => server.close(() => res()));
      return;
    }
    this.server = server;
    this.down = null;
    state.resolve();
  }

  /** Stop listening (or listening again after goDown()) and drop every connection. */
  async stop(): Promise<void> {
    const d = this.down;
    if (d !== null) {
      this.down = null;
      d.cancelled = true;
      if (d.timer !== null) clearTimeout(d.timer);
      d.timer = null;
      d.resolve();
      await d.closing;
      if (d.relisten !== null) await d.relisten;
    }
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      this.dropConnections(server);
    });
  }
}
