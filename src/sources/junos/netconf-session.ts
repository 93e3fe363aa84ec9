/**
 * One NETCONF session over SSH (RFC 6241, RFC 6242) with one device: SSH
 * connect with the host key checked before anything is sent, the `netconf`
 * subsystem, the <hello> exchange, then RPCs one after another (Junos's mgd
 * handles one at a time) whose <rpc-reply> bytes come back verbatim.
 *
 * Failures are FetchErrors with a stable reason. A timeout or an abort in the
 * middle of an RPC destroys the session: a reply may still be on its way, and
 * the next RPC must never take it for its own.
 */
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { FetchError } from '../source.js';
import { ChunkedDecoder, EndOfMessageDecoder, FramingError, encodeChunked, encodeEndOfMessage, type MessageDecoder } from './netconf-framing.js';
import type { HostKeyVerifier } from './host-keys.js';

let ssh2: Promise<typeof import('ssh2')> | undefined;

export const NETCONF_BASE_NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';
export const CAP_BASE_10 = 'urn:ietf:params:netconf:base:1.0';
export const CAP_BASE_11 = 'urn:ietf:params:netconf:base:1.1';
/** NETCONF over SSH's IANA port (RFC 6242 §3). */
export const NETCONF_PORT = 830;

export interface NetconfTarget {
  host: string;
  port: number;
  /** The device's inventory name, for messages and pinned fingerprints. */
  name?: string;
}

export interface NetconfCredentials {
  username: string;
  password?: string;
  /** An OpenSSH or PEM private key; tried before the password. */
  privateKey?: Buffer | string;
  passphrase?: string;
}

export interface NetconfSessionOptions extends NetconfCredentials {
  hostKeys: HostKeyVerifier;
  /** Bound on one message from the device (the stream's max body size). */
  maxMessageBytes: number;
}

export type NetconfFraming = 'base:1.0' | 'base:1.1';

const CLIENT_HELLO = `<?xml version="1.0" encoding="UTF-8"?><hello xmlns="${NETCONF_BASE_NS}"><capabilities><capability>${CAP_BASE_10}</capability><capability>${CAP_BASE_11}</capability></capabilities></hello>`;

/** `host:port` (IPv6 bracketed), as messages name a device. */
export function targetLabel(t: NetconfTarget): string {
  const at = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return t.name !== undefined && t.name !== t.host ? `${t.name} (${at})` : at;
}

/** The RPC's element name, for messages (`get-route-information`). */
function rpcName(body: string): string {
  return /<\s*(?:[\w.-]+:)?([\w.-]+)/.exec(body)?.[1] ?? 'rpc';
}

