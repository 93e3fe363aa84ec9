/**
 * The local control server (node:http only): GET /healthz, /metrics, /status
 * read the recorder's counters; the commands (POST /rotate, /reload,
 * /streams, /streams/<name>/pause|resume, DELETE /streams/<name>) change it.
 * Bound to loopback by default. Who may ask what is request-guard.ts: the
 * Host and Origin of every request, a token for every command even on
 * loopback, and with control.token set a token for everything.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/errors.js';
import type { ControlConfig } from '../config/loader.js';
import { diskFreeBytes } from './disk-free.js';
import { BodyTooLarge, readBody } from './request-body.js';
import { RequestGuard, type Refusal } from './request-guard.js';
import { freshnessBoundMs, type RecorderView, type StreamView } from './view.js';

const ROUTES = new Set(['/healthz', '/metrics', '/status']);

/** The largest command body (a stream's settings). */
const BODY_LIMIT = 64 * 1024;

export class ControlServer {
  private readonly server: Server;
  /**
   * Built at the first scrape: prom-client costs ~40 ms of CPU and ~10 MB to
   * load, and its default collectors (event-loop lag, GC) run whether or not
   * anyone scrapes. A recorder nobody scrapes pays for none of it.
   */
  private registry: Promise<Registry> | undefined;
  private readonly guard: RequestGuard;

