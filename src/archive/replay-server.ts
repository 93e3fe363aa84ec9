/**
 * Serves recorded archives as the NDTwin kernel (or any recorded API) served
 * them, with the recorded past advancing at `speed` times real time, so the
 * applications that read the kernel can run against yesterday's network.
 *
 * Replay time T = from + (now − startedAt) × speed. A GET for a stream's
 * endpoint answers with the body of that stream's newest record at or before
 * T, byte for byte (src/archive/record-body.ts). Routes match exactly, as the
 * kernel's do: a query string or an unknown path is a 404. The kernel's Top-K
 * route (`?k=N`) is answered from the flow records (top-k-flows.ts). The
 * kernel's routes (/ndt/…) answer browsers on any origin as the kernel does
 * (kernel-cors.ts); the replay's own status stays same-origin.
 *
 * Memory stays constant whatever the archives hold: each stream keeps its
 * current record and one record of lookahead, and reads forward through its
 * windows (readRecords) as T advances; a loop reopens the readers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { stat } from 'node:fs/promises';
import { ConfigError } from '../config/errors.js';
import { readCatalog, type StreamCatalog } from './catalog.js';
import { readRecords, type ArchiveProblem } from './records.js';
import { shapeForEndpoint, type BodyShape } from './record-body.js';
import type { EndpointSource, ReplayOptions, ReplayPlan, ReplayStarted, ReplayStreamInfo } from './replay/plan.js';
import { StreamPlayer, UNREADABLE } from './replay/stream-player.js';
import { allowAnyOrigin, answerPreflight, isKernelRoute } from '../sources/ndtwin/kernel-cors.js';
import { rebindingProblem } from '../control/local-address.js';
import { NDTWIN_ENDPOINTS } from '../sources/ndtwin/ndtwin-endpoints.js';
import { TOP_K_PATH, topKFlows, topKRequest } from '../sources/ndtwin/top-k-flows.js';
import { withoutSecretParams } from '../sources/common/redact.js';

export type { EndpointSource, ReplayOptions, ReplayPlan, ReplayStarted, ReplayStreamInfo } from './replay/plan.js';

export const STATUS_PATH = '/replay/status';
const NOT_FOUND = Buffer.from('{"error":"Not Found"}');
const NO_DATA_YET = Buffer.from('{"error":"No data yet"}');

/** What the original Python recorder recorded, for archives without an events stream. */
const DEFAULT_ENDPOINTS: Record<string, { path: string; shape: BodyShape }> = {
  flowinfo: { path: '/ndt/get_detected_flow_data', shape: { mode: 'wrap' } },
  graphinfo: { path: '/ndt/get_graph_data', shape: { mode: 'merge' } },
};

export class ReplayServer {
  private readonly host: string;
  private readonly port: number;
  private readonly speed: number;
  private readonly now: () => number;
  private readonly onProblem: (p: ArchiveProblem) => void;
  private plan: ReplayPlan | undefined;
  private players = new Map<string, StreamPlayer>();
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private pump: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private notFound = 0;
  /** The stream the Top-K route ranks: the flow stream, else a stream recorded on the Top-K route itself. */
  private topKSource: StreamPlayer | undefined;
  private topKServed = 0;

  constructor(private readonly opts: ReplayOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 8000;
    this.speed = opts.speed ?? 1;
    this.now = opts.now ?? Date.now;
    this.onProblem = opts.onProblem ?? (() => undefined);
    if (!(Number.isFinite(this.speed) && this.speed > 0)) throw new ConfigError(`speed: got ${opts.speed}; expected a positive number such as 1, 10 or 0.5`);
  }

