/**
 * Ticks on an absolute grid: tick k is due at k × interval (epoch ms), so two
 * tickers with the same interval fire on the same instants and never drift.
 * When the process stalls past one or more grid points, those ticks are
 * reported as missed (reason `late`), as one run however long the stall, and
 * the ticker resumes on the grid; it never fires a burst of late ticks to
 * catch up. When the wall clock steps back, the grid follows the new time at
 * once (instead of waiting, silently, for the old next tick to come round).
 */
import type { Clock, TimerHandle } from './clock.js';

export interface TickHandlers {
  onTick(tick: number, scheduledAt: number): void;
  /** `count` consecutive ticks from `firstTick` on could not be fired on time. */
  onMissed(firstTick: number, count: number, reason: 'late'): void;
  /** The wall clock went back by `deltaMs` (more than one interval). */
  onClockStep?(deltaMs: number): void;
}

/** How far past its due time a tick may fire and still count as on time. */
const DEFAULT_TOLERANCE_FRACTION = 0.5;

export class Ticker {
  private timer: TimerHandle | undefined;
  private nextTick = 0;
  private running = false;

  constructor(
    readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly handlers: TickHandlers,
    private readonly toleranceMs = Math.floor(intervalMs * DEFAULT_TOLERANCE_FRACTION),
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`interval must be positive, got ${intervalMs}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.nextTick = Math.floor(this.clock.now() / this.intervalMs) + 1;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    const dueAt = this.nextTick * this.intervalMs;
    this.timer = this.clock.after(dueAt - this.clock.now(), () => this.fire());
  }

  private fire(): void {
    if (!this.running) return;
    const now = this.clock.now();
    const dueAt = this.nextTick * this.intervalMs;
    if (now < dueAt) {
      // Timers run on a monotonic clock: a timer for one interval that finds the
      // next tick still more than an interval away means the wall clock went back.
      if (dueAt - now > this.intervalMs) {
        this.handlers.onClockStep?.(dueAt - now - this.intervalMs);
        this.nextTick = Math.floor(now / this.intervalMs) + 1;
      }
      return this.schedule(); // otherwise a timer firing a hair early against the wall clock
    }
    // The newest grid point we can still fire on time; everything before it was missed.
    const current = Math.floor(now / this.intervalMs);
    const onTime = now - current * this.intervalMs <= this.toleranceMs;
    const firstMissed = this.nextTick;
    const lastMissed = onTime ? current - 1 : current;
    if (lastMissed >= firstMissed) this.handlers.onMissed(firstMissed, lastMissed - firstMissed + 1, 'late');
    if (onTime) this.handlers.onTick(current, current * this.intervalMs);
    this.nextTick = current + 1;
    if (this.running) this.schedule();
  }
}
