/**
 * Deciding whether to trust the SSH host key a device offers, before any
 * credential or RPC is sent to it. Sources of trust, in order:
 *   1. `@revoked` lines of the known_hosts file: such a key is never accepted.
 *   2. Pinned fingerprints (`SHA256:…`, as `ssh-keygen -lf` prints them), by
 *      device name, host, or `host:port`: when a device has pins, they decide.
 *   3. The OpenSSH known_hosts file: plain patterns (`*`, `?`, `!` negation,
 *      comma lists), `[host]:port` for ports other than 22, hashed `|1|salt|hash`.
 *      Any known key for the host that is not the offered one is a mismatch, of
 *      whatever type: accepting a new key type for a known host would let an
 *      interceptor bypass the known key by offering another algorithm.
 *   4. First contact, as configured: `refuse`, or `remember` (trust on first
 *      use: the key is appended to the known_hosts file and enforced afterwards).
 * Only fingerprints ever appear in messages, never key material.
 */
import { createHash, createHmac } from 'node:crypto';
import { constants, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { unsafeEntry } from '../../fs/safe-files.js';

export type FirstContactPolicy = 'refuse' | 'remember';
export type HostKeyRefusalReason = 'host_key_mismatch' | 'host_key_unknown' | 'host_key_revoked';

export type HostKeyDecision =
  | { accept: true; /** what vouched for the key, e.g. `known_hosts line 3` */ source: string }
  | { accept: false; reason: HostKeyRefusalReason; message: string };

/** The device a key is offered by: its address, port and (optionally) its inventory name. */
export interface HostKeyTarget {
  host: string;
  port: number;
  name?: string;
}

export interface HostKeyVerifierOptions {
  /** OpenSSH known_hosts file; required with `remember` (that is where keys are remembered). */
  knownHostsFile?: string;
  /** `SHA256:<base64>` fingerprints, by device name, host, or `host:port`. */
  pinned?: Record<string, string | readonly string[]>;
  /** What an unknown host gets; stated explicitly, never defaulted. */
  firstContact: FirstContactPolicy;
}

interface KnownHostLine {
  line: number;
  marker?: '@revoked';
  /** Plain pattern list, or a hashed entry. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  blob: Buffer;
}

/** `SHA256:<base64 without padding>` of an SSH public key blob, as `ssh-keygen -lf` prints it. */
export function sshKeyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, `rsa-sha2-…` keys say `ssh-rsa`). */
export function sshKeyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  if (n > 64 || 4 + n > blob.length) return 'unknown';
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH wildcard match (`*`, `?`), case-insensitive as host names are. */
function wildcardMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** A comma list matches when some pattern matches and no negated (`!`) one does. */
function patternsMatch(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (wildcardMatch(p, name)) matched = true;
  }
  return matched;
}

function lineMatches(entry: KnownHostLine, name: string): boolean {
  if (entry.hashed) return createHmac('sha1', entry.hashed.salt).update(name).digest().equals(entry.hashed.hash);
  return patternsMatch(entry.patterns ?? [], name);
}

/** Parses known_hosts text; lines it cannot use are left out, with a note saying why. */
export function parseKnownHosts(text: string, notes: string[], file = 'known_hosts'): KnownHostLine[] {
  const entries: KnownHostLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]!.startsWith('@')) marker = fields.shift();
    if (marker === '@cert-authority') {
      notes.push(`${file} line ${i + 1}: @cert-authority ignored (host certificates are not supported; pin the device's own key or list it)`);
      return;
    }
    if (marker !== undefined && marker !== '@revoked') {
      notes.push(`${file} line ${i + 1}: unknown marker ${marker}, line ignored`);
      return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) {
      notes.push(`${file} line ${i + 1}: not a known_hosts entry, ignored`);
      return;
    }
    const blob = Buffer.from(b64, 'base64');
    const entry: KnownHostLine = { line: i + 1, keyType, blob, ...(marker === '@revoked' ? { marker } : {}) };
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) {
        notes.push(`${file} line ${i + 1}: malformed hashed host, ignored`);
        return;
      }
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else entry.patterns = hosts.split(',');
    entries.push(entry);
  });
  return entries;
}

/** Pins as given, or a note when one is not in `SHA256:<base64>` form (a typo must not silently pin nothing). */
function normalisePins(pinned: HostKeyVerifierOptions['pinned']): Map<string, string[]> {
  const pins = new Map<string, string[]>();
  for (const [key, value] of Object.entries(pinned ?? {})) {
    const list = (typeof value === 'string' ? [value] : [...value]).map((f) => f.trim().replace(/=+$/, ''));
    for (const f of list) {
      if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(f)) throw new Error(`pinned host key for ${key}: '${f}' is not a SHA256 fingerprint (expected SHA256: and 43 base64 characters, as ssh-keygen -lf prints)`);
    }
    pins.set(key, list);
  }
  return pins;
}

