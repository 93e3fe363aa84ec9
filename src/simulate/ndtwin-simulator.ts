// Simulated NDTwin kernel HTTP API (node:http only) for demos, tests and benchmarks.
//
// The fixture bodies are turned into templates once (literal chunks + value slots) by
// plain text processing, never JSON.parse/JSON.stringify, so uint64 values above 2^53 and
// nlohmann's `0.0`-style doubles survive byte for byte. Values are a deterministic function
// of the current epoch second: the first request of a second renders the template into one
// Buffer (literal copies + ASCII digits, ~0.2 ms for the 140 KB graph); every request of
// that second writes the cached head/tail Buffers around its `"sim_seq":N` marker.

import { readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NdtwinSimulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 8000; 0 = ephemeral
  fixturesDir?: string; // default: <repo>/fixtures/ndtwin
  topology?: 'mininet' | 'testbed'; // default 'mininet'
  latencyMs?: number; // default 0: delay before answering each /ndt request
  /** Internal/testing: clock in epoch milliseconds (default Date.now). */
  now?: () => number;
}

export interface ServedLedger {
  [path: string]: number[];
}

/** Base added to every non-zero Mininet switch DPID so that the bodies carry uint64 > 2^53. */
export const MININET_DPID_BASE = 14721744659231801344n;

const FLOW_PATH = '/ndt/get_detected_flow_data';
const GRAPH_PATH = '/ndt/get_graph_data';
const SERVED_PATH = '/sim/served';

const STATIC_ENDPOINTS = [
  'get_detected_top_k_flow_data',
  'get_power_report',
  'get_cpu_utilization',
  'get_memory_utilization',
  'get_temperature',
  'get_switches_power_state',
  'get_average_link_usage',
  'get_switch_openflow_table_entries',
] as const;

const NOT_FOUND_FALLBACK = '{"error":"Not Found"}';

// ---------------------------------------------------------------------------
// Number formatting (nlohmann::json dump of a double)

/**
 * Format a double exactly like nlohmann::json `dump()`: shortest round-trip digits,
 * always a `.0` when integral, fixed notation for 1e-4 <= |x| < 1e15, otherwise
 * `d.ddde+XX` with at least two exponent digits. NaN/Infinity become `null`.
 */
export function formatNlohmannDouble(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const ax = x < 0 ? -x : x;
  if (ax >= 1e-4 && ax < 1e15) {
    // JS uses fixed notation in this whole range and the same shortest digits.
    const s = String(x);
    return s.includes('.') ? s : s + '.0';
  }
  const sign = x < 0 ? '-' : '';
  const e = ax.toExponential(); // shortest round-trip digits: "d.ddde+X" / "de-X"
  const ePos = e.indexOf('e');
  const mant = e.slice(0, ePos);
  const exp10 = Number(e.slice(ePos + 1));
  const digits = mant.replace('.', '');
  const k = digits.length;
  const n = exp10 + 1; // position of the decimal point relative to the digits
  if (k <= n && n <= 15) return sign + digits + '0'.repeat(n - k) + '.0';
  if (0 < n && n <= 15) return sign + digits.slice(0, n) + '.' + digits.slice(n);
  if (-4 < n && n <= 0) return sign + '0.' + '0'.repeat(-n) + digits;
  const m = k === 1 ? digits : digits[0] + '.' + digits.slice(1);
  const ex = n - 1;
  const abs = ex < 0 ? -ex : ex;
  return sign + m + 'e' + (ex < 0 ? '-' : '+') + (abs < 10 ? '0' + abs : String(abs));
}

// ---------------------------------------------------------------------------
// Deterministic pseudo-random factors