  /** Reads the catalog and the events stream: which stream is served where, and the time range. */
  async prepare(): Promise<ReplayPlan> {
    if (this.plan) return this.plan;
    const { dir } = this.opts;
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw new ConfigError(`${dir}: no such directory; give the directory of the archives (default recorded_info)`);
    // With --from or --to, windows far from the range are pruned by their names and
    // never opened (catalog.ts), as for cat, export and stats: a replay starting
    // months into the original recorder's archives does not inflate every zip before it.
    const { from: rangeFrom, to: rangeTo } = this.opts;
    const range = rangeFrom !== undefined || rangeTo !== undefined ? { from: rangeFrom, to: rangeTo === undefined ? undefined : rangeTo + 1 } : undefined;
    const catalogs = await readCatalog(dir, range ? { range } : {});
    // The events stream is read whole: the start event naming a stream's endpoint may be older than the range.
    const events = range ? (await readCatalog(dir, { streams: ['events'] }))[0] : catalogs.find((c) => c.stream === 'events');
    const data = catalogs.filter((c) => c.stream !== 'events' && c.windows.some(readable));
    if (data.length === 0 && range) throw new ConfigError(`${dir}: no records near --from/--to (${rangeFrom ?? 'the start'} … ${rangeTo ?? 'the end'}); \`nsr ls ${dir}\` shows the time each stream covers`);
    if (data.length === 0) throw new ConfigError(`${dir}: no archives to replay (no window files with records: YYYY_MM_DD_HH-MM-SS_<stream>_json.zip or .json)`);

    const fromEvents = events ? await endpointsFromEvents(events, this.onProblem) : new Map<string, { path: string; shape?: BodyShape }>();
    const map = this.opts.map ?? {};
    for (const [stream, path] of Object.entries(map)) {
      if (!data.some((c) => c.stream === stream)) {
        throw new ConfigError(`--map ${stream}=${path}: no stream ${JSON.stringify(stream)} with records in ${dir} (streams: ${data.map((c) => c.stream).join(', ')})`);
      }
      if (!path.startsWith('/')) throw new ConfigError(`--map ${stream}=${path}: the endpoint must be a path starting with /, e.g. ${stream}=/ndt/get_graph_data`);
    }

    const streams: ReplayStreamInfo[] = [];
    const skipped: ReplayPlan['skipped'] = [];
    for (const c of data) {
      const windows = c.windows.filter(readable);
      const span = { records: windows.reduce((n, w) => n + w.records, 0), first: windows.reduce((m, w) => Math.min(m, w.first), Infinity), last: windows.reduce((m, w) => Math.max(m, w.last), -Infinity) };
      const recorded = fromEvents.get(c.stream);
      const fallback = DEFAULT_ENDPOINTS[c.stream];
      let endpoint: { path: string; from: EndpointSource; shape?: BodyShape } | undefined;
      if (map[c.stream] !== undefined) endpoint = { path: map[c.stream], from: 'map', shape: recorded?.shape };
      else if (recorded) endpoint = { path: recorded.path, from: 'events', shape: recorded.shape };
      else if (fallback) endpoint = { path: fallback.path, from: 'default', shape: fallback.shape };
      if (!endpoint) {
        skipped.push({ stream: c.stream, reason: `no endpoint known (no start event names its target); serve it with --map ${c.stream}=/path` });
        continue;
      }
      // A credential in the query (masked in the start event, in clear in an older archive) is no part of the route.
      endpoint.path = withoutSecretParams(endpoint.path);
      if (endpoint.path === STATUS_PATH) throw new ConfigError(`${c.stream}: ${STATUS_PATH} is the replay's own status endpoint; map the stream elsewhere with --map ${c.stream}=/path`);
      const clash = streams.find((s) => s.path === endpoint.path);
      if (clash) throw new ConfigError(`streams ${clash.stream} and ${c.stream} were both recorded from ${endpoint.path}; serve one of them elsewhere with --map ${c.stream}=/other/path`);
      streams.push({ stream: c.stream, path: endpoint.path, endpointFrom: endpoint.from, shape: endpoint.shape ?? shapeForEndpoint(endpoint.path), ...span });
    }
    if (streams.length === 0) throw new ConfigError(`${dir}: no stream can be served: ${skipped.map((s) => `${s.stream}: ${s.reason}`).join('; ')}`);

    const from = this.opts.from ?? streams.reduce((m, s) => Math.min(m, s.first), Infinity);
    const to = this.opts.to ?? streams.reduce((m, s) => Math.max(m, s.last), -Infinity);
    if (to < from) throw new ConfigError(`--to (${to}) is before --from (${from})`);
    for (const info of streams) {
      const catalog = data.find((c) => c.stream === info.stream)!;
      this.players.set(info.path, new StreamPlayer(info, catalog, readStart(catalog, from), to, this.onProblem));
    }
    this.topKSource = this.players.get(NDTWIN_ENDPOINTS.flow.path) ?? this.players.get(TOP_K_PATH);
    const topK = this.topKSource && { path: TOP_K_PATH, from: this.topKSource.info.stream };
    this.plan = { dir, from, to, streams, skipped, topK };
    return this.plan;
  }

