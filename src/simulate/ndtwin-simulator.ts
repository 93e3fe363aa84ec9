// Simulated NDTwin kernel HTTP API (node:http only) for demos, tests and benchmarks.
//
// The fixture bodies are turned into templates once (literal chunks + value slots) by
// plain text processing, never JSON.parse/JSON.stringify, so uint64 values above 2^53 and
// nlohmann's `0.0`-style doubles survive byte for byte. Values are a deterministic function
// of the current epoch second: the first request of a second renders the template into one
// Buffer (literal copies + ASCII digits, ~0.2 ms for the 140 KB graph); every request of
// that second writes the cached head/tail Buffers around its `"sim_seq":N` marker.
//
// Fault injection (src/simulate/faults.ts): a FaultPlan (option `faults`, setFaults() or
// `POST /sim/faults`) makes a share of the requests to the two main endpoints fail in one
// of several ways (error status, hang, trickle, reset, malformed, empty, very large).
// goDown() (or `POST /sim/down?ms=N`) closes the listening socket and every connection for
// a while, so that connections are refused, then listens again on the same host:port.
// The served ledger lists only the markers a correct client records: complete, valid
// answers (normal ones and `large` ones).

import { readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FAULT_KINDS,
  FaultPicker,
  type FaultKind,
  type FaultPlan,
  type NormalizedFaultPlan,
} from './faults.js';

export {
  DEFAULT_CLI_FAULT_KINDS,
  DEFAULT_LARGE_BYTES,
  DEFAULT_TRICKLE_MS,
  FAULT_KINDS,
  FAULTABLE_PATHS,
  mulberry32,
  parseFaultPlan,
  type FaultKind,
  type FaultPlan,
  type NormalizedFaultPlan,
} from './faults.js';

export interface NdtwinSimulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 8000; 0 = ephemeral
  fixturesDir?: string; // default: <repo>/fixtures/ndtwin
  topology?: 'mininet' | 'testbed'; // default 'mininet'
  latencyMs?: number; // default 0: delay before answering each /ndt request
  /** Fault injection for the two main endpoints (default: none); see setFaults(). */
  faults?: FaultPlan;
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
const FAULTS_PATH = '/sim/faults';
const DOWN_PATH = '/sim/down';
const SIM_PREFIX = '/sim/';
/** Largest request body accepted by the /sim/ control endpoints. */
const MAX_CONTROL_BODY = 1 << 20;
/** Trickle: one piece about every this many ms. */
const TRICKLE_TICK_MS = 100;

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
const ERROR_500_FIXTURES: [name: string, fallback: string][] = [
  ['500_internal_server_error.json', '{"details":"std::bad_alloc","error":"Internal server error"}'],
  ['500_unknown.json', '{"error":"An unknown error occurred"}'],
];
const EMPTY = Buffer.alloc(0);

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
// `large` bodies

interface LargeBody {
  bytes: number;
  /** bytes before the sequence-marker position (the whole body when hasMarker is false) */
  head: Buffer;
  tail: Buffer;
  hasMarker: boolean;
}

/** `count` copies of `',' + items`, one Buffer. */
function repeatItems(items: Buffer, count: number): Buffer {
  const unit = items.length + 1;
  const out = Buffer.allocUnsafe(unit * count);
  if (count === 0) return out;
  out[0] = 0x2c; // ','
  out.set(items, 1);
  // doubling copies: ~log2(count) memcpy calls
  let filled = unit;
  const total = out.length;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    out.copy(out, filled, 0, n);
    filled += n;
  }
  return out;
}

/** How many `,items` copies bring a body of `base` bytes to about `target` bytes. */
function copiesFor(base: number, items: number, target: number): number {
  if (items === 0 || target <= base) return 0;
  return Math.ceil((target - base) / (items + 1));
}

/** Approximate size of a `"sim_seq":N` marker, for the size estimate. */
const MARKER_BYTES_ESTIMATE = 20;

/**
 * Flow array: `[o0,o1,...,on]` becomes `[o0+marker,o1,...,on,o0,o1,...,on,...]`; the copies
 * carry no marker. `before`/`after` are the comma around the marker in the first object.
 */
