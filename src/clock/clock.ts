/**
 * Time as the recorder sees it. Production uses the wall clock (records carry
 * epoch ms, windows align to local wall time); tests inject a FakeClock and
 * move time by hand, so grid and overlap logic are tested without sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** A manual clock: `advance()` runs due timers in time order. */
export class FakeClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (and timers they set). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = target;
  }

  /** Jumps time without firing timers, as a stalled event loop would (timers then fire late). */
  stall(ms: number): void {
    this.time += ms;
  }

  /**
   * Steps the wall clock (as NTP does) without touching pending timers, which
   * run on a monotonic clock: each still fires after the delay it was given.
   */
  stepWall(ms: number): void {
    this.time += ms;
    for (const t of this.timers) t.at += ms;
  }

  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
