/**
 * The hub's TCP listeners, EGG's wire protocol: the command port (one command
 * a line; `/config` spans lines up to `EOF`) and the data ports (the first
 * line is the sender's uuid, every further line a payload). Authentication
 * comes first when it is needed: `/auth <token>` as the first line. While the
 * recorder's queue is full every socket that sends records is paused: TCP
 * holds the senders back and nothing is dropped. Those are the data ports'
 * and command connections that sent `/data`; the other command connections
 * (`/register`, `/routes`, `/list`) are still answered: a peripheral restarted
 * while the queue was full waited for it to drain before it could register.
 */
import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../config/errors.js';
import { tokenDigest } from '../../control/bearer-token.js';
import { isLoopbackHost } from '../../control/local-address.js';
import type { NoteEvent } from '../../logging/note-event.js';
import { LineSplitter } from './line-splitter.js';
import { isDataCommand } from './data-command.js';
import type { ConnectionId } from './hub-registry.js';

/** Connections at once, all ports together: more are refused (and reported), never queued. */
const MAX_CONNECTIONS = 1024;
/** A /config document is at most this long. */
const MAX_CONFIG_BYTES = 64 * 1024;

export interface Session {
  readonly id: ConnectionId;
  readonly remote: string;
  readonly port: number;
  authenticated: boolean;
  reply(text: string): void;
  close(): void;
}

/** What the listeners hand lines to (the hub). */
export interface LineHandler {
  /** A command line (the command port); `/config` arrives whole, its document in `body`. */
  command(line: string, session: Session, body?: string): void;
  /** A data port's first line: whether this connection may speak for the uuid (a refusal closes it). */
  dataSender(uuid: string, session: Session): boolean;
  payload(uuid: string, line: Buffer, session: Session): void;
}

export interface ListenerOptions {
  host: string;
  commandPort: number;
  dataPorts: readonly number[];
  token: string | undefined;
  requireAuth: boolean;
  maxLine: number;
}

export class HubListeners {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  /** The sockets whose lines are records: paused while the recorder has no room. */
  private readonly senders = new Set<net.Socket>();
  private readonly digest: Buffer | undefined;
  private nextId = 1;
  /** Nothing is read before the recorder runs (startReading): a line could not be recorded yet. */
  private reading = false;
  private paused = false;
  refused = 0;
  tooLong = 0;

