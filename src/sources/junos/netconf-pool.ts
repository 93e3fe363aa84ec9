/**
 * NETCONF sessions by device (`host:port`). With `keepSessions`, a device's
 * session stays open between cycles, so a cycle pays for three RPCs and not
 * for a TCP connect, SSH key exchange, authentication and hello as well; a
 * session the device closed meanwhile is reopened transparently (and counted).
 * Without it, each cycle opens one session per device and endCycle() closes
 * them. The counters tell what reuse saves.
 */
import { FetchError } from '../source.js';
import type { HostKeyVerifier } from './host-keys.js';
import { NetconfSession, type NetconfCredentials, type NetconfTarget } from './netconf-session.js';

export interface NetconfPoolOptions extends NetconfCredentials {
  hostKeys: HostKeyVerifier;
  keepSessions: boolean;
  /** Bound on one reply (the stream's max body size). */
  maxMessageBytes: number;
  /** How long a polite <close-session/> may take before the connection is cut. */
  closeBoundMs?: number;
}

export interface NetconfPoolCounters {
  /** Sessions opened (reopened ones included). */
  opened: number;
  /** RPCs sent on a session that an earlier RPC had already opened. */
  reused: number;
  /** Session opens that failed. */
  failed: number;
  /** Kept sessions found closed by the device and opened again. */
  reopened: number;
}

interface DeviceSessions {
  session?: NetconfSession;
  opening?: Promise<NetconfSession>;
  /** Whether the session has carried an RPC since it opened (later RPCs count as reuse). */
  used: boolean;
  /** Used in the current cycle (kept sessions of devices no longer polled are closed at its end). */
  seen: boolean;
}

export class NetconfPool {
  readonly counters: NetconfPoolCounters = { opened: 0, reused: 0, failed: 0, reopened: 0 };
  private readonly devices = new Map<string, DeviceSessions>();
  private closed = false;

  constructor(private readonly opts: NetconfPoolOptions) {}

  /** One RPC to `target`, on its session (opened if need be); the <rpc-reply> bytes. */
  async rpc(target: NetconfTarget, body: string, signal: AbortSignal, deadline: number): Promise<Buffer> {
    if (this.closed) throw new FetchError('session_closed', 'the NETCONF pool is closed');
    const key = `${target.host}:${target.port}`;
    const entry = this.devices.get(key) ?? { used: false, seen: false };
    this.devices.set(key, entry);
    entry.seen = true;
    const { session, fresh } = await this.sessionFor(entry, target, signal, deadline);
    try {
      return await this.send(entry, session, body, signal, deadline);
    } catch (err) {
      // A kept session can be closed by the device just as we use it (idle
      // timeout). The RPCs are read-only, so one more try on a new session is safe.
      if (fresh || !(err instanceof FetchError) || err.reason !== 'session_closed' || signal.aborted) throw err;
      const again = await this.sessionFor(entry, target, signal, deadline);
      return this.send(entry, again.session, body, signal, deadline);
    }
  }

  /**
   * The cycle is over: without keepSessions every session is closed; with it,
   * sessions of devices the cycle did not use are (the device left the inventory).
   */
  async endCycle(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, entry] of this.devices) {
      if (this.opts.keepSessions && entry.seen) {
        entry.seen = false;
        continue;
      }
      this.devices.delete(key);
      closing.push(this.closeEntry(entry));
    }
    await Promise.all(closing);
  }

  /** Closes every session (politely, each within the close bound). */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.devices.values()];
    this.devices.clear();
    await Promise.all(entries.map((e) => this.closeEntry(e)));
  }

  /** Sessions open now. */
  get size(): number {
    return [...this.devices.values()].filter((e) => e.session?.open).length;
  }

  private async send(entry: DeviceSessions, session: NetconfSession, body: string, signal: AbortSignal, deadline: number): Promise<Buffer> {
    if (entry.used) this.counters.reused++;
    entry.used = true;
    return session.rpc(body, signal, deadline);
  }

  private async sessionFor(entry: DeviceSessions, target: NetconfTarget, signal: AbortSignal, deadline: number): Promise<{ session: NetconfSession; fresh: boolean }> {
    if (entry.session?.open) return { session: entry.session, fresh: false };
    if (entry.session) {
      // Closed since the last RPC: by the device (idle timeout, restart) or by a timeout.
      entry.session = undefined;
      this.counters.reopened++;
    }
    if (!entry.opening) {
      entry.used = false;
      entry.opening = NetconfSession.open(target, this.opts, signal, deadline).then(
        (session) => {
          this.counters.opened++;
          entry.session = session;
          entry.opening = undefined;
          return session;
        },
        (err: unknown) => {
          this.counters.failed++;
          entry.opening = undefined;
          throw err;
        },
      );
    }
    // RPCs that wait on another's open share it, and its failure.
    return { session: await entry.opening, fresh: true };
  }

  private async closeEntry(entry: DeviceSessions): Promise<void> {
    const session = entry.session ?? (await entry.opening?.catch(() => undefined));
    await session?.close(this.opts.closeBoundMs ?? 1000);
  }
}