function buildLargeFlow(b: RenderedBody, before: string, after: string, target: number): LargeBody {
  const { head, tail } = b;
  const close = tail.lastIndexOf(0x5d); // ']'
  if (close < 0) return { bytes: target, head, tail, hasMarker: b.hasMarker };
  // the same array without the marker (and without the comma that went with it)
  const plain = Buffer.concat([head.subarray(0, head.length - before.length), tail.subarray(after.length)]);
  const plainClose = plain.lastIndexOf(0x5d);
  const items = plain.subarray(1, plainClose); // between '[' and ']'
  const k = copiesFor(head.length + tail.length + MARKER_BYTES_ESTIMATE, items.length, target);
  const newTail = Buffer.concat([tail.subarray(0, close), repeatItems(items, k), tail.subarray(close)]);
  return { bytes: target, head, tail: newTail, hasMarker: true };
}

/**
 * Byte range [start, end) of the contents of the array under `key` in the top-level
 * object of `buf` (start just after '[', end at the matching ']'), or null.
 */
function findTopLevelArray(buf: Buffer, key: string): { start: number; end: number } | null {
  const keyBytes = Buffer.from(`"${key}"`, 'utf8');
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 1 && buf.compare(keyBytes, 0, keyBytes.length, i, i + keyBytes.length) === 0) {
        let j = i + keyBytes.length;
        while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x0d || buf[j] === 0x09) j++;
        if (buf[j] === 0x3a /* : */) {
          j++;
          while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x0d || buf[j] === 0x09) j++;
          if (buf[j] !== 0x5b /* [ */) return null;
          const start = j + 1;
          let d = 1;
          let str = false;
          for (let k = start; k < buf.length; k++) {
            const ch = buf[k]!;
            if (str) {
              if (ch === 0x5c) k++;
              else if (ch === 0x22) str = false;
            } else if (ch === 0x22) str = true;
            else if (ch === 0x5b || ch === 0x7b) d++;
            else if (ch === 0x5d || ch === 0x7d) {
              if (--d === 0) return { start, end: k };
            }
          }
          return null;
        }
      }
      inString = true;
      continue;
    }
    if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}