function hash32(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Multiplicative jitter in [0.75, 1.25) for (second, slot). */
function jitter(sec: number, slot: number, salt: number): number {
  return 0.75 + (hash32(sec ^ salt, slot) / 4294967296) * 0.5;
}

// ---------------------------------------------------------------------------
// Text templates

type Slot =
  | { kind: 'flowBps'; flow: number; base: number }
  | { kind: 'flowPps'; flow: number; base: number }
  | {
      kind: 'edge';
      edge: number;
      capacity: number;
      usage: number;
      /** text between the left value and the usage value (capacity is constant) */
      mid1: Buffer;
      /** text between the usage value and the utilization percent */
      mid2: Buffer;
    }
  | { kind: 'marker'; before: string; after: string };

interface Template {
  /** literals.length === slots.length + 1; output = l0 s0 l1 s1 ... ln (UTF-8) */
  literals: Buffer[];
  slots: Slot[];
  /** upper bound of the rendered size in bytes */
  maxBytes: number;
}

interface Cut {
  start: number;
  end: number;
  slot: Slot;
}

interface RenderedBody {
  sec: number;
  /** bytes before the sequence-marker position (the whole body when hasMarker is false) */
  head: Buffer;
  /** bytes after the sequence-marker position */
  tail: Buffer;
  /** whether `"sim_seq":N` is to be inserted between head and tail */
  hasMarker: boolean;
}

function makeTemplate(text: string, cuts: Cut[]): Template {
  cuts.sort((x, y) => x.start - y.start || x.end - y.end);
  const literals: Buffer[] = [];
  const slots: Slot[] = [];
  let maxBytes = 0;
  let last = 0;
  for (const c of cuts) {
    if (c.start < last) throw new Error('internal: overlapping template slots');
    literals.push(Buffer.from(text.slice(last, c.start), 'utf8'));
    slots.push(c.slot);
    const sl = c.slot;
    maxBytes +=
      sl.kind === 'edge' ? 20 + sl.mid1.length + 20 + sl.mid2.length + 32 : sl.kind === 'marker' ? sl.before.length + sl.after.length : 20;
    last = c.end;
  }
  literals.push(Buffer.from(text.slice(last), 'utf8'));
  for (const l of literals) maxBytes += l.length;
  return { literals, slots, maxBytes };
}

/** Write a non-negative safe integer in decimal at `off`; returns the new offset. */
function writeUint(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = 48 + n;
    return off + 1;
  }
  let len = 1;
  for (let p = 10; p <= n && len < 16; p *= 10) len++;
  if (len >= 16) return off + buf.write(String(n), off, 'latin1'); // beyond exact float digit loop
  const end = off + len;
  for (let i = end - 1; i >= off; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 48 + (n - q * 10);
    n = q;
  }
  return end;
}

function remapDpid(d: string): string {
  if (d === '0') return d;
  return (MININET_DPID_BASE + BigInt(d)).toString();
}

/** Remap graph `dpid` / `src_dpid` / `dst_dpid` values (non-zero) by text substitution. */
function remapGraphDpids(text: string): string {
  return text.replace(/"(dpid|src_dpid|dst_dpid)":(\d+)/g, (_m, key: string, d: string) => `"${key}":${remapDpid(d)}`);
}

/** Remap the switch hops (middle elements whose node is <= 65535) of every flow `path`. */
function remapFlowPathDpids(text: string): string {
  return text.replace(/"path":\[([^\]]*)\]/g, (whole, inner: string) => {
    if (inner === '') return whole;
    const hops = inner.split('},{');
    for (let i = 1; i < hops.length - 1; i++) {
      hops[i] = hops[i]!.replace(/"node":(\d+)/, (m2, d: string) => {
        if (d.length > 5 || Number(d) > 65535 || d === '0') return m2;
        return `"node":${remapDpid(d)}`;
      });
    }
    return `"path":[${hops.join('},{')}]`;
  });
}

