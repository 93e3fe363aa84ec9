/**
 * One HTTP GET per tick over node:http: keep-alive, a per-attempt timeout, and
 * retries inside the tick only while the tick has time left. The body stays a
 * Buffer. Any failure becomes a FetchError with a stable reason; nothing here
 * throws anything else, so a source never dies.
 *
 * Why not got: it costs ~0.1 s of CPU and ~20 MB to load and ~3.5× node:http's
 * CPU per request (BENCHMARKS.md §8, §17), and the recorder at nominal load is
 * mostly start-up and requests. What got did for us is kept here: redirects
 * (GET, at most 10, credentials dropped when the origin changes), gzip/deflate/br
 * decoding, a timeout on the whole request, the size cap, the error reasons.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { FetchError, type BodyKind } from '../source.js';
import { validateBodyAsync } from './body.js';
import { redactUrl, redactUrlsIn } from './redact.js';

export interface HttpFetcherOptions {
  /** What `fetch` gets; sources that fetch many URLs (pages, devices) call `get` instead. */
  url?: string;
  headers?: Record<string, string>;
  expect: BodyKind;
  timeoutMs: number;
  retries: number;
  /** Pause between attempts; an attempt is only started if it can still get `minAttemptMs`. */
  retryDelayMs?: number;
  minAttemptMs?: number;
  /** Responses larger than this are refused (bounded memory against a runaway upstream). */
  maxBodyBytes?: number;
  /** Connections kept per host (default 4): devices polled at once get one each. */
  maxSockets?: number;
  /** TLS: verify the server certificate (default true), against these CAs if given. */
  tls?: { verify: boolean; ca?: Buffer };
}

/** Default cap on one response body: far above NDTwin's largest (~0.3 MB), far below memory trouble. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 ** 2;

/** As got and browsers: a redirect loop ends rather than spending the tick. */
const MAX_REDIRECTS = 10;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials: never sent to another origin a redirect points to (as got). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

