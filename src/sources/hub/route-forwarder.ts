/**
 * One route's delivery: a single persistent connection to the outgoing
 * peripheral's port, fed from a bounded queue of lines in the order they
 * came. A slow or absent peripheral fills only its own route's queue; the
 * connection is re-opened with exponential back-off. A line leaves the queue
 * only once its write was handed to the kernel, so a write that fails is sent
 * again on the next connection. EGG's peripherals acknowledge nothing: lines
 * written shortly before a connection breaks may not have been read, and are
 * reported (route_disconnected, with their sender and sequence range) rather
 * than sent twice.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { NoteEvent } from '../../logging/note-event.js';

export interface RouteLine {
  /** The payload with its `\n`. */
  line: Buffer;
  /** The sender's uuid and the hub's sequence number of the line (what its record carries). */
  from: string;
  seq: number;
}

export interface ForwarderOptions {
  host: string;
  maxQueue: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  unconfirmedWindowMs: number;
}

/** Lines written in one batch, and when: what a broken connection may have lost. */
interface Written {
  at: number;
  count: number;
  /** The batch's bytes. */
  bytes: number;
  first: RouteLine;
  last: RouteLine;
}

/**
 * What a peer may not have read when its connection breaks: everything still in
 * this side's send buffer and in its receive buffer. Linux caps both (tcp_wmem,
 * tcp_rmem: the largest autotuned sizes), so lines further back than their sum
 * were read for sure; a slow reader can hold more than the time window's worth.
 */
function socketBuffersBound(): number {
  const max = (file: string, fallback: number) => {
    try {
      const n = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
      return Number.isFinite(n) && n > 0 ? n : fallback;
    } catch {
      return fallback; // not Linux: a generous bound
    }
  };
  return max('/proc/sys/net/ipv4/tcp_wmem', 8 << 20) + max('/proc/sys/net/ipv4/tcp_rmem', 8 << 20);
}
const UNREAD_BYTES_BOUND = socketBuffersBound();

/** Bytes gathered into one write: large enough for throughput, small enough to keep a loss report tight. */
const BATCH_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_MS = 5000;
/** Overflows are summed into one event per route per this interval. */
const OVERFLOW_REPORT_MS = 1000;

export class RouteForwarder {
  private queue: RouteLine[] = [];
  private head = 0;
  private socket: net.Socket | undefined;
  /** Resolves the wait for lines (an offer, a close). */
  private wake: (() => void) | undefined;
  /** Ends a back-off early (a close, a new port): new lines do not, or a dead port would be hammered. */
  private interrupt: (() => void) | undefined;
  private closed = false;
  private running: Promise<void>;
  private recent: Written[] = [];
  private recentBytes = 0;
  private backoff: number;
  private overflowPending = 0;
  private overflowTimer: NodeJS.Timeout | undefined;
  private lastOverflowReport = 0;
  /** Counters /status shows. */
  delivered = 0;
  overflowed = 0;
  possiblyLost = 0;
  reconnects = 0;
  lastUsedMs = 0;
  connected = false;

  constructor(
    readonly route: string,
    private port: number,
    private readonly opts: ForwarderOptions,
    private readonly note: NoteEvent,
    /** Called after each delivered batch (the route's last_used). */
    private readonly onDelivered: (at: number) => void,
  ) {
    this.backoff = opts.reconnectMinMs;
    this.running = this.run();
  }

  get depth(): number {
    return this.queue.length - this.head;
  }

  get targetPort(): number {
    return this.port;
  }

  /** Queues a line; false when the queue is full (the line is not forwarded on this route; counted and reported). */
  offer(item: RouteLine): boolean {
    if (this.closed) return false;
    if (this.depth >= this.opts.maxQueue) {
      this.overflowed++;
      this.overflowPending++;
      // The first overflow is reported at once, later ones at most once per interval: timed from the last report, or a
      // trickle (each line's overflow the first since the last report) would be one event per line.
      this.overflowTimer ??= setTimeout(() => this.reportOverflow(), Math.max(0, this.lastOverflowReport + OVERFLOW_REPORT_MS - Date.now()));
      return false;
    }
    this.queue.push(item);
    this.wake?.();
    return true;
  }

  /** The outgoing peripheral moved (/update_data_port, a new registration): connect there from now on. */
  retarget(port: number): void {
    if (port === this.port) return;
    this.port = port;
    this.socket?.destroy();
    this.backoff = this.opts.reconnectMinMs;
    this.interrupt?.();
  }

