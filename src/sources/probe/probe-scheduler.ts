/**
 * One scheduler for thousands of probe targets: each target fires on its own
 * grid (offset + k × interval, the offset drawn from its id's hash, so the load
 * spreads and stays put across restarts), from a min-heap under a single
 * timer. A probe that is still running when its target is due again makes
 * that turn skip (`overlap`), so a slow target never piles up and never holds
 * back another; above `concurrency` probes in flight, due probes wait in
 * order (their lateness shows it).
 */
import type { ProbeTarget } from './probe-targets.js';

export interface DueProbe {
  target: ProbeTarget;
  scheduledAt: number;
}

export interface SchedulerOptions {
  concurrency: number;
  now?: () => number;
  /** Runs one probe; resolves when it is over (it must not reject). */
  run: (p: DueProbe) => Promise<void>;
  /** A probe not started: still running from its last turn, no room to record, or a turn passed while stalled. */
  skipped: (p: DueProbe, reason: 'overlap' | 'queue_full' | 'late') => void;
  /** False while the records cannot be taken (the stream's queue is full). */
  room?: () => boolean;
}

interface Entry {
  due: number;
  target: ProbeTarget;
}

/** The first turn of `t` at or after `t0` on its own grid. */
export function nextTurn(t: Pick<ProbeTarget, 'hash' | 'intervalMs'>, t0: number): number {
  const offset = t.hash % t.intervalMs;
  return offset + Math.ceil((t0 - offset) / t.intervalMs) * t.intervalMs;
}

export class ProbeScheduler {
  private heap: Entry[] = [];
  private readonly current = new Map<string, ProbeTarget>();
  private readonly running = new Set<string>();
  private readonly waiting: DueProbe[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.current.size;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Replaces the target set: new targets join at their next turn, changed ones are rescheduled, removed ones leave. */
  setTargets(targets: ProbeTarget[]): void {
    const next = new Map(targets.map((t) => [t.id, t]));
    for (const id of this.current.keys()) if (!next.has(id)) this.current.delete(id);
    const now = this.now();
    for (const t of targets) {
      const old = this.current.get(t.id);
      if (old && sameTarget(old, t)) continue;
      this.current.set(t.id, t);
      this.push({ due: nextTurn(t, now), target: t });
    }
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
    this.checkIdle();
  }

  /** Resolves when no probe is running. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private arm(): void {
    if (this.stopped || this.heap.length === 0) return;
    const due = this.heap[0].due;
    if (this.timer && due >= this.timerDue) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    if (this.stopped) return;
    const now = this.now();
    while (this.heap.length && this.heap[0].due <= now) {
      const e = this.pop()!;
      if (this.current.get(e.target.id) !== e.target) continue; // removed or replaced
      const t = e.target;
      // Turns that passed while the process was stalled are skipped, not fired in a burst.
      const late = now - e.due > t.intervalMs;
      if (late) this.opts.skipped({ target: t, scheduledAt: e.due }, 'late');
      else this.dispatch({ target: t, scheduledAt: e.due });
      this.push({ due: late ? nextTurn(t, now) : e.due + t.intervalMs, target: t });
    }
    this.arm();
  }

  private dispatch(p: DueProbe): void {
    if (this.running.has(p.target.id)) return this.opts.skipped(p, 'overlap');
    if (this.opts.room && !this.opts.room()) return this.opts.skipped(p, 'queue_full');
    if (this.inFlight >= this.opts.concurrency) {
      this.running.add(p.target.id);
      this.waiting.push(p);
      return;
    }
    this.launch(p);
  }

  private launch(p: DueProbe): void {
    this.inFlight++;
    this.running.add(p.target.id);
    // run() must not reject; if it does anyway, the probe is over and the scheduler goes on.
    this.opts.run(p).catch(() => {}).finally(() => {
      this.inFlight--;
      this.running.delete(p.target.id);
      const next = this.stopped ? undefined : this.waiting.shift();
      if (next) {
        this.running.delete(next.target.id);
        this.launch(next);
      }
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }

  // A binary min-heap on `due`.
  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (h[parent].due <= h[i].due) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l].due < h[m].due) m = l;
        if (r < h.length && h[r].due < h[m].due) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

function sameTarget(a: ProbeTarget, b: ProbeTarget): boolean {
  return a.url === b.url && a.intervalMs === b.intervalMs && a.timeoutMs === b.timeoutMs && a.match?.source === b.match?.source && a.matchBytes === b.matchBytes && a.expectStatus.join() === b.expectStatus.join() && JSON.stringify(a.headers) === JSON.stringify(b.headers);
}