  /** `commandToken`: what commands need, the configured token or the one the recorder wrote into `tokenFile`. */
  constructor(private readonly view: RecorderView, private readonly cfg: ControlConfig, commandToken: string, tokenFile?: string) {
    this.guard = new RequestGuard(cfg, commandToken, tokenFile);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => sendJson(res, 500, { error: `internal error: ${err.message}` }));
    });
    // Idle keep-alive connections must not hold the recorder open at its stop.
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  /** Listens; resolves with the URL clients use. Port in use and the like are configuration errors (exit 2). */
  listen(): Promise<string> {
    const { host, port } = this.cfg;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const where = `${host}:${port}`;
        if (err.code === 'EADDRINUSE') reject(new ConfigError(`control.port: ${where} is already in use (another nsr or another program listens there); choose another control.port, or 0 to take any free port (nsr status finds it)`));
        else if (err.code === 'EACCES') reject(new ConfigError(`control.port: not permitted to listen on ${where} (ports below 1024 need privileges); choose a port above 1023, or 0`));
        else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') reject(new ConfigError(`control.host: ${host} is not an address of this machine (${err.code}); use 127.0.0.1`));
        else reject(new ConfigError(`control: cannot listen on ${where}: ${err.message}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        this.guard.listening(address);
        resolve(urlOf(address));
      });
    });
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // A request still running (a slow scrape) gets a moment; then connections are cut.
    const timer = setTimeout(() => this.server.closeAllConnections(), 1000);
    await closed;
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = this.guard.checkRequest(req);
    if (refused) return refuse(res, refused);
    const path = (req.url ?? '/').split('?', 1)[0];
    let route: Route | undefined;
    try {
      route = routeOf(path);
    } catch {
      return sendJson(res, 400, { error: `the path ${JSON.stringify(path.slice(0, 200))} has a malformed %-escape; escape a stream name with encodeURIComponent` });
    }
    if (route?.kind === 'source') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: `a source's command is POST ${path}` });
      const denied = this.guard.checkCommand(req);
      if (denied) return refuse(res, denied);
      return this.sourceCommand(req, res, route.stream, route.action);
    }
    if (route?.kind === 'streams' && (req.method === 'POST' || req.method === 'DELETE')) {
      const denied = this.guard.checkCommand(req);
      if (denied) return refuse(res, denied);
      return this.changeStreams(req, res, route.name);
    }
    if (route && route.kind !== 'streams') {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        return sendJson(res, 405, { error: `method ${req.method} not allowed on ${path}; commands are POST` });
      }
      const denied = this.guard.checkCommand(req);
      if (denied) return refuse(res, denied);
      return this.runCommand(route, res);
    }
    if (!ROUTES.has(path)) return sendJson(res, 404, { error: 'Not Found', routes: [...ROUTES] });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `method ${req.method} not allowed on ${path}; use GET` });
    }
    if (path === '/healthz') return this.healthz(res);
    if (path === '/metrics') {
      this.registry ??= import('./metrics.js').then((m) => m.createMetricsRegistry(this.view));
      const registry = await this.registry;
      const text = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    return sendJson(res, 200, await this.status());
  }

  /**
   * `POST /streams` with `{"name": …, <stream config>}` adds a stream;
   * `DELETE /streams/<name>` removes one. Both are kept across restarts.
   */
  private async changeStreams(req: IncomingMessage, res: ServerResponse, name: string | undefined): Promise<void> {
    if (this.view.stopping()) return sendJson(res, 409, { error: 'the recorder is stopping' });
    try {
      if (req.method === 'DELETE') {
        if (!name) return sendJson(res, 405, { error: 'DELETE /streams/<name> removes one stream' });
        const done = await this.view.commands.removeStream(name);
        if (!done) return sendJson(res, 404, { error: `no stream "${name}"`, streams: this.view.streams().map((s) => s.name) });
        return sendJson(res, 200, done);
      }
      if (name) return sendJson(res, 405, { error: 'POST /streams adds a stream: {"name": …, "kind": …}' });
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req, BODY_LIMIT));
      } catch (err) {
        if (err instanceof BodyTooLarge) return sendJson(res, 413, { error: `${err.message}; a stream's settings fit in far less: send them alone` });
        return sendJson(res, 400, { error: `the body must be a JSON object: {"name": "graphinfo", "kind": "ndtwin", "data": "graph"} (${(err as Error).message})` });
      }
      if (!body || typeof body !== 'object' || Array.isArray(body) || typeof (body as { name?: unknown }).name !== 'string') {
        return sendJson(res, 400, { error: 'the body must be a JSON object with a string "name" and the stream\'s settings, e.g. {"name": "graphinfo", "kind": "ndtwin", "data": "graph"}' });
      }
      const { name: newName, ...config } = body as { name: string } & Record<string, unknown>;
      return sendJson(res, 200, await this.view.commands.addStream(newName, config));
    } catch (err) {
      return sendJson(res, err instanceof ConfigError ? 400 : 500, { error: (err as Error).message, applied: false });
    }
  }

  /** `POST /streams/<name>/source/<action>` with a JSON object: a command of that stream's source (`nsr hub …`). */
  private async sourceCommand(req: IncomingMessage, res: ServerResponse, stream: string, action: string): Promise<void> {
    if (this.view.stopping()) return sendJson(res, 409, { error: 'the recorder is stopping' });
    const s = this.view.streams().find((x) => x.name === stream);
    if (!s?.command) return sendJson(res, 404, { error: s ? `the stream "${stream}" takes no commands of its own` : `no stream "${stream}"`, streams: this.view.streams().filter((x) => x.command).map((x) => x.name) });
    let args: unknown;
    try {
      args = JSON.parse((await readBody(req, BODY_LIMIT)) || '{}');
    } catch (err) {
      return sendJson(res, 400, { error: `the body must be a JSON object (${(err as Error).message})` });
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) return sendJson(res, 400, { error: 'the body must be a JSON object, e.g. {"route": "asr_llm"}' });
    const answer = await s.command(action, args as Record<string, unknown>);
    sendJson(res, answer.status, answer.body);
  }

  /** Commands change the recorder: each answers what it did, or why it did nothing. */
  private async runCommand(command: Command, res: ServerResponse): Promise<void> {
    if (this.view.stopping()) return sendJson(res, 409, { error: 'the recorder is stopping' });
    if (command.kind === 'rotate') return sendJson(res, 200, { rotated_windows: await this.view.commands.rotate() });
    if (command.kind === 'reload') {
      try {
        return sendJson(res, 200, await this.view.commands.reload());
      } catch (err) {
        return sendJson(res, 400, { error: (err as Error).message, applied: false });
      }
    }
    const paused = this.view.commands.setPaused(command.stream, command.kind === 'pause');
    if (paused === undefined) {
      return sendJson(res, 404, { error: `no stream "${command.stream}"`, streams: this.view.streams().map((s) => s.name) });
    }
    sendJson(res, 200, { stream: command.stream, paused });
  }

  private healthz(res: ServerResponse): void {
    const now = this.view.now();
    const stale = [];
    for (const s of this.view.streams()) {
      const bound = freshnessBoundMs(s);
      if (!s.paused() && this.isStale(s, now)) {
        stale.push({
          stream: s.name,
          last_record_age_ms: s.stats.lastRecordAt ? now - s.stats.lastRecordAt : null,
          freshness_bound_ms: bound,
          last_missed_reason: s.stats.lastMissedReason ?? null,
        });
      }
    }
    // A stream whose window files cannot be written records nothing, however fresh its fetches.
    const failing = this.view.writeFailures().map((f) => ({ stream: f.stream, failing_for_ms: now - f.since, code: f.code ?? null, message: f.message ?? null }));
    // Below output.min_free the streams fetch (and look fresh) but nothing reaches the archives.
    const disk = this.view.disk?.();
    const low = disk?.low ? { disk_low: { free_bytes: disk.freeBytes ?? null, min_free_bytes: disk.minFreeBytes ?? null } } : {};
    const also = { ...low, ...(stale.length ? { stale } : {}) };
    if (stale.length === 0 && failing.length === 0 && !disk?.low) return sendJson(res, 200, { status: 'ok' });
    if (failing.length) return sendJson(res, 503, { status: 'write_failing', write_failing: failing, ...also });
    sendJson(res, 503, { status: disk?.low ? 'disk_low' : 'stale', ...also });
  }

  /** No record within the freshness bound (counted from the first tick while none came yet). */
  private isStale(s: StreamView, now: number): boolean {
    return now - (s.stats.lastRecordAt || this.view.freshSince()) > freshnessBoundMs(s);
  }

  private async status(): Promise<Record<string, unknown>> {
    const v = this.view;
    const now = v.now();
    return {
      version: v.version,
      pid: v.pid,
      now,
      started_at: v.startedAt(),
      uptime_ms: now - v.startedAt(),
      stopping: v.stopping() || undefined,
      output_dir: v.outputDir,
      streams: Object.fromEntries(
        v.streams().map((s) => [
          s.name,
          {
            kind: s.kind,
            target: s.target,
            interval_ms: s.intervalMs,
            timeout_ms: s.timeoutMs,
            freshness_bound_ms: freshnessBoundMs(s),
            last_record_age_ms: s.stats.lastRecordAt ? now - s.stats.lastRecordAt : null,
            stale: !s.paused() && this.isStale(s, now),
            paused: s.paused(),
            fetches: s.stats.fetches,
            records: s.stats.records,
            bytes: s.stats.bytes,
            failures: Object.fromEntries(s.stats.failures),
            missed_ticks: Object.fromEntries(s.stats.missed),
            last_missed_reason: s.stats.lastMissedReason ?? null,
            lateness_ms: s.stats.latenessSummary() ?? null,
            fetch_ms: roundSummary(s.stats.recentFetchMs.summary()),
            queue: { depth: s.queueDepth(), bytes: s.queueBytes() },
            ...s.detail?.(),
          },
        ]),
      ),
      windows_open: v.windowsOpen(),
      compression_backlog: v.compressionBacklog(),
      disk_free_bytes: (await diskFreeBytes(v.outputDir)) ?? null,
      ...diskGuardStatus(v),
      events: v.recentEvents(),
    };
  }
}

