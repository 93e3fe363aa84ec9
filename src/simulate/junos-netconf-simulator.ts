/**
 * Simulated Juniper devices answering NETCONF over SSH (RFC 6241/6242), the
 * twin of the REST simulator (junos-simulator.ts): each device on its own
 * loopback address, the `netconf` subsystem, a <hello> offering base:1.0 and
 * base:1.1 (or 1.0 only, to exercise both framings), and the three RPCs the
 * junos kind sends answered with fixtures/junos/*.rpc-reply.xml, the reply's
 * message-id set to the request's. Same latency, faults and counters as the
 * REST simulator. All devices share one host key, kept in a file when asked so
 * trust on first use survives a restart of the simulator.
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2, { type AuthContext, type Connection, type ParsedKey, type Server, type ServerChannel } from 'ssh2';
import type { SimulatedDevice } from './netbox-simulator.js';
import { sshKeyPair } from './ssh-key-pair.js';
import { RPC_ERROR_MESSAGE, deviceLatency, junosFixture, listenOnAll, movingXmlCounters, type SimulatedJunosOptions } from './simulated-junos.js';
import { ChunkedDecoder, EndOfMessageDecoder, encodeChunked, encodeEndOfMessage, type MessageDecoder } from '../sources/junos/netconf-framing.js';
import { sshKeyFingerprint } from '../sources/junos/host-keys.js';
import { CAP_BASE_10, CAP_BASE_11, NETCONF_BASE_NS } from '../sources/junos/netconf-session.js';

// ssh2 is CommonJS whose Server and utils Node cannot see as named exports.
const { Server: SshServer, utils } = ssh2;

export interface JunosNetconfSimulatorOptions extends SimulatedJunosOptions {
  /** OpenSSH public keys (`ssh-ed25519 AAAA…`) accepted for `username`; without a password or keys any login is accepted. */
  authorizedKeys?: readonly (string | Buffer)[];
  /** The host key's private key (PEM or OpenSSH); wins over hostKeyFile. */
  hostKey?: string | Buffer;
  /** Host key file: read if it exists, else generated and written there 0600. */
  hostKeyFile?: string;
  /** Announce base:1.0 only, so clients must keep end-of-message framing. */
  base10Only?: boolean;
}

/** The bound on an rpc from a client: ours are a few hundred bytes. */
const MAX_REQUEST_BYTES = 1 << 20;
const JUNOS_CAPABILITY = 'http://xml.juniper.net/netconf/junos/1.0';