/** Device-supplied text made safe for one log line: entities decoded, control characters gone, bounded. */
function deviceText(s: string): string {
  const decoded = s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
  // eslint-disable-next-line no-control-regex
  const flat = decoded.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/**
 * The first <rpc-error> of severity `error` in a reply, or undefined. Warnings
 * (Junos sends some with good data) leave the reply a success.
 */
export function rpcErrorOf(reply: string): { message: string; tag?: string } | undefined {
  if (!reply.includes('rpc-error')) return undefined; // large good replies skip the search
  for (let error = elementAt(reply, 'rpc-error', 0); error; error = elementAt(reply, 'rpc-error', error.end)) {
    const { inner } = error;
    const field = (name: string) => elementAt(inner, name, 0)?.inner;
    if (deviceText(field('error-severity') ?? 'error') !== 'error') continue;
    const message = deviceText(field('error-message') ?? '') || 'no error-message';
    const tag = field('error-tag');
    return { message, ...(tag !== undefined ? { tag: deviceText(tag) } : {}) };
  }
  return undefined;
}

/**
 * The first `<name …>…</name>` (any prefix) from `from`: its content and where
 * it ends. One forward scan for the opener and one for the closer, and no
 * retry at later openers when the closer is missing: the reply is device text,
 * and a lazy `[\s\S]*?` retried at each of many unclosed openers is quadratic.
 */
function elementAt(text: string, name: string, from: number): { inner: string; end: number } | undefined {
  const open = new RegExp(`<(?:[\\w.-]+:)?${name}\\b[^<>]*>`, 'g');
  open.lastIndex = from;
  const o = open.exec(text);
  if (!o) return undefined;
  const close = new RegExp(`</(?:[\\w.-]+:)?${name}\\s*>`, 'g');
  close.lastIndex = open.lastIndex;
  const c = close.exec(text);
  if (!c) return undefined;
  return { inner: text.slice(open.lastIndex, c.index), end: close.lastIndex };
}

interface PendingRpc {
  messageId: string;
  name: string;
  resolve: (reply: Buffer) => void;
  reject: (err: FetchError) => void;
}

export class NetconfSession {
  /** The framing agreed in the hello exchange. */
  framing: NetconfFraming = 'base:1.0';
  serverCapabilities: string[] = [];
  sessionId?: string;
  /** RPCs answered on this session (the pool's reuse count builds on it). */
  rpcs = 0;
  private decoder: MessageDecoder;
  private channel?: ClientChannel;
  private nextId = 1;
  private pending?: PendingRpc;
  private tail: Promise<unknown> = Promise.resolve();
  private closedBy?: FetchError;
  private helloWaiter?: { resolve: () => void; reject: (err: FetchError) => void };
  private readonly closeListeners: (() => void)[] = [];

  private constructor(
    readonly target: NetconfTarget,
    private readonly client: Client,
    private readonly maxMessageBytes: number,
  ) {
    this.decoder = new EndOfMessageDecoder(maxMessageBytes);
  }

  /** Whether RPCs can still be sent (false once the device or we closed it). */
  get open(): boolean {
    return this.closedBy === undefined;
  }

  /** Runs once when the session ends, for whatever reason. */
  onClose(listener: () => void): void {
    if (this.closedBy) listener();
    else this.closeListeners.push(listener);
  }

  /**
   * Connects, verifies the host key, authenticates, opens the `netconf`
   * subsystem and exchanges hellos, all before `deadline` (epoch ms).
   */
  static async open(target: NetconfTarget, opts: NetconfSessionOptions, signal: AbortSignal, deadline: number): Promise<NetconfSession> {
    // ssh2 loads with the first session, not with every `nsr run` (~60 ms CPU, ~15 MB: BENCHMARKS.md §17).
    const { Client } = await (ssh2 ??= import('ssh2'));
    const where = targetLabel(target);
    return new Promise<NetconfSession>((resolve, reject) => {
      if (signal.aborted) return reject(new FetchError('aborted', `session to ${where} not opened: aborted`));
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(new FetchError('timeout', `no time left to open a session to ${where}`));
      const client = new Client();
      const session = new NetconfSession(target, client, opts.maxMessageBytes);
      let settled = false;
      let hostKeyRefusal: FetchError | undefined;
      let stage = 'connecting';
      const finish = (err?: FetchError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          session.destroy(err);
          reject(err);
        } else resolve(session);
      };
      const timer = setTimeout(() => finish(new FetchError('timeout', `session to ${where} not ready within ${remaining} ms (${stage})`)), remaining);
      const onAbort = () => finish(new FetchError('aborted', `session to ${where} aborted while ${stage}`));
      signal.addEventListener('abort', onAbort, { once: true });

      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return session.destroy(new FetchError('session_closed', `${where}: ${err.code ?? err.message}`));
        if (hostKeyRefusal) return finish(hostKeyRefusal);
        if (err.level === 'client-authentication') {
          const methods = [opts.privateKey !== undefined ? 'publickey' : undefined, opts.password !== undefined ? 'password, keyboard-interactive' : undefined].filter(Boolean).join(', ');
          return finish(new FetchError('auth_failed', `authentication as ${opts.username} refused by ${where} (tried ${methods || 'none'}): check the user name and its password or key`));
        }
        if (err.level === 'client-timeout') return finish(new FetchError('timeout', `SSH handshake with ${where} did not finish within ${remaining} ms`));
        finish(new FetchError(stage === 'connecting' ? 'connect_error' : 'session_closed', `${where}: ${err.code ?? err.message} (while ${stage})`));
      });
      client.on('close', () => {
        finish(hostKeyRefusal ?? new FetchError('session_closed', `${where} closed the connection while ${stage}`));
        session.destroy(new FetchError('session_closed', `${where} closed the SSH connection`));
      });
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, answer) => {
        // Junos often offers password login only this way; every prompt is the password prompt.
        answer(prompts.map(() => opts.password ?? ''));
      });
      client.on('ready', () => {
        stage = 'opening the netconf subsystem';
        client.subsys('netconf', (err, channel) => {
          if (err) return finish(new FetchError('connect_error', `${where} refused the netconf subsystem: ${err.message} (is "set system services netconf ssh" configured?)`));
          stage = 'exchanging hellos';
          session
            .start(channel)
            .then(() => finish(), (e: FetchError) => finish(e));
        });
      });

      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: opts.username,
        readyTimeout: remaining,
        tryKeyboard: opts.password !== undefined,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          stage = 'verifying the host key';
          opts.hostKeys.verify(target, key).then(
            (decision) => {
              if (!decision.accept) hostKeyRefusal = new FetchError(decision.reason, decision.message);
              stage = 'authenticating';
              verify(decision.accept);
            },
            (e: Error) => {
              hostKeyRefusal = new FetchError('host_key_unknown', `host key of ${where} could not be remembered: ${e.message}`);
              verify(false);
            },
          );
        },
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(opts.privateKey !== undefined ? { privateKey: opts.privateKey } : {}),
        ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
      };
      try {
        client.connect(config);
        // Each handshake step is a small message awaiting an answer: without
        // this, Nagle's algorithm and delayed ACKs add tens of ms per open.
        client.setNoDelay(true);
      } catch (err) {
        // ssh2 parses the private key synchronously; its message names the problem, never the key.
        finish(new FetchError('private_key_error', `cannot use the private key for ${where}: ${(err as Error).message}`));
      }
    });
  }

  /**
   * Sends `body` (one RPC element, e.g. `<get-interface-information/>`) in an
   * <rpc> and resolves with the <rpc-reply> bytes as the device sent them. RPCs
   * wait for the ones before them; `deadline` counts from now, waiting included.
   */
  rpc(body: string, signal: AbortSignal, deadline: number): Promise<Buffer> {
    const name = rpcName(body);
    const run = this.tail.then(() => this.send(body, name, signal, deadline));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Polite close: <close-session/> answered or `boundMs` passed, then the connection ends. */
  async close(boundMs = 1000): Promise<void> {
    if (!this.open) return;
    const controller = new AbortController();
    try {
      await this.rpc('<close-session/>', controller.signal, Date.now() + boundMs);
    } catch {
      // A device that does not answer is closed anyway; its state no longer matters.
    }
    this.destroy(new FetchError('session_closed', `session to ${targetLabel(this.target)} was closed`));
  }

  /** Ends the session at once; a pending RPC fails with `reason`. */
  destroy(reason: FetchError): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.pending?.reject(reason);
    this.pending = undefined;
    this.helloWaiter?.reject(reason);
    this.helloWaiter = undefined;
    this.client.end();
    // end() waits for the peer; a hung device must not keep the socket.
    setTimeout(() => this.client.destroy(), 200).unref();
    for (const l of this.closeListeners.splice(0)) l();
  }

  private start(channel: ClientChannel): Promise<void> {
    this.channel = channel;
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.stderr.on('data', () => undefined);
    channel.on('close', () => this.destroy(new FetchError('session_closed', `${targetLabel(this.target)} closed the netconf session`)));
    return new Promise<void>((resolve, reject) => {
      this.helloWaiter = { resolve, reject };
      // Both sides send their hello at once (RFC 6241 §8.1), always 1.0-framed.
      channel.write(encodeEndOfMessage(CLIENT_HELLO));
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closedBy) return;
    try {
      if (this.helloWaiter) {
        const [hello] = this.decoder.push(chunk, 1);
        if (hello === undefined) return;
        this.onHello(hello);
        if (!this.helloWaiter) chunk = this.decoder.takeRemainder();
        if (this.framing === 'base:1.1') this.decoder = new ChunkedDecoder(this.maxMessageBytes);
        if (chunk.length === 0 || this.closedBy) return;
      }
      for (const message of this.decoder.push(chunk)) this.onMessage(message);
    } catch (err) {
      if (err instanceof FramingError) this.destroy(new FetchError('framing_error', `${targetLabel(this.target)}: ${err.message}`));
      else if (err instanceof FetchError) this.destroy(err);
      else throw err;
    }
  }

  private onHello(message: Buffer): void {
    const text = message.toString('utf8');
    // Device text: every regex here must be linear (one way to match each
    // character); a backtracking one blocks the event loop, and no deadline fires.
    if (!/^\s*(?:<\?xml[^>]*\?>\s*)?<(?:[\w.-]+:)?hello[\s>/]/.test(text)) {
      throw new FetchError('protocol_error', `${targetLabel(this.target)} sent something other than a <hello> first`);
    }
    this.serverCapabilities = [...text.matchAll(/<(?:[\w.-]+:)?capability\s*>([^<]*)<\/(?:[\w.-]+:)?capability\s*>/g)].map((m) => m[1]!.trim());
    const id = /<(?:[\w.-]+:)?session-id\s*>\s*(\d+)\s*</.exec(text)?.[1];
    if (id !== undefined) this.sessionId = id;
    const has11 = this.serverCapabilities.includes(CAP_BASE_11);
    if (!has11 && !this.serverCapabilities.includes(CAP_BASE_10)) {
      throw new FetchError('protocol_error', `${targetLabel(this.target)} announced neither NETCONF base:1.0 nor base:1.1`);
    }
    // Chunked framing only when both announce base:1.1 (RFC 6241 §8.1); we always do.
    this.framing = has11 ? 'base:1.1' : 'base:1.0';
    const waiter = this.helloWaiter!;
    this.helloWaiter = undefined;
    waiter.resolve();
  }

  private onMessage(message: Buffer): void {
    const pending = this.pending;
    // Nothing asked: a stray message (Junos sends none unsolicited without subscriptions) is dropped.
    if (!pending) return;
    const head = message.subarray(0, 4096).toString('utf8');
    const id = /<(?:[\w.-]+:)?rpc-reply\b[^>]*?\smessage-id\s*=\s*("([^"]*)"|'([^']*)')/.exec(head);
    if (!id) throw new FetchError('protocol_error', `${targetLabel(this.target)} answered ${pending.name} with something other than an <rpc-reply message-id=…>`);
    const got = id[2] ?? id[3];
    if (got !== pending.messageId) throw new FetchError('protocol_error', `${targetLabel(this.target)} answered message-id ${deviceText(got ?? '')}, expected ${pending.messageId}`);
    this.pending = undefined;
    this.rpcs++;
    pending.resolve(message);
  }

  private send(body: string, name: string, signal: AbortSignal, deadline: number): Promise<Buffer> {
    const where = targetLabel(this.target);
    if (this.closedBy) return Promise.reject(new FetchError('session_closed', `${name} not sent: the session to ${where} is closed (${this.closedBy.reason})`));
    if (signal.aborted) return Promise.reject(new FetchError('aborted', `${name} to ${where} aborted`));
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new FetchError('timeout', `${name} to ${where}: no time left`));
    const messageId = String(this.nextId++);
    const rpc = `<rpc message-id="${messageId}" xmlns="${NETCONF_BASE_NS}">${body}</rpc>`;
    return new Promise<Buffer>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      // The reply might still come after we give up: only a new session is safe to reuse.
      const timer = setTimeout(() => this.destroy(new FetchError('timeout', `no reply to ${name} from ${where} within ${remaining} ms`)), remaining);
      const onAbort = () => this.destroy(new FetchError('aborted', `${name} to ${where} aborted`));
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        messageId,
        name,
        resolve: (reply) => {
          done();
          const error = rpcErrorOf(reply.toString('utf8'));
          if (error) reject(new FetchError('rpc_error', `${name} on ${where} failed: ${error.message}${error.tag ? ` (${error.tag})` : ''}`));
          else resolve(reply);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      this.channel!.write(this.framing === 'base:1.1' ? encodeChunked(rpc) : encodeEndOfMessage(rpc));
    });
  }
}