export class HttpFetcher {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: HttpFetcherOptions) {
    const maxSockets = opts.maxSockets ?? 4;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: opts.tls?.verify ?? true, ca: opts.tls?.ca });
    // Header names lower-cased so that a configured one replaces ours rather than doubling it.
    this.headers = { 'user-agent': 'nsr', accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' };
    for (const [k, v] of Object.entries(opts.headers ?? {})) this.headers[k.toLowerCase()] = v;
  }

  fetch(signal: AbortSignal, deadline: number): Promise<Buffer> {
    if (!this.opts.url) throw new Error('HttpFetcher.fetch needs a url: call get(url, …)');
    return this.get(this.opts.url, signal, deadline);
  }

  /** One GET of `url`, retried inside the deadline, validated as `expect`. */
  async get(url: string, signal: AbortSignal, deadline: number, expect: BodyKind = this.opts.expect): Promise<Buffer> {
    const retryDelay = this.opts.retryDelayMs ?? 100;
    const minAttempt = this.opts.minAttemptMs ?? 50;
    let attempts = 0;
    let last: FetchError | undefined;
    while (attempts <= this.opts.retries) {
      const left = deadline - Date.now();
      if (attempts > 0 && left < minAttempt + retryDelay) break;
      if (attempts > 0) await sleep(retryDelay, signal);
      if (signal.aborted) break;
      attempts++;
      try {
        return await this.attempt(url, expect, signal, Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now())));
      } catch (err) {
        last = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
        if (!retryable(last.reason)) break;
      }
    }
    if (signal.aborted && !last) last = new FetchError('aborted', 'the fetch was cancelled by shutdown');
    const err = last ?? new FetchError('timeout', 'no time left in the tick for an attempt');
    // An HTTP client's message may quote the URL: its credentials stay out of events and logs.
    throw new FetchError(err.reason, redactUrlsIn(err.message), attempts);
  }

  private async attempt(url: string, expect: BodyKind, signal: AbortSignal, timeoutMs: number): Promise<Buffer> {
    const { status, body } = await this.request(url, signal, timeoutMs);
    if (status < 200 || status >= 300) {
      const snippet = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ');
      throw new FetchError(`http_${status}`, `HTTP ${status} from ${redactUrl(url)}${snippet ? `: ${snippet}` : ''}`);
    }
    return validateBodyAsync(body, expect);
  }

  /** The GET with its redirects, all within one timeout (got's `timeout.request`), as one promise that settles once. */
  private request(url: string, signal: AbortSignal, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
    const max = this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest | undefined;
      let settled = false;
      const finish = (err: FetchError | undefined, value?: { status: number; body: Buffer }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          // The socket may be mid-response: it cannot be reused, so it goes.
          req?.destroy();
          reject(err);
        } else resolve(value!);
      };
      const onAbort = () => finish(new FetchError('aborted', 'the fetch was cancelled by shutdown'));
      const timer = setTimeout(() => finish(new FetchError('timeout', `no complete response within ${timeoutMs} ms`)), timeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });

      const go = (target: URL, headers: Record<string, string>, redirects: number) => {
        const secure = target.protocol === 'https:';
        if (!secure && target.protocol !== 'http:') return finish(new FetchError('fetch_error', `ERR_UNSUPPORTED_PROTOCOL: unsupported protocol "${target.protocol}" in ${redactUrl(target.href)}`));
        const auth = target.username || target.password ? { auth: `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` } : {};
        const options: http.RequestOptions = {
          agent: secure ? this.httpsAgent : this.httpAgent,
          hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
          port: target.port || undefined,
          path: target.pathname + target.search,
          method: 'GET',
          headers,
          ...auth,
        };
        try {
          req = (secure ? https : http).request(options);
        } catch (err) {
          return finish(classify(err, timeoutMs));
        }
        req.on('error', (err) => finish(classify(err, timeoutMs)));
        req.on('response', (res) => {
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if (REDIRECT_CODES.has(status) && location) {
            res.resume();
            if (redirects >= MAX_REDIRECTS) return finish(new FetchError('fetch_error', `ERR_TOO_MANY_REDIRECTS: more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`));
            let next: URL;
            try {
              next = new URL(location, target);
            } catch {
              return finish(new FetchError('fetch_error', `ERR_INVALID_URL: a redirect to an invalid location from ${redactUrl(target.href)}`));
            }
            const sameOrigin = next.origin === target.origin;
            const nextHeaders = sameOrigin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.includes(k)));
            if (!sameOrigin) next.username = next.password = '';
            return go(next, nextHeaders, redirects + 1);
          }
          const announced = Number(res.headers['content-length'] ?? 0);
          if (announced > max) return finish(tooLarge(max, announced));
          const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
          const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : undefined;
          const chunks: Buffer[] = [];
          let received = 0;
          let decoded = 0;
          const decodedChunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            // Stop reading a runaway body as soon as it passes the limit: memory stays bounded.
            if (received > max) return finish(tooLarge(max, received));
            if (decoder) decoder.write(chunk);
            else chunks.push(chunk);
          });
          res.on('aborted', () => finish(new FetchError('connection_reset', 'the connection was closed mid-response (aborted)')));
          res.on('error', (err) => finish(classify(err, timeoutMs)));
          res.on('end', () => {
            if (!res.complete) return finish(new FetchError('connection_reset', 'the connection was closed mid-response (aborted)'));
            if (!decoder) return finish(undefined, { status, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received) });
            decoder.end();
          });
          if (decoder) {
            decoder.on('data', (chunk: Buffer) => {
              decoded += chunk.length;
              // A small compressed body can expand to a huge one: the cap applies to what is kept.
              if (decoded > max) return finish(tooLarge(max, decoded));
              decodedChunks.push(chunk);
            });
            decoder.on('error', (err) => finish(new FetchError('fetch_error', `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`)));
            decoder.on('end', () => finish(undefined, { status, body: Buffer.concat(decodedChunks, decoded) }));
          }
        });
        req.end();
      };
      let first: URL;
      try {
        first = new URL(url);
      } catch {
        return finish(new FetchError('fetch_error', `ERR_INVALID_URL: invalid URL ${redactUrl(url)}`));
      }
      go(first, this.headers, 0);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function tooLarge(max: number, seen: number): FetchError {
  return new FetchError('body_too_large', `the body is larger than max_body_size (${max} bytes; ${seen} announced or received): raise the stream's max_body_size if this is expected`);
}

function classify(err: unknown, timeoutMs: number): FetchError {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ETIMEDOUT':
      return new FetchError('timeout', `no complete response within ${timeoutMs} ms`);
    case 'ABORT_ERR':
    case 'ERR_ABORTED':
      return new FetchError('aborted', 'the fetch was cancelled by shutdown');
    case 'ECONNREFUSED':
      return new FetchError('connection_refused', `connection refused (${e.message})`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new FetchError('connection_reset', `the connection was closed mid-response (${e.message})`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FetchError('dns_error', `the host name does not resolve (${e.message})`);
    case undefined:
      if (e?.name === 'AbortError') return new FetchError('aborted', 'the fetch was cancelled by shutdown');
      return new FetchError('fetch_error', e?.message ?? String(err));
    default:
      return new FetchError('fetch_error', `${e.code}: ${e.message}`);
  }
}

/** Client errors and bad bodies will not change by asking again within the same tick. */
function retryable(reason: string): boolean {
  if (reason.startsWith('http_')) return Number(reason.slice(5)) >= 500 || reason === 'http_429';
  return !['aborted', 'unexpected_body', 'body_too_large', 'dns_error'].includes(reason);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
