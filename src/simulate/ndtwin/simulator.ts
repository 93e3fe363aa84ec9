// The simulated NDTwin kernel: answers the kernel's /ndt/ endpoints from the fixtures,
// with values that change every second (bodies.ts), injects faults into the two main
// endpoints, and keeps the ledger of what a correct client records. Like the kernel, it
// answers browsers on any origin on its /ndt/ routes (kernel-cors.ts) and ranks the
// current flows for the Top-K route (top-k-flows.ts); the /sim/ routes stay closed to them.
//
// Fault injection (../faults.ts): a FaultPlan (option `faults`, setFaults() or
// `POST /sim/faults`) makes a share of the requests to the two main endpoints fail in one
// of several ways (error status, hang, trickle, reset, malformed, empty, very large).
// goDown() (or `POST /sim/down?ms=N`) closes the listening socket and every connection for
// a while (restartable-server.ts). The served ledger lists only the markers a correct
// client records: complete, valid answers (normal ones and `large` ones).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { allowAnyOrigin, answerPreflight, isKernelRoute } from '../../sources/ndtwin/kernel-cors.js';
import { rebindingProblem } from '../../control/local-address.js';
import { topKFlows, topKRequest, type TopKRequest } from '../../sources/ndtwin/top-k-flows.js';
import { FAULT_KINDS, FaultPicker, type FaultKind, type FaultPlan, type NormalizedFaultPlan } from '../faults.js';
import { DynamicBodies, type DynamicKind } from './bodies.js';
import { handleSim, SIM_PREFIX, type SimControl } from './control-routes.js';
import { defaultFixturesDir, loadFixtures } from './fixtures.js';
import type { NdtwinSimulatorOptions } from './options.js';
import { EMPTY, send, sendReset, sendTrickle } from './responses.js';
import { RestartableServer } from './restartable-server.js';
import { ServedLog, type ServedLedger } from './served-ledger.js';

const FLOW_PATH = '/ndt/get_detected_flow_data';
const GRAPH_PATH = '/ndt/get_graph_data';

export class NdtwinSimulator {
  private readonly latencyMs: number;
  private readonly now: () => number;

  private readonly bodies: DynamicBodies;
  private readonly staticBodies: Map<string, Buffer>;
  private readonly notFound: Buffer;
  private readonly error500Bodies: Buffer[];
  private error500Next = 0;

  private readonly servedLog = new ServedLog();
  private readonly listener: RestartableServer;
  /** Latency delays and trickles under way: stop() clears them. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly control: SimControl;

  private faultPicker: FaultPicker | null = null;
  private readonly faultCounters: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;

  constructor(opts: NdtwinSimulatorOptions = {}) {
    this.listener = new RestartableServer(opts.host ?? '127.0.0.1', opts.port ?? 8000, (req, res) => this.handle(req, res));
    this.latencyMs = Math.max(0, opts.latencyMs ?? 0);
    this.now = opts.now ?? Date.now;
    const topology = opts.topology ?? 'mininet';
    if (topology !== 'mininet' && topology !== 'testbed') {
      throw new Error(`unknown topology '${String(topology)}' (expected mininet or testbed)`);
    }
    const dpids = opts.dpids ?? (topology === 'testbed' ? 'testbed' : 'mininet');
    if (dpids !== 'mininet' && dpids !== 'testbed') {
      throw new Error(`unknown dpids '${String(dpids)}' (expected mininet for DPIDs 1…N or testbed for uint64 DPIDs above 2^63)`);
    }
    if (topology === 'testbed' && dpids === 'mininet') {
      throw new Error(`dpids 'mininet' needs the mininet topology: the testbed's fixtures carry its own uint64 DPIDs (use topology mininet for DPIDs 1…N)`);
    }
    const fixtures = loadFixtures(opts.fixturesDir ?? defaultFixturesDir(), topology, dpids);
    this.bodies = new DynamicBodies(fixtures.flowTpl, fixtures.graphTpl, this.now);
    this.staticBodies = fixtures.staticBodies;
    this.notFound = fixtures.notFound;
    this.error500Bodies = fixtures.error500Bodies;
    this.control = {
      servedJson: (times) => this.servedLog.toJson(times),
      faultCounts: () => this.faultCounts(),
      faultPlan: () => this.faultPlan(),
      setFaults: (plan) => this.setFaults(plan),
      goDown: (ms) => this.goDown(ms),
      stopped: () => this.listener.stopped,
      notFound: this.notFound,
    };
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

  /**
   * Internal (tests/benchmarks): the body one of the two dynamic endpoints would send at
   * clock `nowMs` with sequence marker `seq`. `fresh` bypasses the per-second cache.
   * Does not touch the ledger or the global counter.
   */
  buildBody(kind: 'graph' | 'flow', seq: number, nowMs: number = this.now(), fresh = false): Buffer {
    const sec = Math.floor(nowMs / 1000);
    const b = fresh ? this.bodies.fresh(kind, sec) : this.bodies.bodyFor(kind, sec);
    if (!b.hasMarker) return b.head;
    return Buffer.concat([b.head, Buffer.from('"sim_seq":' + seq, 'latin1'), b.tail]);
  }