function buildFlowTemplate(text: string): Template {
  const cuts: Cut[] = [];
  const re = /"estimated_(flow_sending_rate_bps|packet_rate)_in_the_last_sec":(\d+)/g;
  let flow = -1;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const base = Number(m[2]);
    if (!Number.isSafeInteger(base)) continue; // keep verbatim
    const start = m.index + m[0].length - m[2]!.length;
    const end = m.index + m[0].length;
    if (m[1] === 'flow_sending_rate_bps') {
      flow++;
      cuts.push({ start, end, slot: { kind: 'flowBps', flow, base } });
    } else {
      cuts.push({ start, end, slot: { kind: 'flowPps', flow: Math.max(flow, 0), base } });
    }
  }
  const mk = findFlowMarkerOffset(text);
  if (mk) cuts.push({ start: mk.offset, end: mk.offset, slot: { kind: 'marker', before: mk.before, after: mk.after } });
  return makeTemplate(text, cuts);
}

function buildGraphTemplate(text: string): Template {
  const cuts: Cut[] = [];
  const re =
    /"left_link_bandwidth_bps":(\d+),"link_bandwidth_bps":(\d+),"link_bandwidth_usage_bps":(\d+),"link_bandwidth_utilization_percent":([-+.\deE]+|null)/g;
  let edge = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const capacity = Number(m[2]);
    const usage = Number(m[3]);
    if (!Number.isSafeInteger(capacity) || capacity <= 0 || !Number.isSafeInteger(usage)) continue; // keep verbatim
    const leftKey = '"left_link_bandwidth_bps":';
    cuts.push({
      start: m.index + leftKey.length,
      end: m.index + m[0].length,
      slot: {
        kind: 'edge',
        edge: edge++,
        capacity,
        usage: Math.min(usage, capacity),
        mid1: Buffer.from(`,"link_bandwidth_bps":${m[2]!},"link_bandwidth_usage_bps":`, 'latin1'),
        mid2: Buffer.from(',"link_bandwidth_utilization_percent":', 'latin1'),
      },
    });
  }
  // sim_seq goes last in the top-level object: just before the final '}'.
  const close = text.lastIndexOf('}');
  const empty = /^\{\s*\}$/.test(text);
  cuts.push({ start: close, end: close, slot: { kind: 'marker', before: empty ? '' : ',', after: '' } });
  return makeTemplate(text, cuts);
}

/**
 * Where `"sim_seq":N` goes in a flow array: inside the first element (an object), at the
 * sorted key position, i.e. just before the first key that sorts after `sim_seq` (with
 * the kernel's key set that is `"src_ip"`), or before the closing brace if there is none.
 * null when the array is empty or its first element is not an object.
 */
function findFlowMarkerOffset(text: string): { offset: number; before: string; after: string } | null {
  let depth = 0;
  let inString = false;
  let objStart = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 2 && objStart >= 0) {
        // a key or string value inside the first object
        const end = text.indexOf('"', i + 1);
        const word = text.slice(i + 1, end);
        if (text.charCodeAt(end + 1) === 0x3a /* : */ && word > 'sim_seq') {
          return { offset: i, before: '', after: ',' };
        }
      }
      inString = true;
      continue;
    }
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (depth === 1 && c === 0x5b) return null;
      depth++;
      if (depth === 2 && c === 0x7b && objStart < 0) objStart = i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth === 2 && c === 0x7d && objStart >= 0) {
        // end of the first object without a key sorting after sim_seq
        const empty = i === objStart + 1;
        return { offset: i, before: empty ? '' : ',', after: '' };
      }
      depth--;
      if (depth === 0) return null;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------

function readFixture(dir: string, name: string): string | undefined {
  const p = join(dir, name);
  if (!existsSync(p)) return undefined;
  let s = readFileSync(p, 'utf8');
  // Fixtures follow nlohmann dump (no trailing newline); be tolerant anyway.
  while (s.endsWith('\n') || s.endsWith('\r')) s = s.slice(0, -1);
  return s;
}

function defaultFixturesDir(): string {
  return fileURLToPath(new URL('../../fixtures/ndtwin/', import.meta.url));
}

export class NdtwinSimulator {
  private readonly host: string;
  private readonly port: number;
  private readonly latencyMs: number;
  private readonly now: () => number;
  private readonly topology: 'mininet' | 'testbed';