export class HostKeyVerifier {
  /** Lines of the known_hosts file that were ignored, and why (for the operator, logged once). */
  readonly notes: string[] = [];
  private readonly pins: Map<string, string[]>;
  private cache?: { stamp: string; entries: KnownHostLine[] };
  /** Appends one after another: concurrent first contacts must not interleave lines. */
  private appending: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HostKeyVerifierOptions) {
    if (opts.firstContact === 'remember' && opts.knownHostsFile === undefined) {
      throw new Error("first contact 'remember' needs a known_hosts file to remember keys in");
    }
    this.pins = normalisePins(opts.pinned);
  }

  /** Decides on the key blob `offered` by `target`. Never throws for a bad key: it refuses it. */
  async verify(target: HostKeyTarget, offered: Buffer): Promise<HostKeyDecision> {
    const first = this.decide(target, offered, false);
    if (first.accept || first.reason !== 'host_key_unknown' || this.opts.firstContact !== 'remember') return first;
    // Decide again with the file to ourselves: two sessions to one new device
    // must remember one key, and a key remembered meanwhile must be enforced.
    const decided = this.appending.then(async () => {
      const again = this.decide(target, offered, true);
      if (again.accept && again.source.startsWith('first contact')) await this.append(knownHostsName(target.host, target.port), offered);
      return again;
    });
    this.appending = decided.catch(() => undefined);
    return decided;
  }

  private decide(target: HostKeyTarget, offered: Buffer, mayRemember: boolean): HostKeyDecision {
    const name = knownHostsName(target.host, target.port);
    const who = `${target.name !== undefined && target.name !== target.host ? `${target.name} (${target.host}:${target.port})` : `${target.host}:${target.port}`}`;
    const fingerprint = sshKeyFingerprint(offered);
    const offeredText = `${sshKeyType(offered)} ${fingerprint}`;
    const file = this.opts.knownHostsFile;
    const entries = this.knownHosts();
    const removeHint = file !== undefined ? `ssh-keygen -R '${name}' -f '${file}'` : '';

    const revoked = entries.find((e) => e.marker === '@revoked' && e.blob.equals(offered) && lineMatches(e, name));
    if (revoked) {
      return { accept: false, reason: 'host_key_revoked', message: `host key of ${who} is revoked: it offered ${offeredText}, which ${file} line ${revoked.line} marks @revoked; the device must be given a new key` };
    }

    const pinned = this.pinsFor(target);
    if (pinned) {
      if (pinned.fingerprints.includes(fingerprint)) return { accept: true, source: `pinned fingerprint (${pinned.key})` };
      return {
        accept: false,
        reason: 'host_key_mismatch',
        message: `host key of ${who} does not match: it offered ${offeredText}, the fingerprint pinned for ${pinned.key} is ${pinned.fingerprints.join(' or ')}; if the device's key changed on purpose, pin the new fingerprint (ssh-keygen -lf on the device's key), otherwise something is intercepting the connection`,
      };
    }

    const known = entries.filter((e) => e.marker === undefined && lineMatches(e, name));
    const same = known.find((e) => e.blob.equals(offered));
    if (same) return { accept: true, source: `${file} line ${same.line}` };
    if (known.length > 0) {
      const expected = known.map((e) => `${e.keyType} ${sshKeyFingerprint(e.blob)} (${file} line ${e.line})`).join(', ');
      return {
        accept: false,
        reason: 'host_key_mismatch',
        message: `host key of ${who} does not match: it offered ${offeredText}, expected ${expected}; if the device's key changed on purpose, remove the old one (${removeHint}) and connect again, otherwise something is intercepting the connection`,
      };
    }

    if (mayRemember) {
      return { accept: true, source: `first contact, remembered in ${file}` };
    }
    const where = file !== undefined ? `not in ${file}` : 'no known_hosts file configured';
    return {
      accept: false,
      reason: 'host_key_unknown',
      message: `host key of ${who} is unknown (${where}, no pinned fingerprint): it offered ${offeredText}; check that fingerprint on the device (show system connections / ssh-keygen -lf), then add the key to the known_hosts file (ssh-keyscan -p ${target.port} ${target.host}) or pin it`,
    };
  }

  private pinsFor(target: HostKeyTarget): { key: string; fingerprints: string[] } | undefined {
    // An IPv6 address with its port is written [addr]:port: `2001:db8::1:830` would also be the address 2001:db8::1:830.
    const withPort = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    for (const key of [target.name, withPort, target.host]) {
      if (key === undefined) continue;
      const fingerprints = this.pins.get(key);
      if (fingerprints) return { key, fingerprints };
    }
    return undefined;
  }

  /** The file's entries, re-read when it changed (an operator's `ssh-keygen -R` applies without a restart). */
  private knownHosts(): KnownHostLine[] {
    const file = this.opts.knownHostsFile;
    if (file === undefined) return [];
    const st = statSync(file, { throwIfNoEntry: false });
    if (st === undefined) return [];
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.cache?.stamp !== stamp) {
      this.notes.length = 0;
      this.cache = { stamp, entries: parseKnownHosts(readFileSync(file, 'utf8'), this.notes, file) };
    }
    return this.cache.entries;
  }

  /** Appends `name keytype base64` to the known_hosts file: created 0600, never through a link. */
  private async append(name: string, blob: Buffer): Promise<void> {
    const file = this.opts.knownHostsFile!;
    const line = `${name} ${sshKeyType(blob)} ${blob.toString('base64')}\n`;
    const { O_RDWR, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = constants;
    const handle = await open(file, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    try {
      const st = await handle.stat();
      const why = unsafeEntry(st, true);
      if (why !== undefined) throw new Error(`${file} is ${why}; keys are appended only to a regular file`);
      // A file not ending in a newline (hence read and write access) would glue our entry to its last line.
      let prefix = '';
      if (st.size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, st.size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      await handle.write(prefix + line);
    } finally {
      await handle.close();
    }
  }
}