/** The host key: given, read from the file, or generated (and written there); its text and parsed form. */
function loadHostKey(opts: JunosNetconfSimulatorOptions): { text: string | Buffer; key: ParsedKey } {
  let pem: string | Buffer | undefined = opts.hostKey;
  if (pem === undefined && opts.hostKeyFile !== undefined) {
    try {
      pem = readFileSync(opts.hostKeyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (pem === undefined) {
    pem = sshKeyPair().private;
    if (opts.hostKeyFile !== undefined) {
      // Exclusive and never through a link: a key file is a secret. Its directory may not exist yet (nsr run --simulate keeps it in the output directory, made at the recorder's start).
      mkdirSync(dirname(opts.hostKeyFile), { recursive: true, mode: 0o700 });
      writePrivate(opts.hostKeyFile, pem, constants.O_EXCL);
    }
  }
  const parsed = utils.parseKey(pem);
  if (parsed instanceof Error) throw new Error(`host key${opts.hostKeyFile ? ` ${opts.hostKeyFile}` : ''}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key.isPrivateKey()) throw new Error(`host key${opts.hostKeyFile ? ` ${opts.hostKeyFile}` : ''} is a public key; the simulator needs the private one`);
  return { text: pem, key };
}

/** Writes `text` to `file`, created 0600, never through a symlink (`extra`: O_EXCL for a new file only). */
function writePrivate(file: string, text: string, extra: number): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | extra, 0o600);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function parsePublicKeys(keys: readonly (string | Buffer)[]): ParsedKey[] {
  return keys.map((k) => {
    const parsed = utils.parseKey(k);
    if (parsed instanceof Error) throw new Error(`authorized key: ${parsed.message}`);
    return Array.isArray(parsed) ? parsed[0] : parsed;
  });
}

interface DeviceState {
  device: SimulatedDevice;
  latency: number;
}

export class JunosNetconfSimulator {
  readonly replies = {
    interfaces: junosFixture('get-interface-information.rpc-reply.xml'),
    inet3: junosFixture('get-route-information.inet.3.rpc-reply.xml'),
    mpls0: junosFixture('get-route-information.mpls.0.rpc-reply.xml'),
  };
  /** NETCONF sessions opened (subsystem started), by device name: what session reuse saves. */
  readonly sessionsOpened = new Map<string, number>();
  /** RPCs received (close-session included), by device name. */
  readonly rpcsReceived = new Map<string, number>();
  /** RPCs answered, by device name. */
  readonly served = new Map<string, number>();
  /** Addresses that could not be listened on (e.g. ::1 without IPv6). */
  readonly unavailable: string[] = [];
  /** The devices' public host key as an OpenSSH line (`ssh-ed25519 AAAA…`). */
  readonly publicKey: string;
  /** The host key's `SHA256:…` fingerprint, as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** As ssh2's Server takes it: the key's text (it does not take a parsed key). */
  private readonly hostKeyText: string | Buffer;
  private readonly authorized: ParsedKey[];
  private readonly byAddress = new Map<string, DeviceState>();
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly startedAt = Date.now();
  private nextSessionId = 1;

  constructor(private readonly opts: JunosNetconfSimulatorOptions) {
    const { text, key } = loadHostKey(opts);
    this.hostKeyText = text;
    const blob = key.getPublicSSH();
    this.publicKey = `${key.type} ${blob.toString('base64')}`;
    this.fingerprint = sshKeyFingerprint(blob);
    this.authorized = parsePublicKeys(opts.authorizedKeys ?? []);
    for (const device of opts.devices) this.byAddress.set(device.address, { device, latency: deviceLatency(device.name, opts.latencyMs) });
  }

  /** Each device's latency, by name. */
  latencies(): Map<string, number> {
    return new Map([...this.byAddress.values()].map((d) => [d.device.name, d.latency]));
  }

  /** An OpenSSH known_hosts text listing every device address with the host key. */
  knownHosts(): string {
    return [...this.byAddress.keys()]
      .filter((a) => !this.unavailable.includes(a))
      .map((a) => `${this.opts.port === 22 ? a : `[${a}]:${this.opts.port}`} ${this.publicKey}\n`)
      .join('');
  }

  /** Writes knownHosts() to `file` (replacing it), 0600. */
  writeKnownHosts(file: string): void {
    writePrivate(file, this.knownHosts(), 0);
  }

  async start(): Promise<void> {
    this.unavailable.push(...(await listenOnAll([...this.byAddress.keys()], (address) => this.listen(address), this.servers)));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.connections) c.end();
    this.connections.clear();
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((done) => s.close(() => done()))));
  }

  /** Ends every open SSH connection, as a device restart or an idle timeout would. */
  dropConnections(): void {
    for (const c of this.connections) c.end();
  }

  private listen(address: string): Promise<Server> {
    const state = this.byAddress.get(address)!;
    const server = new SshServer({ hostKeys: [this.hostKeyText] }, (conn) => this.accept(state, conn));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, address, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private accept(state: DeviceState, conn: Connection): void {
    this.connections.add(conn);
    // As the client: small handshake messages must not wait for delayed ACKs (ssh2 has it, its types miss it).
    (conn as Connection & { setNoDelay(on: boolean): unknown }).setNoDelay(true);
    conn.on('close', () => this.connections.delete(conn));
    conn.on('error', () => undefined); // a client that goes away is no fault of the simulator
    conn.on('authentication', (ctx) => this.authenticate(ctx));
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('subsystem', (acceptSubsystem, rejectSubsystem, info) => {
          if (info.name !== 'netconf') return rejectSubsystem();
          this.serve(state, acceptSubsystem(), conn);
        });
      });
    });
  }

  private authenticate(ctx: AuthContext): void {
    const { username, password } = this.opts;
    const open = password === undefined && this.authorized.length === 0;
    if (open) return ctx.accept();
    const userOk = username === undefined || ctx.username === username;
    const methods: ('password' | 'publickey')[] = [];
    if (password !== undefined) methods.push('password');
    if (this.authorized.length) methods.push('publickey');
    if (ctx.method === 'password' && password !== undefined) return userOk && ctx.password === password ? ctx.accept() : ctx.reject(methods);
    if (ctx.method === 'publickey') {
      const key = this.authorized.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
      if (!userOk || !key) return ctx.reject(methods);
      // Without a signature the client only asks whether the key would do.
      if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
      return key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject(methods);
    }
    ctx.reject(methods);
  }

  private serve(state: DeviceState, channel: ServerChannel, conn: Connection): void {
    const name = state.device.name;
    this.sessionsOpened.set(name, (this.sessionsOpened.get(name) ?? 0) + 1);
    const capabilities = [CAP_BASE_10, ...(this.opts.base10Only ? [] : [CAP_BASE_11]), JUNOS_CAPABILITY];
    const hello = `<hello xmlns="${NETCONF_BASE_NS}"><capabilities>${capabilities.map((c) => `<capability>${c}</capability>`).join('')}</capabilities><session-id>${this.nextSessionId++}</session-id></hello>`;
    channel.write(encodeEndOfMessage(hello));
    let decoder: MessageDecoder = new EndOfMessageDecoder(MAX_REQUEST_BYTES);
    let chunked: boolean | undefined; // known once the client's hello is in
    let queue: Promise<void> = Promise.resolve();
    const send = (text: string) => {
      if (!channel.destroyed && channel.writable) channel.write(chunked ? encodeChunked(text) : encodeEndOfMessage(text));
    };
    const onMessage = (message: string) => {
      this.rpcsReceived.set(name, (this.rpcsReceived.get(name) ?? 0) + 1);
      // One RPC at a time, as Junos's mgd answers them.
      queue = queue.then(() => this.answer(state, message, send, () => conn.end()));
    };
    channel.on('data', (chunk: Buffer) => {
      try {
        if (chunked === undefined) {
          const [theirs] = decoder.push(chunk, 1);
          if (theirs === undefined) return;
          chunked = !this.opts.base10Only && theirs.toString().includes(CAP_BASE_11);
          chunk = decoder.takeRemainder();
          if (chunked) decoder = new ChunkedDecoder(MAX_REQUEST_BYTES);
        }
        for (const m of decoder.push(chunk)) onMessage(m.toString('utf8'));
      } catch {
        conn.end(); // malformed framing: a device drops the session
      }
    });
  }

  private answer(state: DeviceState, rpc: string, send: (text: string) => void, end: () => void): Promise<void> {
    const name = state.device.name;
    const messageId = /<(?:[\w.-]+:)?rpc\b[^>]*?\smessage-id\s*=\s*"([^"]*)"/.exec(rpc)?.[1];
    const reply = (inner: string) => `<rpc-reply xmlns="${NETCONF_BASE_NS}"${messageId !== undefined ? ` message-id="${messageId}"` : ''}>${inner}</rpc-reply>`;
    if (messageId === undefined) {
      send(reply('<rpc-error><error-type>rpc</error-type><error-tag>missing-attribute</error-tag><error-severity>error</error-severity><error-info><bad-attribute>message-id</bad-attribute><bad-element>rpc</bad-element></error-info></rpc-error>'));
      return Promise.resolve();
    }
    if (/<(?:[\w.-]+:)?close-session\b/.test(rpc)) {
      send(reply('<ok/>'));
      end();
      return Promise.resolve();
    }
    let body: string | undefined;
    if (/<(?:[\w.-]+:)?get-interface-information\b/.test(rpc)) body = this.opts.static ? this.replies.interfaces : movingXmlCounters(this.replies.interfaces, Date.now() - this.startedAt);
    else if (/<(?:[\w.-]+:)?get-route-information\b/.test(rpc)) {
      const table = /<(?:[\w.-]+:)?table\s*>\s*([^<\s]+)\s*</.exec(rpc)?.[1];
      body = table === 'inet.3' ? this.replies.inet3 : table === 'mpls.0' ? this.replies.mpls0 : undefined;
    }
    const fault = this.opts.faults?.[name];
    if (fault === 'hang') return new Promise<void>(() => undefined); // accepted, never answered; later RPCs wait behind it
    const fail = fault === 'error' || Math.random() < (this.opts.failureRate ?? 0);
    const text =
      body === undefined
        ? reply('<rpc-error><error-type>protocol</error-type><error-tag>operation-not-supported</error-tag><error-severity>error</error-severity><error-message>syntax error, expecting &lt;rpc&gt; element</error-message></rpc-error>')
        : fail
          ? reply(`<rpc-error><error-type>protocol</error-type><error-tag>operation-failed</error-tag><error-severity>error</error-severity><error-message>${RPC_ERROR_MESSAGE}</error-message></rpc-error>`)
          : withMessageId(body, messageId);
    return new Promise<void>((resolve) => {
      const respond = () => {
        this.served.set(name, (this.served.get(name) ?? 0) + 1);
        send(text);
        resolve();
      };
      if (state.latency <= 0) return respond();
      const t = setTimeout(() => {
        this.timers.delete(t);
        respond();
      }, state.latency);
      this.timers.add(t);
    });
  }
}

/** The fixture reply with the request's message-id in place of its own (servers echo the rpc's attributes). */
export function withMessageId(reply: string, messageId: string): string {
  const escaped = messageId.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return reply.replace(/(<rpc-reply\b[^>]*?\smessage-id=")[^"]*(")/, (_, head: string, tail: string) => `${head}${escaped}${tail}`);
}