  private readonly flowTpl: Template;
  private readonly graphTpl: Template;
  private readonly staticBodies = new Map<string, Buffer>();
  private readonly notFound: Buffer;

  private flowCache: RenderedBody | null = null;
  private graphCache: RenderedBody | null = null;

  private seq = 0;
  private readonly ledger: ServedLedger = {};
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: NdtwinSimulatorOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 8000;
    this.latencyMs = Math.max(0, opts.latencyMs ?? 0);
    this.now = opts.now ?? Date.now;
    this.topology = opts.topology ?? 'mininet';
    if (this.topology !== 'mininet' && this.topology !== 'testbed') {
      throw new Error(`unknown topology '${String(this.topology)}' (expected mininet or testbed)`);
    }
    const dir = opts.fixturesDir ?? defaultFixturesDir();
    const testbed = this.topology === 'testbed';

    const flowName = 'get_detected_flow_data.json';
    const graphName = testbed ? 'get_graph_data_testbed_u64_dpid.json' : 'get_graph_data.json';
    let flowText = readFixture(dir, flowName);
    let graphText = readFixture(dir, graphName);
    if (flowText === undefined) throw new Error(`simulator fixture missing: ${join(dir, flowName)}`);
    if (graphText === undefined) throw new Error(`simulator fixture missing: ${join(dir, graphName)}`);
    if (!flowText.startsWith('[')) throw new Error(`${flowName}: expected a JSON array`);
    if (!graphText.startsWith('{') || !graphText.endsWith('}')) throw new Error(`${graphName}: expected a JSON object`);
    if (!testbed) {
      flowText = remapFlowPathDpids(flowText);
      graphText = remapGraphDpids(graphText);
    }
    this.flowTpl = buildFlowTemplate(flowText);
    this.graphTpl = buildGraphTemplate(graphText);

