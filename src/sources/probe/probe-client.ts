/**
 * One URL probe with Node's own HTTP client: status, the time to connect, to
 * the first byte and to the end, the bytes read, and whether the body matches.
 * Node's http is used directly (not got): a probe needs the phase timings and
 * as little work per request as possible, thousands of times a second
 * (bench/probe.bench.mjs measures both).
 */
import http from 'node:http';
import https from 'node:https';
import type { BodyMatch } from './body-match.js';

export interface ProbeSpec {
  url: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  expectStatus: number[];
  match?: BodyMatch;
  /** The match looks at this many bytes of the body, its start; the rest is counted, not kept. */
  matchBytes: number;
}

export interface ProbeResult {
  status: number | null;
  /** ms from the start to the TCP (and TLS) connection; 0 on a reused connection, null when none was made. */
  connect: number | null;
  first_byte: number | null;
  total: number;
  bytes: number;
  /** The regular expression's verdict; null when there is none or no body was read. */
  match: boolean | null;
  /** What it matched (its first 200 characters): page text, so it may hold anything, quotes and SQL included. */
  matched?: string;
  /** With a pattern: every match (body-match.ts findAll), [] when no body was read; absent without a pattern. */
  matches?: string[];
  /** With a pattern: how many matches there were (more than `matches` holds when they passed MAX_MATCHES_CHARS). */
  match_count?: number;
  /** Error class, null for a probe that got the expected status. */
  error: string | null;
  message?: string;
}

export interface ProbeAgents {
  http: http.Agent;
  https: https.Agent;
}

export function probeAgents(maxSockets: number, tlsVerify: boolean): ProbeAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' }),
    https: new https.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo', rejectUnauthorized: tlsVerify }),
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The text of all matches kept in one record: DAC's regex_mach column holds 515 characters; this leaves room for wider ones. */
export const MAX_MATCHES_CHARS = 8192;

export function runProbe(spec: ProbeSpec, agents: ProbeAgents, signal: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => round(performance.now() - started);
  return new Promise((resolve) => {
    let connect: number | null = null;
    let firstByte: number | null = null;
    let bytes = 0;
    let status: number | null = null;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let settled = false;
    let timedOut = false;
    const finish = (r: Omit<ProbeResult, 'connect' | 'first_byte' | 'total' | 'bytes' | 'status'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve({ status, connect, first_byte: firstByte, total: elapsed(), bytes, ...r });
    };
    let req: http.ClientRequest | undefined;
    // Declared before the request: a request that throws at once (a bad header) finishes through them.
    const timer = setTimeout(() => {
      timedOut = true;
      req?.destroy();
    }, spec.timeoutMs);
    const onAbort = () => req?.destroy();
    try {
      const url = new URL(spec.url);
      const secure = url.protocol === 'https:';
      req = (secure ? https : http).request(url, { agent: secure ? agents.https : agents.http, headers: { 'user-agent': 'nsr-probe', ...spec.headers } });
    } catch (err) {
      return finish({ match: null, ...noMatches(spec), error: 'bad_request', message: (err as Error).message });
    }
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('socket', (socket) => {
      // A pooled connection is already open: connecting cost nothing.
      if (!socket.connecting) connect = 0;
      else socket.once(spec.url.startsWith('https:') ? 'secureConnect' : 'connect', () => (connect = elapsed()));
    });
    req.once('response', (res) => {
      firstByte = elapsed();
      status = res.statusCode ?? null;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (spec.match && keptBytes < spec.matchBytes) {
          kept.push(chunk);
          keptBytes += chunk.length;
        }
      });
      res.once('end', () => {
        // Linear in the bytes kept (RE2), so the time a match takes is bounded by matchBytes.
        const text = spec.match ? Buffer.concat(kept).subarray(0, spec.matchBytes).toString('utf8') : '';
        const found = spec.match?.find(text);
        const all = spec.match?.findAll(text, MAX_MATCHES_CHARS);
        const expected = status !== null && spec.expectStatus.includes(status);
        finish({ match: spec.match ? found !== undefined : null, matched: found?.slice(0, 200), matches: all?.matches, match_count: all?.count, error: expected ? null : 'unexpected_status', message: expected ? undefined : `HTTP ${status}, expected ${spec.expectStatus.join(' or ')}` });
      });
      res.once('error', (err) => finish({ match: null, ...noMatches(spec), ...classify(err, timedOut, signal) }));
      // Closed before its end (a reset mid-body, the timeout): 'end' never comes.
      res.once('close', () => finish({ match: null, ...noMatches(spec), ...classify(Object.assign(new Error('the connection closed mid-body'), { code: 'ECONNRESET' }), timedOut, signal) }));
    });
    req.once('error', (err) => finish({ match: null, ...noMatches(spec), ...classify(err, timedOut, signal) }));
    req.end();
  });
}

/** A probe with a pattern that read no body: no matches (DAC's regex_mach ''), as against no pattern (NULL). */
const noMatches = (spec: ProbeSpec) => (spec.match ? { matches: [] as string[], match_count: 0 } : {});

function classify(err: NodeJS.ErrnoException, timedOut: boolean, signal: AbortSignal): { error: string; message: string } {
  if (timedOut) return { error: 'timeout', message: 'no complete response within the timeout' };
  if (signal.aborted) return { error: 'aborted', message: 'cancelled by shutdown' };
  const code = err.code ?? '';
  const error =
    code === 'ECONNREFUSED'
      ? 'connection_refused'
      : code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE'
        ? 'connection_reset'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'dns_error'
          : code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL')
            ? 'tls_error'
            : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
              ? 'unreachable'
              : 'fetch_error';
  return { error, message: `${code || 'error'}: ${err.message}` };
}