  async start(): Promise<ReplayStarted> {
    const plan = await this.prepare();
    // Readers are opened and moved to `from` before the port opens, so the first request is fast.
    await Promise.all([...this.players.values()].map((p) => p.sync(plan.from, 0)));
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.startedAt = this.now();
    const pumpMs = this.opts.pumpMs ?? 200;
    if (pumpMs > 0) this.pump = setInterval(() => void this.syncAll().catch(() => undefined), pumpMs).unref();
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.port;
    const hostInUrl = this.host.includes(':') ? `[${this.host}]` : this.host;
    return { ...plan, url: `http://${hostInUrl}:${port}`, host: this.host, port };
  }

  async stop(): Promise<void> {
    if (this.pump) clearInterval(this.pump);
    this.pump = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    await Promise.all([...this.players.values()].map((p) => p.close()));
  }

  /** Replay time now, and which loop it is in. */
  clock(): { time: number; cycle: number; ended: boolean } {
    const { from, to } = this.plan!;
    const elapsed = Math.max(0, this.now() - this.startedAt) * this.speed;
    if (!this.opts.loop) return { time: from + elapsed, cycle: 0, ended: from + elapsed > to };
    const period = to - from + 1;
    return { time: from + (elapsed % period), cycle: Math.floor(elapsed / period), ended: false };
  }

  status(): Record<string, unknown> {
    const { time, cycle, ended } = this.clock();
    return {
      replay_time: Math.floor(time),
      replay_time_iso: new Date(Math.floor(time)).toISOString(),
      speed: this.speed,
      from: this.plan!.from,
      to: this.plan!.to,
      loop: Boolean(this.opts.loop),
      cycle,
      ended,
      dir: this.plan!.dir,
      not_found: this.notFound,
      streams: Object.fromEntries(
        [...this.players.values()].map((p) => [
          p.info.stream,
          {
            endpoint: p.info.path,
            endpoint_from: p.info.endpointFrom,
            shape: p.info.shape?.mode ?? null,
            record_timestamp: p.current?.timestamp ?? null,
            served: p.served,
            records: p.info.records,
          },
        ]),
      ),
      skipped: this.plan!.skipped,
      top_k: this.topKSource ? { endpoint: TOP_K_PATH, from: this.topKSource.info.stream, served: this.topKServed } : null,
    };
  }

