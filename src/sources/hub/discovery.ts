/**
 * The opt-in discovery scan: asks each configured port `/info` and reads a
 * peripheral's `name`, `uuid`, `key=value…`, `EOF`. Unlike EGG (every local
 * port 2000-8000 every 5 s), it probes only the listed ports, at most `rate`
 * a second, never the hub's own ports, one at a time, each bounded in time
 * and in reply size.
 */
import net from 'node:net';
import { parseInfoReply, type InfoReply } from './peripheral-config.js';

const MAX_REPLY_BYTES = 16 * 1024;

export interface DiscoveryOptions {
  host: string;
  ports: readonly number[];
  /** The hub's own ports: skipped. */
  own: ReadonlySet<number>;
  intervalMs: number;
  rate: number;
  timeoutMs: number;
}

export type Found = (reply: InfoReply, port: number) => void;

/** Runs scans until `signal` aborts; each probe's outcome goes to `found` (no answer is not news: nothing listens there). */
export async function runDiscovery(opts: DiscoveryOptions, found: Found, signal: AbortSignal): Promise<void> {
  const ports = opts.ports.filter((p) => !opts.own.has(p));
  const gapMs = 1000 / opts.rate;
  while (!signal.aborted) {
    const started = Date.now();
    for (const port of ports) {
      if (signal.aborted) return;
      const probeStart = Date.now();
      const reply = await probe(opts.host, port, opts.timeoutMs, signal);
      if (reply) found(reply, port);
      await sleep(Math.max(0, gapMs - (Date.now() - probeStart)), signal);
    }
    await sleep(Math.max(0, opts.intervalMs - (Date.now() - started)), signal);
  }
}

/** One `/info` exchange; undefined when nothing answers as a peripheral does. */
export function probe(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<InfoReply | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      socket.destroy();
      resolve(text ? parseInfoReply(text) : undefined);
    };
    const timer = setTimeout(finish, timeoutMs);
    signal?.addEventListener('abort', finish, { once: true });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', () => socket.write('/info\n'));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.length > MAX_REPLY_BYTES || /(^|\n)EOF\r?(\n|$)/.test(text)) finish();
    });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