/** `disk`, with output.min_free set: the guard's last look (free bytes, its margin) and whether records are held back. */
function diskGuardStatus(v: RecorderView): { disk?: { free_bytes: number | null; min_free_bytes: number | null; low: boolean } } {
  const d = v.disk?.();
  return d ? { disk: { free_bytes: d.freeBytes ?? null, min_free_bytes: d.minFreeBytes ?? null, low: d.low } } : {};
}

type Command = { kind: 'rotate' } | { kind: 'reload' } | { kind: 'pause' | 'resume'; stream: string };
type Route = Command | { kind: 'streams'; name: string | undefined } | { kind: 'source'; stream: string; action: string };

/**
 * `POST /rotate`, `POST /reload`, `POST /streams/<name>/pause|resume`, and
 * `/streams[/<name>]` (POST adds, DELETE removes). Throws URIError on a malformed %-escape.
 */
function routeOf(path: string): Route | undefined {
  if (path === '/rotate') return { kind: 'rotate' };
  if (path === '/reload') return { kind: 'reload' };
  const source = /^\/streams\/([^/]+)\/source\/([a-z_]+)$/.exec(path);
  if (source) return { kind: 'source', stream: decodeURIComponent(source[1]), action: source[2] };
  const command = /^\/streams\/([^/]+)\/(pause|resume)$/.exec(path);
  if (command) return { kind: command[2] as 'pause' | 'resume', stream: decodeURIComponent(command[1]) };
  const streams = /^\/streams(?:\/([^/]+))?$/.exec(path);
  if (streams) return { kind: 'streams', name: streams[1] === undefined ? undefined : decodeURIComponent(streams[1]) };
  return undefined;
}

function refuse(res: ServerResponse, r: Refusal): void {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  sendJson(res, r.status, { error: r.error });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The URL a client on this machine uses: a wildcard bind is reached on loopback. */
function urlOf(a: AddressInfo): string {
  let host = a.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

function roundSummary(s: { p50: number; p99: number; max: number; n: number } | undefined) {
  if (!s) return null;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { p50: r(s.p50), p99: r(s.p99), max: r(s.max), n: s.n };
}