/** Graph object: the `edges` array extended with copies of its edges; the marker stays last. */
function buildLargeGraph(b: RenderedBody, target: number): LargeBody {
  const { head, tail } = b;
  const r = findTopLevelArray(head, 'edges');
  if (r === null || r.end === r.start) return { bytes: target, head, tail, hasMarker: b.hasMarker };
  const items = head.subarray(r.start, r.end);
  const k = copiesFor(head.length + tail.length + MARKER_BYTES_ESTIMATE, items.length, target);
  const newHead = Buffer.concat([head.subarray(0, r.end), repeatItems(items, k), head.subarray(r.end)]);
  return { bytes: target, head: newHead, tail, hasMarker: b.hasMarker };
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

interface DownState {
  /** Date.now() at which the simulator listens again */
  until: number;
  timer: NodeJS.Timeout | null;
  /** stop() was called while down: do not listen again */
  cancelled: boolean;
  /** the old server has closed (all its connections gone) */
  closing: Promise<void>;
  /** listening again (started when the timer fires) */
  relisten: Promise<void> | null;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
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
  private readonly error500Bodies: Buffer[];
  private error500Next = 0;

  private flowCache: RenderedBody | null = null;
  private graphCache: RenderedBody | null = null;

  private seq = 0;
  private readonly ledger: ServedLedger = {};
  /** When each ledger entry completed (epoch ms): lets a soak tell a loss at a kill from any other. */
  private readonly servedAt = new Map<number, number>();
  private server: Server | null = null;
  /** the port actually bound by start() (goDown() listens there again) */
  private boundPort: number | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private down: DownState | null = null;

  private faultPicker: FaultPicker | null = null;
  private readonly faultCounters: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;
  /** `large` bodies, built lazily once per endpoint kind (and size) */
  private readonly largeCache = new Map<'flow' | 'graph', LargeBody>();

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
    this.error500Bodies = ERROR_500_FIXTURES.map(([name, fallback]) =>
      Buffer.from(readFixture(join(dir, 'errors'), name) ?? fallback, 'utf8'),
    );
    if (opts.faults !== undefined) this.setFaults(opts.faults);
  }

  // ---- faults --------------------------------------------------------------

  /**
   * Install (or with null remove) a fault plan; takes effect for the next request. The
   * plan is validated (an Error names the bad field); a seeded plan restarts its PRNG.
   * Counters (faultCounts()) are kept across plans.
   */
  setFaults(plan: FaultPlan | null): void {
    this.faultPicker = plan === null || plan === undefined ? null : new FaultPicker(plan);
  }

  /** The current plan with defaults filled in, or null. */
  faultPlan(): NormalizedFaultPlan | null {
    const p = this.faultPicker?.plan;
    return p ? { ...p, kinds: p.kinds.slice(), paths: p.paths.slice() } : null;
  }

  /** How many faults of each kind were injected so far (every kind listed, zeros included). */
  faultCounts(): Record<string, number> {
    return { ...this.faultCounters };
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

  /**
   * The `large` body of an endpoint kind for about `bytes` bytes: built once from the
   * values of the current second (frozen afterwards) and cached as head/tail around the
   * marker, so a request only writes the cached Buffers.
   */
  private largeBody(kind: 'graph' | 'flow', bytes: number): LargeBody {
    const cached = this.largeCache.get(kind);
    if (cached !== undefined && cached.bytes === bytes) return cached;
    this.largeCache.delete(kind); // let the old one go before building a new one
    const b = this.bodyFor(kind, Math.floor(this.now() / 1000));
    let built: LargeBody;
    if (!b.hasMarker) {
      built = { bytes, head: b.head, tail: b.tail, hasMarker: false }; // empty flow array: nothing to repeat
    } else if (kind === 'flow') {
      const slot = this.flowTpl.slots.find((s) => s.kind === 'marker');
      built =
        slot !== undefined && slot.kind === 'marker'
          ? buildLargeFlow(b, slot.before, slot.after, bytes)
          : { bytes, head: b.head, tail: b.tail, hasMarker: true };
    } else {
      built = buildLargeGraph(b, bytes);
    }
    this.largeCache.set(kind, built);
    return built;
  }

  // ---- HTTP ----------------------------------------------------------------

  private listenOn(port: number): Promise<Server> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return new Promise<Server>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve(server);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, this.host);
    });
  }

  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.server || this.down) throw new Error('simulator already started');
    const server = await this.listenOn(this.port);
    this.server = server;
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : this.port;
    this.boundPort = port;
    const hostForUrl = this.host.includes(':') ? `[${this.host}]` : this.host;
    return { host: this.host, port, url: `http://${hostForUrl}:${port}` };
  }

  /** Destroy every open connection (idle keep-alive, in flight, hanging, trickling). */
  private dropConnections(server: Server): void {
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Go down for `ms` milliseconds: close the listening socket and destroy every open
   * connection, so that new connections are refused (ECONNREFUSED); then listen again on
   * the same host:port. Resolves once listening again (at once, without listening, if
   * stop() is called meanwhile); rejects if listening again fails (e.g. EADDRINUSE).
   * Called while already down, it extends the down time to at least `ms` from now and
   * returns the same promise.
   */
  goDown(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      return Promise.reject(new RangeError(`goDown: ms must be a non-negative number, got ${String(ms)}`));
    }
    const d = this.down;
    if (d !== null) {
      const until = Date.now() + ms;
      if (d.timer !== null && until > d.until) {
        clearTimeout(d.timer);
        d.until = until;
        d.timer = this.downTimer(d, ms);
      }
      return d.promise;
    }
    const server = this.server;
    if (server === null) return Promise.reject(new Error('goDown: the simulator is not running'));
    this.server = null;
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const state: DownState = {
      until: Date.now() + ms,
      timer: null,
      cancelled: false,
      closing: new Promise<void>((res) => server.close(() => res())),
      relisten: null,
      promise,
      resolve,
      reject,
    };
    this.dropConnections(server);
    state.timer = this.downTimer(state, ms);
    this.down = state;
    return promise;
  }

  private downTimer(state: DownState, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      state.timer = null;
      state.relisten = this.relisten(state);
    }, ms);
  }

  private async relisten(state: DownState): Promise<void> {
    await state.closing;
    if (state.cancelled) return;
    let server: Server;
    try {
      server = await this.listenOn(this.boundPort ?? this.port);
    } catch (err) {
      if (!state.cancelled) {
        this.down = null;
        state.reject(err as Error);
      }
      return;
    }
    if (state.cancelled) {
      // stop() ran while listening again
      await new Promise<void>((res) => server.close(() => res()));
      return;
    }
    this.server = server;
    this.down = null;
    state.resolve();
  }

  served(): ServedLedger {
    const copy: ServedLedger = {};
    for (const [k, v] of Object.entries(this.ledger)) copy[k] = v.slice();
    return copy;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const d = this.down;
    if (d !== null) {
      this.down = null;
      d.cancelled = true;
      if (d.timer !== null) clearTimeout(d.timer);
      d.timer = null;
      d.resolve();
      await d.closing;
      if (d.relisten !== null) await d.relisten;
    }
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      this.dropConnections(server);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    if (target.startsWith(SIM_PREFIX)) return this.handleSim(req, res, target);
    if (req.method !== 'GET') return this.send(res, 404, this.notFound);
    const kind = target === GRAPH_PATH ? 'graph' : target === FLOW_PATH ? 'flow' : null;
    const staticBody = kind !== null ? undefined : this.staticBodies.get(target);
    if (kind === null && staticBody === undefined) return this.send(res, 404, this.notFound);

    // The fault is decided on arrival (request order = PRNG order), applied when answering.
    const picker = kind !== null ? this.faultPicker : null;
    const fault = picker !== null ? picker.pick(target) : null;
    const answer = (): void => {
      if (res.destroyed || res.writableEnded) return;
      if (kind === null) this.send(res, 200, staticBody!);
      else if (fault !== null) this.sendFault(fault, picker!.plan, kind, target, res);
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
    this.sendMarked(path, res, b.head, b.tail);
  }

  /** 200 with head + `"sim_seq":N` + tail; N goes into the ledger once the response is complete. */
  private sendMarked(path: string, res: ServerResponse, head: Buffer, tail: Buffer): void {
    const seq = ++this.seq;
    const marker = '"sim_seq":' + seq;
    res.once('finish', () => {
      (this.ledger[path] ??= []).push(seq);
      this.servedAt.set(seq, this.now());
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': head.length + marker.length + tail.length,
    });
    // Three writes under cork: one syscall, and the cached buffers are never copied.
    res.cork();
    res.write(head);
    res.write(marker, 'latin1');
    res.end(tail);
    res.uncork();
  }

  /** The complete normal body with a fresh marker (not recorded in the ledger). */
  private unrecordedBody(kind: 'graph' | 'flow'): Buffer {
    const b = this.bodyFor(kind, Math.floor(this.now() / 1000));
    if (!b.hasMarker) return b.head;
    return Buffer.concat([b.head, Buffer.from('"sim_seq":' + ++this.seq, 'latin1'), b.tail]);
  }

  private sendFault(fault: FaultKind, plan: NormalizedFaultPlan, kind: 'graph' | 'flow', path: string, res: ServerResponse): void {
    this.faultCounters[fault]++;
    switch (fault) {
      case 'http_500': {
        const bodies = this.error500Bodies;
        return this.send(res, 500, bodies[this.error500Next++ % bodies.length]!);
      }
      case 'http_404':
        return this.send(res, 404, this.notFound);
      case 'hang':
        // Never answer: the request stays open until the client gives up, goDown() or stop().
        return;
      case 'empty':
        return this.send(res, 200, EMPTY);
      case 'large': {
        // Valid JSON with a marker: a correct client records it, so it goes into the ledger.
        const lb = this.largeBody(kind, plan.largeBytes);
        if (!lb.hasMarker) return this.send(res, 200, Buffer.concat([lb.head, lb.tail]));
        return this.sendMarked(path, res, lb.head, lb.tail);
      }
      case 'malformed': {
        const body = this.unrecordedBody(kind);
        return this.send(res, 200, body.subarray(0, body.length >> 1)); // a proper prefix of a JSON array/object is never valid
      }
      case 'trickle':
        return this.sendTrickle(this.unrecordedBody(kind), plan.trickleMs, res);
      case 'reset':
        return this.sendReset(this.unrecordedBody(kind), res);
    }
  }

  /**
   * 200 with the complete, valid body, sent in small pieces over ~trickleMs. It is NOT put
   * into the ledger even when it completes: a client whose timeout is shorter than
   * trickleMs never records it, so the ledger could not say what a correct client saw.
   */
  private sendTrickle(body: Buffer, trickleMs: number, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.flushHeaders();
    const steps = Math.max(1, Math.min(body.length, Math.ceil(trickleMs / TRICKLE_TICK_MS)));
    const piece = Math.ceil(body.length / steps);
    const interval = trickleMs / steps;
    let off = 0;
    let timer: NodeJS.Timeout | null = null;
    const tick = (): void => {
      if (timer !== null) this.timers.delete(timer);
      timer = null;
      if (res.destroyed || res.writableEnded) return;
      const end = Math.min(body.length, off + piece);
      const chunk = body.subarray(off, end);
      off = end;
      if (off >= body.length) {
        res.end(chunk);
      } else {
        res.write(chunk);
        schedule();
      }
    };
    const schedule = (): void => {
      timer = setTimeout(tick, interval);
      this.timers.add(timer);
    };
    res.once('close', () => {
      if (timer !== null && this.timers.delete(timer)) clearTimeout(timer);
    });
    schedule();
  }

  /** Headers with the full Content-Length and about half the body, then the socket is destroyed. */
  private sendReset(body: Buffer, res: ServerResponse): void {
    const socket = res.socket;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.write(body.subarray(0, body.length >> 1), () => {
      // the half is with the kernel now: the peer gets it, then the connection ends early
      socket?.destroy();
      res.destroy();
    });
  }

  // ---- /sim/ control endpoints (query strings allowed here only) -------------

  private handleSim(req: IncomingMessage, res: ServerResponse, target: string): void {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const method = req.method ?? '';
    if (path === SERVED_PATH && method === 'GET') {
      if (query.get('times') === '1') return this.send(res, 200, jsonBody({ ledger: this.ledger, served_at: Object.fromEntries(this.servedAt) }));
      return this.send(res, 200, jsonBody(this.ledger));
    }
    if (path === FAULTS_PATH && method === 'GET') {
      return this.send(res, 200, jsonBody({ counts: this.faultCounters, plan: this.faultPlan() }));
    }
    if (path === FAULTS_PATH && method === 'POST') {
      return this.readControlBody(req, res, (text) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          return this.send(res, 400, jsonBody({ details: (err as Error).message, error: 'JSON parsing error' }));
        }
        try {
          this.setFaults(value as FaultPlan | null);
        } catch (err) {
          return this.send(res, 400, jsonBody({ details: (err as Error).message, error: 'Invalid fault plan' }));
        }
        res.writeHead(204);
        res.end();
      });
    }
    if (path === DOWN_PATH && method === 'POST') {
      req.resume();
      const raw = query.get('ms') ?? '';
      const ms = Number(raw);
      if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(ms)) {
        return this.send(res, 400, jsonBody({ details: `ms must be a non-negative number of milliseconds, got '${raw}'`, error: 'Bad Request' }));
      }
      res.once('finish', () => {
        setImmediate(() => {
          if (this.server === null && this.down === null) return; // stopped meanwhile
          this.goDown(ms).catch((err: Error) => {
            process.stderr.write(`ndtwin simulator: cannot listen again after /sim/down: ${err.message}\n`);
          });
        });
      });
      res.writeHead(202, { 'Content-Length': 0, Connection: 'close' });
      res.end();
      return;
    }
    return this.send(res, 404, this.notFound);
  }

  private readControlBody(req: IncomingMessage, res: ServerResponse, onBody: (text: string) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > MAX_CONTROL_BODY) {
        tooLarge = true;
        res.writeHead(413, { 'Content-Type': 'application/json', Connection: 'close' });
        res.end('{"error":"Payload Too Large"}');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!tooLarge && !res.destroyed) onBody(Buffer.concat(chunks).toString('utf8'));
    });
  }

  private send(res: ServerResponse, status: number, body: Buffer): void {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  }
}
