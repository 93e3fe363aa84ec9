/**
 * One HTTP GET per tick with got: keep-alive, a per-attempt timeout, and retries
 * inside the tick only while the tick has time left. The body stays a Buffer.
 * Any failure becomes a FetchError with a stable reason; nothing here throws
 * anything else, so a source never dies.
 */
import http from 'node:http';
import https from 'node:https';
import got, { type Got, RequestError } from 'got';
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

export class HttpFetcher {
  private readonly client: Got;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly opts: HttpFetcherOptions) {
    const maxSockets = opts.maxSockets ?? 4;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: opts.tls?.verify ?? true, ca: opts.tls?.ca });
    this.client = got.extend({
      agent: { http: this.httpAgent, https: this.httpsAgent },
      retry: { limit: 0 }, // retries are ours: got cannot see the tick's deadline
      throwHttpErrors: false,
      responseType: 'buffer',
      headers: { 'user-agent': 'nsr', accept: 'application/json', ...opts.headers },
    });
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
    const max = this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    let res;
    let tooLarge = 0;
    const request = this.client.get(url, { signal, timeout: { request: timeoutMs } });
    // Stop reading a runaway body as soon as it passes the limit: memory stays bounded.
    request.on('downloadProgress', (p: { transferred: number; total?: number }) => {
      if (p.transferred > max || (p.total ?? 0) > max) {
        tooLarge = Math.max(p.transferred, p.total ?? 0);
        request.cancel();
      }
    });
    try {
      res = await request;
    } catch (err) {
      if (tooLarge) throw new FetchError('body_too_large', `the body is larger than max_body_size (${max} bytes; ${tooLarge} announced or received): raise the stream's max_body_size if this is expected`);
      throw classify(err, timeoutMs);
    }
    const body = res.rawBody;
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const snippet = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ');
      throw new FetchError(`http_${res.statusCode}`, `HTTP ${res.statusCode} from ${redactUrl(url)}${snippet ? `: ${snippet}` : ''}`);
    }
    return validateBodyAsync(body, expect);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function classify(err: unknown, timeoutMs: number): FetchError {
  if (err instanceof RequestError) {
    switch (err.code) {
      case 'ETIMEDOUT':
        return new FetchError('timeout', `no complete response within ${timeoutMs} ms`);
      case 'ERR_ABORTED':
        return new FetchError('aborted', 'the fetch was cancelled by shutdown');
      case 'ECONNREFUSED':
        return new FetchError('connection_refused', `connection refused (${err.message})`);
      case 'ECONNRESET':
      case 'EPIPE':
      case 'ERR_STREAM_PREMATURE_CLOSE':
        return new FetchError('connection_reset', `the connection was closed mid-response (${err.message})`);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new FetchError('dns_error', `the host name does not resolve (${err.message})`);
      default:
        return new FetchError('fetch_error', `${err.code ?? 'error'}: ${err.message}`);
    }
  }
  const e = err as Error;
  if (e?.name === 'AbortError') return new FetchError('aborted', 'the fetch was cancelled by shutdown');
  return new FetchError('fetch_error', e?.message ?? String(err));
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