  constructor(private readonly opts: ListenerOptions, private readonly handler: LineHandler, private readonly note: NoteEvent) {
    this.digest = opts.token === undefined ? undefined : tokenDigest(opts.token);
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Listens on every port; a port that cannot be had stops the start with a message naming the setting. */
  async open(): Promise<void> {
    try {
      await this.listen(this.opts.commandPort, 'command_port', (s) => this.commandConnection(s));
      for (const port of this.opts.dataPorts) await this.listen(port, 'data_ports', (s) => this.dataConnection(s, port));
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Stops accepting, lets each connection's buffered lines be handled, and closes them. */
  async close(): Promise<void> {
    // A server's close callback waits for its connections: end them alongside.
    const closed = Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
    this.servers.length = 0;
    for (const s of this.sockets) s.end();
    const deadline = Date.now() + 1000;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** From now on connections are read (those that send records, while there is room). */
  startReading(): void {
    if (this.reading) return;
    this.reading = true;
    for (const s of this.sockets) if (!(this.paused && this.senders.has(s))) s.resume();
  }

  /** While the recorder cannot take more, no socket that sends records is read: TCP flow control holds the senders. */
  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (!this.reading) return;
    for (const s of this.senders) {
      if (paused) s.pause();
      else s.resume();
    }
  }

  /** A socket whose lines are records from now on: held back with the others while the recorder has no room. */
  private sends(socket: net.Socket): void {
    if (this.senders.has(socket)) return;
    this.senders.add(socket);
    if (this.paused && this.reading) socket.pause();
  }

  private listen(port: number, key: string, onConnection: (s: net.Socket) => void): Promise<void> {
    const { host } = this.opts;
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (socket) => {
        if (this.sockets.size >= MAX_CONNECTIONS) {
          this.refused++;
          this.note('hub_connection_refused', { port, remote: socket.remoteAddress, connections: this.sockets.size }, 'warn', `a connection to port ${port} was refused: ${MAX_CONNECTIONS} are open`);
          socket.destroy();
          return;
        }
        this.sockets.add(socket);
        socket.on('close', () => {
          this.sockets.delete(socket);
          this.senders.delete(socket);
        });
        socket.on('error', () => {}); // 'close' follows
        if (!this.reading) socket.pause();
        onConnection(socket);
      });
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${host}:${port}`;
        if (err.code === 'EADDRINUSE') reject(new ConfigError(`${key}: ${where} is already in use (EGG's orch.py, or another nsr, listens there); stop it, or choose other ports, e.g. command_port: 7000, data_ports: "7001-7099"`));
        else if (err.code === 'EACCES') reject(new ConfigError(`${key}: not permitted to listen on ${where} (ports below 1024 need privileges); choose ports above 1023`));
        else if (err.code === 'EADDRNOTAVAIL') reject(new ConfigError(`host: ${host} is not an address of this machine; use 127.0.0.1`));
        else reject(new ConfigError(`${key}: cannot listen on ${where}: ${err.message}`));
      });
      server.listen(port, host, () => {
        this.servers.push(server);
        resolve();
      });
    });
  }

  private session(socket: net.Socket, port: number): Session {
    const remote = socket.remoteAddress ?? 'unknown';
    return {
      id: this.nextId++,
      remote,
      port,
      authenticated: false,
      reply: (text) => {
        if (!socket.destroyed) socket.write(`${text}\n`);
      },
      close: () => socket.end(),
    };
  }

  /** Authentication first: with require_auth, or from beyond loopback. */
  private mustAuthenticate(s: Session): boolean {
    return this.digest !== undefined && (this.opts.requireAuth || !isLoopbackHost(s.remote.replace(/^::ffff:/, '')));
  }

  /** `/auth <token>`: true when it matches; a wrong token closes the connection. */
  private authenticate(line: string, s: Session): boolean {
    const given = line.slice('/auth '.length).trim();
    if (this.digest && timingSafeEqual(tokenDigest(given), this.digest)) {
      s.authenticated = true;
      s.reply('/ok authenticated');
      return true;
    }
    this.note('hub_auth_failed', { port: s.port, remote: s.remote }, 'warn', `a connection from ${s.remote} to port ${s.port} sent a wrong token; closed`);
    s.reply(this.digest ? '/error invalid token' : '/error this hub has no token');
    s.close();
    return false;
  }

  private splitter(s: Session, onLine: (line: Buffer) => void): LineSplitter {
    return new LineSplitter(this.opts.maxLine, onLine, (bytes) => {
      this.tooLong++;
      this.note('line_too_long', { port: s.port, remote: s.remote, bytes, max_line: this.opts.maxLine, total: this.tooLong }, 'warn', `a line of ${bytes} bytes on port ${s.port} is longer than max_line (${this.opts.maxLine}); not recorded or forwarded`);
    });
  }

  /**
   * A web page can make the browser POST to a loopback port, and a line
   * protocol would run the body's lines (`/reset`) as commands. No EGG
   * peripheral starts with an HTTP request line: such a connection is closed
   * before anything it sends is read as a command or a uuid.
   */
  private refuseHttp(line: string, s: Session): boolean {
    if (!/^[A-Z]{3,10} \S+ HTTP\/\d(\.\d)?$/.test(line)) return false;
    this.note('hub_refused', { port: s.port, remote: s.remote, reason: 'http_request' }, 'warn', `a connection from ${s.remote} to port ${s.port} spoke HTTP (a web page's request?); closed`);
    s.close();
    return true;
  }

  private commandConnection(socket: net.Socket): void {
    const s = this.session(socket, this.opts.commandPort);
    const needsAuth = this.mustAuthenticate(s);
    /** A `/config <uuid>` document being read, up to its EOF line. */
    let config: { line: string; lines: string[]; bytes: number } | undefined;
    let first = true;
    let refused = false;
    const split = this.splitter(s, (raw) => {
      // Lines of the same chunk still come after a refusal: none of them is a command.
      if (refused) return;
      const text = raw.toString('utf8');
      if (config) {
        if (text.trim() === 'EOF') {
          const { line, lines } = config;
          config = undefined;
          return this.handler.command(line, s, lines.join('\n'));
        }
        config.bytes += raw.length + 1;
        if (config.bytes > MAX_CONFIG_BYTES) {
          s.reply(`/error a /config document is at most ${MAX_CONFIG_BYTES} bytes`);
          config = undefined;
          return s.close();
        }
        config.lines.push(text);
        return;
      }
      const line = text.trim();
      if (line === '') return;
      if (first && this.refuseHttp(line, s)) {
        refused = true;
        return;
      }
      first = false;
      if (line.startsWith('/auth ')) return void this.authenticate(line, s);
      if (needsAuth && !s.authenticated) {
        this.note('hub_refused', { port: s.port, remote: s.remote, reason: 'no_auth' }, 'warn', `a connection from ${s.remote} sent a command before /auth; closed`);
        s.reply('/error authentication required: send /auth <token> first');
        return s.close();
      }
      if (line.startsWith('/config ') || line === '/config') {
        config = { line, lines: [], bytes: 0 };
        return;
      }
      // Its lines of this chunk still come (as a data port's do); the next chunk waits while there is no room.
      if (isDataCommand(line)) this.sends(socket);
      this.handler.command(line, s);
    });
    socket.on('data', (chunk: Buffer) => split.push(chunk));
  }

  private dataConnection(socket: net.Socket, port: number): void {
    this.sends(socket);
    const s = this.session(socket, port);
    const needsAuth = this.mustAuthenticate(s);
    let uuid: string | undefined;
    let refused = false;
    const split = this.splitter(s, (raw) => {
      if (refused) return;
      if (uuid !== undefined) return this.handler.payload(uuid, raw, s);
      const line = raw.toString('utf8').trim();
      if (this.refuseHttp(line, s)) {
        refused = true;
        return;
      }
      if (line.startsWith('/auth ')) {
        if (!this.authenticate(line, s)) refused = true;
        return;
      }
      if (needsAuth && !s.authenticated) {
        refused = true;
        this.note('hub_refused', { port, remote: s.remote, reason: 'no_auth' }, 'warn', `a data connection from ${s.remote} to port ${port} did not send /auth first; closed`);
        return s.close();
      }
      if (!this.handler.dataSender(line, s)) {
        refused = true;
        return s.close();
      }
      uuid = line;
    });
    socket.on('data', (chunk: Buffer) => split.push(chunk));
  }
}