  /**
   * Stops: what is queued gets up to `graceMs` to be written, then the
   * connection closes. Resolves with the lines left undelivered.
   */
  async close(graceMs: number): Promise<number> {
    const deadline = Date.now() + graceMs;
    while (this.depth > 0 && this.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    this.wake?.();
    this.interrupt?.();
    this.socket?.end();
    this.socket?.destroy();
    await this.running;
    if (this.overflowTimer) {
      clearTimeout(this.overflowTimer);
      this.reportOverflow();
    }
    return this.depth;
  }

  private reportOverflow(): void {
    this.overflowTimer = undefined;
    if (this.overflowPending === 0) return;
    this.lastOverflowReport = Date.now();
    const count = this.overflowPending;
    this.overflowPending = 0;
    this.note('route_overflow', { route: this.route, to_port: this.port, lines: count, queue: this.opts.maxQueue, total: this.overflowed }, 'warn', `route ${this.route}: ${count} lines not forwarded, its queue of ${this.opts.maxQueue} lines is full (the peripheral on port ${this.port} is slow or away); they are recorded`);
  }

  private async run(): Promise<void> {
    let failing = 0;
    while (!this.closed) {
      if (this.depth === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (!this.socket) {
        try {
          this.socket = await this.connect();
          if (failing > 0) this.note('route_connected', { route: this.route, to_port: this.port, after_attempts: failing }, 'info', `route ${this.route}: connected to port ${this.port} again`);
          failing = 0;
          this.backoff = this.opts.reconnectMinMs;
        } catch (err) {
          if (this.closed) break;
          if (failing++ === 0) this.note('route_unreachable', { route: this.route, to_port: this.port, queued: this.depth, message: (err as Error).message }, 'warn', `route ${this.route}: port ${this.port} does not accept (${(err as Error).message}); lines queue and the route retries`);
          await this.pause(this.backoff);
          this.backoff = Math.min(this.opts.reconnectMaxMs, this.backoff * 2);
          continue;
        }
      }
      const batch = this.takeBatch();
      const socket = this.socket;
      if (!(await this.write(socket, batch))) {
        // The batch stays queued. A failed write leaves the socket destroyed
        // before its 'close' (a later turn of the event loop): it is dropped
        // and reported here, or this loop would take it again and again in
        // microtasks, never letting 'close' run (the hub spun at 100 % CPU).
        this.lost(socket);
        continue;
      }
      this.head += batch.length;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const at = Date.now();
      this.delivered += batch.length;
      this.lastUsedMs = at;
      this.remember({ at, count: batch.length, bytes: batch.reduce((n, b) => n + b.line.length, 0), first: batch[0], last: batch[batch.length - 1] });
      this.onDelivered(at);
    }
  }

  private takeBatch(): RouteLine[] {
    const batch: RouteLine[] = [];
    let bytes = 0;
    for (let i = this.head; i < this.queue.length && (batch.length === 0 || bytes + this.queue[i].line.length <= BATCH_BYTES); i++) {
      batch.push(this.queue[i]);
      bytes += this.queue[i].line.length;
    }
    return batch;
  }

  private write(socket: net.Socket, batch: RouteLine[]): Promise<boolean> {
    const data = batch.length === 1 ? batch[0].line : Buffer.concat(batch.map((b) => b.line));
    return new Promise((resolve) => {
      if (socket.destroyed) return resolve(false);
      const onClose = () => resolve(false);
      socket.once('close', onClose);
      socket.write(data, (err) => {
        socket.off('close', onClose);
        resolve(!err);
      });
    });
  }

  /**
   * Keeps the batches a breaking connection may have lost: those of the last
   * unconfirmed window, and all that may still sit in the two socket buffers
   * (a slow reader can leave older lines unread than the window covers).
   */
  private remember(w: Written): void {
    this.recent.push(w);
    this.recentBytes += w.bytes;
    const horizon = w.at - this.opts.unconfirmedWindowMs;
    let drop = 0;
    // A batch goes only when it is both old and followed by more bytes than the buffers can hold.
    while (drop < this.recent.length && this.recent[drop].at < horizon && this.recentBytes - this.recent[drop].bytes >= UNREAD_BYTES_BOUND) {
      this.recentBytes -= this.recent[drop].bytes;
      drop++;
    }
    if (drop > 0) this.recent.splice(0, drop);
  }

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.opts.host, port: this.port, timeout: CONNECT_TIMEOUT_MS });
      socket.setNoDelay(true);
      const fail = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once('timeout', () => fail(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)));
      socket.once('connect', () => {
        socket.off('error', fail);
        socket.setTimeout(0);
        this.connected = true;
        // A peripheral may answer (EGG's reply "Unknown command…"): read and discard, so its writes never block.
        socket.on('data', () => {});
        socket.on('error', () => {}); // 'close' follows
        socket.once('close', () => this.lost(socket));
        resolve(socket);
      });
    });
  }

  /** The connection broke (or the peripheral closed it): what it may not have read is reported, then the route reconnects. */
  private lost(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.connected = false;
    if (this.closed) return;
    this.reconnects++;
    const unconfirmed = this.recent;
    this.recent = [];
    this.recentBytes = 0;
    const lines = unconfirmed.reduce((n, w) => n + w.count, 0);
    this.possiblyLost += lines;
    const range = lines ? { from: unconfirmed[0].first.from, first_seq: unconfirmed[0].first.seq, last_seq: unconfirmed[unconfirmed.length - 1].last.seq } : {};
    this.note('route_disconnected', { route: this.route, to_port: this.port, possibly_lost: lines, ...range, queued: this.depth, window_ms: this.opts.unconfirmedWindowMs }, 'warn', `route ${this.route}: the peripheral on port ${this.port} closed the connection; ${lines} lines written in the last ${this.opts.unconfirmedWindowMs} ms or still within the socket buffers may not have been read (EGG peripherals acknowledge nothing); ${this.depth} queued lines wait for it`);
    this.wake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.interrupt = undefined;
        resolve();
      }, ms);
      this.interrupt = () => {
        clearTimeout(timer);
        this.interrupt = undefined;
        resolve();
      };
    });
  }
}
