// The /sim/ control endpoints, for tests and soaks driving a simulator in another process
// (`nsr simulate`): read the served ledger and the fault counters, install a fault plan,
// take the simulator down for a while. Query strings are allowed here only: the kernel's
// own endpoints take none (but the Top-K route's k).
//
// Web pages are kept out: these routes send no CORS headers, and a request that carries an
// `Origin` (a browser's, which a cross-site POST sends without any preflight) is refused,
// so a page the operator visits cannot inject faults or take the simulator down.

import { BodyTooLarge, readBody } from '../../control/request-body.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan, NormalizedFaultPlan } from '../faults.js';
import { jsonBody, send } from './responses.js';

export const SIM_PREFIX = '/sim/';
const SERVED_PATH = '/sim/served';
const FAULTS_PATH = '/sim/faults';
const DOWN_PATH = '/sim/down';
/** Largest request body accepted by the /sim/ control endpoints. */
const MAX_CONTROL_BODY = 1 << 20;

/** What the control endpoints read and change in the simulator. */
export interface SimControl {
  /** The ledger as `GET /sim/served` answers it; with `times`, also when each entry completed. */
  servedJson(times: boolean): unknown;
  faultCounts(): Record<string, number>;
  faultPlan(): NormalizedFaultPlan | null;
  /** Throws (an Error naming the bad field) for an invalid plan. */
  setFaults(plan: FaultPlan | null): void;
  goDown(ms: number): Promise<void>;
  /** Neither listening nor down: stopped. */
  stopped(): boolean;
  notFound: Buffer;
}

/** Answer a request whose target starts with SIM_PREFIX. */
export function handleSim(req: IncomingMessage, res: ServerResponse, target: string, sim: SimControl): void {
  if (req.headers.origin !== undefined) {
    req.resume();
    const details = `the /sim/ routes are for tests and tools, not web pages (Origin: ${JSON.stringify(req.headers.origin.slice(0, 100))}); call them without an Origin header, e.g. with curl`;
    return send(res, 403, jsonBody({ details, error: 'Forbidden' }));
  }
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  const method = req.method ?? '';
  if (path === SERVED_PATH && method === 'GET') {
    return send(res, 200, jsonBody(sim.servedJson(query.get('times') === '1')));
  }
  if (path === FAULTS_PATH && method === 'GET') {
    return send(res, 200, jsonBody({ counts: sim.faultCounts(), plan: sim.faultPlan() }));
  }
  if (path === FAULTS_PATH && method === 'POST') {
    return readControlBody(req, res, (text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return send(res, 400, jsonBody({ details: (err as Error).message, error: 'JSON parsing error' }));
      }
      try {
        sim.setFaults(value as FaultPlan | null);
      } catch (err) {
        return send(res, 400, jsonBody({ details: (err as Error).message, error: 'Invalid fault plan' }));
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
      return send(res, 400, jsonBody({ details: `ms must be a non-negative number of milliseconds, got '${raw}'`, error: 'Bad Request' }));
    }
    // Down only once the 202 is out, so that the caller gets its answer.
    res.once('finish', () => {
      setImmediate(() => {
        if (sim.stopped()) return; // stopped meanwhile
        sim.goDown(ms).catch((err: Error) => {
          process.stderr.write(`ndtwin simulator: cannot listen again after /sim/down: ${err.message}\n`);
        });
      });
    });
    res.writeHead(202, { 'Content-Length': 0, Connection: 'close' });
    res.end();
    return;
  }
  return send(res, 404, sim.notFound);
}

/** The control body through the control server's reader: a body over the limit gets a 413 the client sees, never a reset. */
function readControlBody(req: IncomingMessage, res: ServerResponse, onBody: (text: string) => void): void {
  readBody(req, MAX_CONTROL_BODY).then(
    (text) => !res.destroyed && onBody(text),
    (err) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof BodyTooLarge) {
        res.writeHead(413, { 'Content-Type': 'application/json', Connection: 'close' });
        res.end('{"error":"Payload Too Large"}');
      } else res.destroy();
    },
  );
}
