// Fault plans for the NDTwin kernel simulator (see ndtwin-simulator.ts): which kinds of
// misbehaviour exist, how a plan is validated, and the (optionally seeded) choice of a
// fault for each request to a main endpoint.

export type FaultKind =
  | 'http_500' // 500 with one of the kernel's 500 error bodies (fixtures), Content-Type application/json
  | 'http_404' // 404 {"error":"Not Found"}
  | 'hang' // accept the request, never answer (until the client gives up or stop()/goDown())
  | 'trickle' // 200 with the real body sent in small pieces; the whole body takes ~trickleMs
  | 'reset' // headers (full Content-Length) and about half the body, then the socket is destroyed
  | 'malformed' // 200, application/json, the real body cut in half (not valid JSON)
  | 'empty' // 200 with Content-Length: 0
  | 'large'; // 200 with a valid body of about largeBytes (flow objects / graph edges repeated)

export interface FaultPlan {
  /** 0..1: probability that a request to a main endpoint gets a fault */
  rate: number;
  /** chosen uniformly among these when a fault happens (a repeated kind counts twice) */
  kinds: FaultKind[];
  /** restrict to these request paths (default: both main endpoints) */
  paths?: string[];
  /** deterministic PRNG (mulberry32) when given; Math.random otherwise */
  seed?: number;
  /** trickle: time for the whole body, in ms (default 5000) */
  trickleMs?: number;
  /** large: approximate body size in bytes (default 40 MB) */
  largeBytes?: number;
}

/** A validated plan with the defaults filled in. */
export interface NormalizedFaultPlan {
  rate: number;
  kinds: FaultKind[];
  paths: string[];
  seed: number | undefined;
  trickleMs: number;
  largeBytes: number;
}

export const FAULT_KINDS: readonly FaultKind[] = [
  'http_500',
  'http_404',
  'hang',
  'trickle',
  'reset',
  'malformed',
  'empty',
  'large',
];

/** Kinds used when only a rate is given on the command line: everything but `large`. */
export const DEFAULT_CLI_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.filter((k) => k !== 'large');

/** The endpoints faults can be injected into. */
export const FAULTABLE_PATHS: readonly string[] = ['/ndt/get_detected_flow_data', '/ndt/get_graph_data'];

export const DEFAULT_TRICKLE_MS = 5000;
export const DEFAULT_LARGE_BYTES = 40_000_000;
/** Upper bound for largeBytes: the cached body is one Buffer per endpoint. */
export const MAX_LARGE_BYTES = 1_000_000_000;

const PLAN_KEYS = new Set(['rate', 'kinds', 'paths', 'seed', 'trickleMs', 'largeBytes']);

export function isFaultKind(x: unknown): x is FaultKind {
  return typeof x === 'string' && (FAULT_KINDS as readonly string[]).includes(x);
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; returns numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x);
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}

/**
 * Validate a fault plan (e.g. a parsed JSON body) and return a normalized copy with every
 * field set (defaults filled in). Throws an Error naming the offending field.
 */
export function parseFaultPlan(value: unknown): NormalizedFaultPlan {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`fault plan: expected an object with rate and kinds, got ${describe(value)}`);
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (!PLAN_KEYS.has(k)) throw new Error(`fault plan: unknown field '${k}' (expected ${[...PLAN_KEYS].join(', ')})`);
  }
  const rate = v.rate;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new Error(`fault plan: rate must be a number between 0 and 1, got ${describe(rate)}`);
  }
  const kinds = v.kinds;
  if (!Array.isArray(kinds) || kinds.length === 0) {
    throw new Error(`fault plan: kinds must be a non-empty array of ${FAULT_KINDS.join(', ')}; got ${describe(kinds)}`);
  }
  for (const k of kinds) {
    if (!isFaultKind(k)) throw new Error(`fault plan: unknown fault kind ${describe(k)} (expected one of ${FAULT_KINDS.join(', ')})`);
  }
  let paths: string[] = FAULTABLE_PATHS.slice();
  if (v.paths !== undefined) {
    if (!Array.isArray(v.paths)) throw new Error(`fault plan: paths must be an array of endpoint paths, got ${describe(v.paths)}`);
    for (const p of v.paths) {
      if (typeof p !== 'string' || !FAULTABLE_PATHS.includes(p)) {
        throw new Error(`fault plan: paths: ${describe(p)} is not a faultable endpoint (expected ${FAULTABLE_PATHS.join(' or ')})`);
      }
    }
    paths = (v.paths as string[]).slice();
  }
  let seed: number | undefined;
  if (v.seed !== undefined && v.seed !== null) {
    if (typeof v.seed !== 'number' || !Number.isSafeInteger(v.seed)) {
      throw new Error(`fault plan: seed must be an integer, got ${describe(v.seed)}`);
    }
    seed = v.seed;
  }
  let trickleMs = DEFAULT_TRICKLE_MS;
  if (v.trickleMs !== undefined) {
    if (typeof v.trickleMs !== 'number' || !Number.isFinite(v.trickleMs) || v.trickleMs < 0) {
      throw new Error(`fault plan: trickleMs must be a non-negative number of milliseconds, got ${describe(v.trickleMs)}`);
    }
    trickleMs = v.trickleMs;
  }
  let largeBytes = DEFAULT_LARGE_BYTES;
  if (v.largeBytes !== undefined) {
    if (typeof v.largeBytes !== 'number' || !Number.isSafeInteger(v.largeBytes) || v.largeBytes < 0 || v.largeBytes > MAX_LARGE_BYTES) {
      throw new Error(`fault plan: largeBytes must be an integer between 0 and ${MAX_LARGE_BYTES}, got ${describe(v.largeBytes)}`);
    }
    largeBytes = v.largeBytes;
  }
  return { rate, kinds: (kinds as FaultKind[]).slice(), paths, seed, trickleMs, largeBytes };
}

/** A validated plan plus its random source: decides, request by request, whether and which fault. */
export class FaultPicker {
  readonly plan: NormalizedFaultPlan;
  private readonly rng: () => number;

  constructor(plan: FaultPlan) {
    this.plan = parseFaultPlan(plan);
    this.rng = this.plan.seed === undefined ? Math.random : mulberry32(this.plan.seed);
  }

  /**
   * The fault for the next request to `path`, or null. Two draws per request to a faulted
   * path, whatever the outcome, so that with one seed the set of faulted requests depends
   * only on the rate (not on the kinds list).
   */
  pick(path: string): FaultKind | null {
    if (!this.plan.paths.includes(path)) return null;
    const hit = this.rng() < this.plan.rate;
    const which = this.rng();
    if (!hit) return null;
    const kinds = this.plan.kinds;
    return kinds[Math.min(kinds.length - 1, Math.floor(which * kinds.length))]!;
  }
}
