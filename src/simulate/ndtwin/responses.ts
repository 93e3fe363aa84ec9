// Ways the simulator writes an answer: a plain JSON body, and the two faults that need
// more than a status and a body (trickle: slowly; reset: cut off mid-body).

import type { ServerResponse } from 'node:http';

/** Trickle: one piece about every this many ms. */
const TRICKLE_TICK_MS = 100;

export const EMPTY = Buffer.alloc(0);

export function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

/**
 * 200 with the complete, valid body, sent in small pieces over ~trickleMs. It is NOT put
 * into the ledger even when it completes: a client whose timeout is shorter than
 * trickleMs never records it, so the ledger could not say what a correct client saw.
 * Its pending timer is kept in `timers` so that stop() can clear it.
 */
export function sendTrickle(body: Buffer, trickleMs: number, res: ServerResponse, timers: Set<NodeJS.Timeout>): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.flushHeaders();
  const steps = Math.max(1, Math.min(body.length, Math.ceil(trickleMs / TRICKLE_TICK_MS)));
  const piece = Math.ceil(body.length / steps);
  const interval = trickleMs / steps;
  let off = 0;
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    if (timer !== null) timers.delete(timer);
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
    timers.add(timer);
  };
  res.once('close', () => {
    if (timer !== null && timers.delete(timer)) clearTimeout(timer);
  });
  schedule();
}

/** Headers with the full Content-Length and about half the body, then the socket is destroyed. */
export function sendReset(body: Buffer, res: ServerResponse): void {
  const socket = res.socket;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.write(body.subarray(0, body.length >> 1), () => {
    // the half is with the kernel now: the peer gets it, then the connection ends early
    socket?.destroy();
    res.destroy();
  });
}