  // ---- lifecycle -----------------------------------------------------------

  start(): Promise<{ host: string; port: number; url: string }> {
    return this.listener.start();
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
    return this.listener.goDown(ms);
  }

  served(): ServedLedger {
    return this.servedLog.copy();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.listener.stop();
  }

  // ---- answering -----------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    const rebound = rebindingProblem(req.socket.localAddress, req.headers.host);
    if (rebound) return send(res, 403, Buffer.from(JSON.stringify({ error: 'Forbidden', details: rebound })));
    if (target.startsWith(SIM_PREFIX)) return handleSim(req, res, target, this.control);
    // The NDTwin Web-GUI calls the kernel from another origin, preflighted.
    if (isKernelRoute(target)) {
      allowAnyOrigin(res);
      if (req.method === 'OPTIONS') return answerPreflight(req, res);
    }
    if (req.method !== 'GET') return send(res, 404, this.notFound);
    const topK = topKRequest(target);
    if (topK !== undefined) return this.later(res, () => this.sendTopK(topK, res));
    const kind = target === GRAPH_PATH ? 'graph' : target === FLOW_PATH ? 'flow' : null;
    const staticBody = kind !== null ? undefined : this.staticBodies.get(target);
    if (kind === null && staticBody === undefined) return send(res, 404, this.notFound);

    // The fault is decided on arrival (request order = PRNG order), applied when answering.
    const picker = kind !== null ? this.faultPicker : null;
    const fault = picker !== null ? picker.pick(target) : null;
    this.later(res, () => {
      if (kind === null) send(res, 200, staticBody!);
      else if (fault !== null) this.sendFault(fault, picker!.plan, kind, target, res);
      else this.sendDynamic(kind, target, res);
    });
  }

  /** Answers after the configured latency (at once without one), unless the client has gone. */
  private later(res: ServerResponse, answer: () => void): void {
    const run = (): void => {
      if (!res.destroyed && !res.writableEnded) answer();
    };
    if (this.latencyMs <= 0) return run();
    const t = setTimeout(() => {
      this.timers.delete(t);
      run();
    }, this.latencyMs);
    this.timers.add(t);
    res.once('close', () => {
      if (this.timers.delete(t)) clearTimeout(t);
    });
  }

  /** The busiest k of the current flows, as the kernel ranks them; a bad k gets a 400. */
  private sendTopK(topK: TopKRequest, res: ServerResponse): void {
    if ('error' in topK) return send(res, 400, topK.error);
    send(res, 200, topKFlows(this.bodies.unmarked('flow'), topK.k));
  }

  private sendDynamic(kind: DynamicKind, path: string, res: ServerResponse): void {
    const b = this.bodies.current(kind);
    if (!b.hasMarker) return send(res, 200, b.head);
    this.sendMarked(path, res, b.head, b.tail);
  }

  /** 200 with head + `"sim_seq":N` + tail; N goes into the ledger once the response is complete. */
  private sendMarked(path: string, res: ServerResponse, head: Buffer, tail: Buffer): void {
    const seq = this.servedLog.next();
    const marker = '"sim_seq":' + seq;
    res.once('finish', () => this.servedLog.complete(path, seq, this.now()));
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
  private unrecordedBody(kind: DynamicKind): Buffer {
    const b = this.bodies.current(kind);
    if (!b.hasMarker) return b.head;
    return Buffer.concat([b.head, Buffer.from('"sim_seq":' + this.servedLog.next(), 'latin1'), b.tail]);
  }

  private sendFault(fault: FaultKind, plan: NormalizedFaultPlan, kind: DynamicKind, path: string, res: ServerResponse): void {
    this.faultCounters[fault]++;
    switch (fault) {
      case 'http_500': {
        const bodies = this.error500Bodies;
        return send(res, 500, bodies[this.error500Next++ % bodies.length]!);
      }
      case 'http_404':
        return send(res, 404, this.notFound);
      case 'hang':
        // Never answer: the request stays open until the client gives up, goDown() or stop().
        return;
      case 'empty':
        return send(res, 200, EMPTY);
      case 'large': {
        // Valid JSON with a marker: a correct client records it, so it goes into the ledger.
        const lb = this.bodies.large(kind, plan.largeBytes);
        if (!lb.hasMarker) return send(res, 200, Buffer.concat([lb.head, lb.tail]));
        return this.sendMarked(path, res, lb.head, lb.tail);
      }
      case 'malformed': {
        const body = this.unrecordedBody(kind);
        return send(res, 200, body.subarray(0, body.length >> 1)); // a proper prefix of a JSON array/object is never valid
      }
      case 'trickle':
        return sendTrickle(this.unrecordedBody(kind), plan.trickleMs, res, this.timers);
      case 'reset':
        return sendReset(this.unrecordedBody(kind), res);
    }
  }
}