  private async syncAll(): Promise<void> {
    const { time, cycle } = this.clock();
    await Promise.all([...this.players.values()].map((p) => p.sync(time, cycle)));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = req.url ?? '';
      const rebound = rebindingProblem(req.socket.localAddress, req.headers.host);
      if (rebound) return send(res, 403, Buffer.from(JSON.stringify({ error: 'Forbidden', details: rebound })));
      // The NDTwin Web-GUI calls the kernel from another origin, preflighted.
      if (isKernelRoute(target)) {
        allowAnyOrigin(res);
        if (req.method === 'OPTIONS') return answerPreflight(req, res);
      }
      if (req.method === 'GET' && target === STATUS_PATH) return send(res, 200, Buffer.from(JSON.stringify(this.status())));
      // Routes carry no credential parameters (prepare); a client may still send its own.
      const route = withoutSecretParams(target);
      // The Top-K route takes ?k=N; a stream recorded on the route itself is served as recorded.
      const topK = req.method === 'GET' && !this.players.has(route) ? topKRequest(route) : undefined;
      if (topK && 'error' in topK) return send(res, 400, topK.error);
      const player = req.method !== 'GET' ? undefined : topK ? this.topKSource : this.players.get(route);
      if (!player) {
        this.notFound++;
        return send(res, 404, NOT_FOUND);
      }
      const { time, cycle } = this.clock();
      await player.sync(time, cycle);
      const body = player.currentBody();
      if (!body || !player.current) {
        // Before the stream's first record: tell the client when it comes, in real seconds.
        const first = player.info.first;
        const wait = Math.max(1, Math.ceil((first - time) / this.speed / 1000));
        return send(res, 503, NO_DATA_YET, { 'Retry-After': String(Number.isFinite(wait) ? wait : 1) });
      }
      const timestamp = { 'X-Nsr-Record-Timestamp': String(player.current.timestamp) };
      if (topK) {
        const flows = topKFlows(body, topK.k);
        this.topKServed++;
        return send(res, 200, flows, timestamp);
      }
      player.served++;
      send(res, 200, body, timestamp);
    } catch (err) {
      this.onProblem({ file: this.plan?.dir ?? '', problem: `request ${withoutSecretParams(req.url ?? '')}: ${(err as Error).message}` });
      if (!res.headersSent) send(res, 500, UNREADABLE);
      else res.destroy();
    }
  }
}

function send(res: ServerResponse, status: number, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  res.end(body);
}

const readable = (w: StreamCatalog['windows'][number]) => !w.error && w.records > 0;

/**
 * Where a stream's reader starts for a replay from `from`: the first record of
 * the newest window that began at or before `from` (it holds the record current
 * at `from`), else `from`.
 */
function readStart(catalog: StreamCatalog, from: number): number {
  let start: number | undefined;
  for (const w of catalog.windows) if (readable(w) && w.first <= from) start = Math.max(start ?? -Infinity, w.first);
  return start ?? from;
}

/**
 * The endpoint of each stream from nsr's events stream: the path of the target
 * in the newest start event that names the stream (and the record shape, when
 * the start event carries it).
 */
async function endpointsFromEvents(events: StreamCatalog, onProblem: (p: ArchiveProblem) => void): Promise<Map<string, { path: string; shape?: BodyShape }>> {
  const out = new Map<string, { path: string; shape?: BodyShape }>();
  for await (const { line } of readRecords(events, { onProblem })) {
    if (!/^\{"timestamp":\d+,"event":"start"/.test(line.subarray(0, 60).toString('latin1'))) continue;
    let start: { streams?: Record<string, { target?: unknown; shape?: unknown }> };
    try {
      start = JSON.parse(line.toString('utf8'));
    } catch {
      continue;
    }
    for (const [stream, s] of Object.entries(start.streams ?? {})) {
      if (typeof s?.target !== 'string') continue;
      let path: string;
      try {
        const url = new URL(s.target);
        path = url.pathname + url.search;
      } catch {
        continue;
      }
      out.set(stream, { path, shape: asShape(s.shape) });
    }
  }
  return out;
}

function asShape(v: unknown): BodyShape | undefined {
  const s = v as { mode?: unknown; key?: unknown } | undefined;
  if (s?.mode === 'merge') return { mode: 'merge' };
  // The key is not checked: a stream may have been recorded under different keys across runs.
  if (s?.mode === 'wrap') return { mode: 'wrap' };
  return undefined;
}