    for (const name of STATIC_ENDPOINTS) {
      const body = (testbed ? readFixture(dir, `${name}_testbed.json`) : undefined) ?? readFixture(dir, `${name}.json`);
      if (body !== undefined) this.staticBodies.set(`/ndt/${name}`, Buffer.from(body, 'utf8'));
    }
    this.notFound = Buffer.from(readFixture(join(dir, 'errors'), '404_not_found.json') ?? NOT_FOUND_FALLBACK, 'utf8');
  }

  // ---- rendering -----------------------------------------------------------

  /**
   * Fill the template for one epoch second straight into one Buffer (numbers are written
   * as ASCII digits, literals copied); the result is cached for that second.
   */
  private render(tpl: Template, sec: number): RenderedBody {
    const { literals, slots } = tpl;
    const n = slots.length;
    const buf = Buffer.allocUnsafe(tpl.maxBytes);
    let o = 0;
    let split = -1;
    for (let i = 0; i < n; i++) {
      const lit = literals[i]!;
      buf.set(lit, o);
      o += lit.length;
      const s = slots[i]!;
      switch (s.kind) {
        case 'flowBps':
          o = writeUint(buf, o, Math.round(s.base * jitter(sec, s.flow, 0x51ed)));
          break;
        case 'flowPps':
          // same factor as the flow's bit rate: packets and bits move together
          o = writeUint(buf, o, s.base === 0 ? 0 : Math.max(1, Math.round(s.base * jitter(sec, s.flow, 0x51ed))));
          break;
        case 'edge': {
          const cap = s.capacity;
          let usage = s.usage === 0 ? 0 : Math.round(s.usage * jitter(sec, s.edge, 0x6a09));
          if (usage > cap) usage = cap;
          else if (usage < 0) usage = 0;
          const left = cap - usage;
          o = writeUint(buf, o, left);
          buf.set(s.mid1, o);
          o += s.mid1.length;
          o = writeUint(buf, o, usage);
          buf.set(s.mid2, o);
          o += s.mid2.length;
          o += buf.write(formatNlohmannDouble((1 - left / cap) * 100), o, 'latin1');
          break;
        }
        case 'marker':
          o += buf.write(s.before, o, 'latin1');
          split = o;
          o += buf.write(s.after, o, 'latin1');
          break;
      }
    }
    const lastLit = literals[n]!;
    buf.set(lastLit, o);
    o += lastLit.length;
    if (split < 0) return { sec, head: buf.subarray(0, o), tail: buf.subarray(o, o), hasMarker: false };
    return { sec, head: buf.subarray(0, split), tail: buf.subarray(split, o), hasMarker: true };
  }

  private bodyFor(kind: 'graph' | 'flow', sec: number): RenderedBody {
    if (kind === 'graph') {
      const c = this.graphCache;
      if (c !== null && c.sec === sec) return c;
      return (this.graphCache = this.render(this.graphTpl, sec));
    }
    const c = this.flowCache;
    if (c !== null && c.sec === sec) return c;
    return (this.flowCache = this.render(this.flowTpl, sec));
  }

  /**
   * Internal (tests/benchmarks): the body one of the two dynamic endpoints would send at
   * clock `nowMs` with sequence marker `seq`. `fresh` bypasses the per-second cache.
   * Does not touch the ledger or the global counter.
   */
  buildBody(kind: 'graph' | 'flow', seq: number, nowMs: number = this.now(), fresh = false): Buffer {
    const sec = Math.floor(nowMs / 1000);
    const b = fresh ? this.render(kind === 'graph' ? this.graphTpl : this.flowTpl, sec) : this.bodyFor(kind, sec);
    if (!b.hasMarker) return b.head;
    return Buffer.concat([b.head, Buffer.from('"sim_seq":' + seq, 'latin1'), b.tail]);
  }

  // ---- HTTP ----------------------------------------------------------------

  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.server) throw new Error('simulator already started');
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(this.port, this.host);
    });
    this.server = server;
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : this.port;
    const hostForUrl = this.host.includes(':') ? `[${this.host}]` : this.host;
    return { host: this.host, port, url: `http://${hostForUrl}:${port}` };
  }

  served(): ServedLedger {
    const copy: ServedLedger = {};
    for (const [k, v] of Object.entries(this.ledger)) copy[k] = v.slice();
    return copy;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    if (req.method !== 'GET') return this.send(res, 404, this.notFound);
    if (target === SERVED_PATH) {
      return this.send(res, 200, Buffer.from(JSON.stringify(this.ledger), 'utf8'));
    }
    const kind = target === GRAPH_PATH ? 'graph' : target === FLOW_PATH ? 'flow' : null;
    const staticBody = kind !== null ? undefined : this.staticBodies.get(target);
    if (kind === null && staticBody === undefined) return this.send(res, 404, this.notFound);

    const answer = (): void => {
      if (res.destroyed || res.writableEnded) return;
      if (kind === null) this.send(res, 200, staticBody!);
      else this.sendDynamic(kind, target, res);
    };
    if (this.latencyMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        answer();
      }, this.latencyMs);
      this.timers.add(t);
      res.once('close', () => {
        if (this.timers.delete(t)) clearTimeout(t);
      });
    } else {
      answer();
    }
  }

  private sendDynamic(kind: 'graph' | 'flow', path: string, res: ServerResponse): void {
    const b = this.bodyFor(kind, Math.floor(this.now() / 1000));
    if (!b.hasMarker) return this.send(res, 200, b.head);
    const seq = ++this.seq;
    const marker = '"sim_seq":' + seq;
    res.once('finish', () => {
      (this.ledger[path] ??= []).push(seq);
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': b.head.length + marker.length + b.tail.length,
    });
    // Three writes under cork: one syscall, and the cached buffers are never copied.
    res.cork();
    res.write(b.head);
    res.write(marker, 'latin1');
    res.end(b.tail);
    res.uncork();
  }

  private send(res: ServerResponse, status: number, body: Buffer): void {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  }
}
