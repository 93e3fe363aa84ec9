/**
 * The timing rules every stream follows: a fetch must end before the next tick
 * (its timeout is shorter than the interval), in whole milliseconds, so the
 * shortest interval nsr can keep is 2 ms (with a 1 ms timeout). The ticker
 * itself takes any positive whole number of milliseconds.
 */
import { formatDuration } from './duration.js';

/** The shortest interval: the only one below it, 1 ms, leaves no room for a timeout shorter than itself. */
export const MIN_INTERVAL_MS = 2;

/** 80% of the interval, leaving the rest for writing before the next tick; at least 1 ms. */
export function defaultTimeout(intervalMs: number): number {
  return Math.max(1, Math.floor(intervalMs * 0.8));
}

/** A stream's timing settings as parsed (ms), each undefined when the stream does not write it. */
export interface WrittenTiming {
  interval?: number;
  timeout?: number;
  window?: number;
}

export interface TimingContext {
  /** `defaults.interval` and `output.window`, written or default. */
  defaultIntervalMs: number;
  defaultWindowMs: number;
  /** Whether the file (or a runtime stream) writes the setting at this path. */
  wrote(path: string[]): boolean;
  /** Whether the setting's value came from the environment: then a message neither shows it nor derives a number from it. */
  fromEnv(path: string[]): boolean;
  /** The setting's value as a message shows it. */
  show(path: string[], ms: number): string;
}

/**
 * A stream's interval, timeout and window, or what is wrong with them. Each
 * problem names the key the person wrote (the stream's own `window:`, or
 * `output.window` it inherits, or the default it did not write), and a fix
 * that loads.
 */
export function streamTiming(name: string, s: WrittenTiming, ctx: TimingContext): { intervalMs: number; timeoutMs: number; windowMs: number; problems: string[] } {
  const own = (key: string) => ['streams', name, key];
  const intervalAt = s.interval !== undefined ? own('interval') : ['defaults', 'interval'];
  const windowAt = s.window !== undefined ? own('window') : ['output', 'window'];
  const intervalMs = s.interval ?? ctx.defaultIntervalMs;
  const windowMs = s.window ?? ctx.defaultWindowMs;
  const timeoutMs = s.timeout ?? defaultTimeout(intervalMs);
  const problems: string[] = [];
  const where = (at: string[]) => at.join('.');
  // "(5m, the default of output.window)": where an inherited value comes from.
  const from = (at: string[]) => (at[0] === 'streams' ? '' : ctx.wrote(at) ? `, from ${where(at)}` : `, the default of ${where(at)}`);
  const shown = (at: string[], ms: number) => `${ctx.show(at, ms)}${from(at)}`;
  // A fix quoting a duration derived from a value from the environment would disclose it.
  const fix = (at: string[], key: string, ms: number, otherwise: string) => (ctx.fromEnv(at) ? otherwise : `e.g. ${key}: ${formatDuration(ms)}`);

  if (intervalMs < MIN_INTERVAL_MS) {
    const expected = intervalMs <= 0 ? 'a positive duration' : `at least ${MIN_INTERVAL_MS}ms (a fetch's timeout must be shorter than the interval, in whole milliseconds)`;
    problems.push(`${where(intervalAt)}: got ${ctx.show(intervalAt, intervalMs)}; expected ${expected}, e.g. interval: 1s`);
    return { intervalMs, timeoutMs, windowMs, problems };
  }
  if (s.timeout !== undefined && (timeoutMs <= 0 || timeoutMs >= intervalMs)) {
    const what = timeoutMs <= 0 ? 'not a positive duration' : `not shorter than the interval (${shown(intervalAt, intervalMs)})`;
    problems.push(`${where(own('timeout'))}: got ${ctx.show(own('timeout'), timeoutMs)}, ${what}; a fetch must end before the next tick, ${fix(intervalAt, 'timeout', defaultTimeout(intervalMs), 'a shorter one')}, or leave timeout out (80% of the interval)`);
  }
  // An inherited output.window that is not positive is a problem of its own (the loader reports it once).
  if (windowMs < intervalMs && (s.window !== undefined || windowMs > 0)) {
    // "window: 10m": a window as long as the interval holds one record; unless that would disclose a value from the environment.
    const len = ctx.fromEnv(intervalAt) ? undefined : formatDuration(intervalMs);
    const windowFix = (key: string) => (len ? `${key}: ${len} (or longer)` : `${key}: as long as the interval or longer`);
    const hold = 'a window must hold at least one record';
    if (s.window !== undefined) {
      problems.push(`${where(windowAt)}: got ${ctx.show(windowAt, windowMs)}, shorter than the interval (${shown(intervalAt, intervalMs)}); ${hold}, e.g. ${windowFix('window')}`);
    } else if (s.interval !== undefined || !ctx.wrote(windowAt)) {
      // The window is inherited: the interval is what the person wrote (on the stream, or in defaults).
      problems.push(`${where(intervalAt)}: got ${ctx.show(intervalAt, intervalMs)}, longer than the window (${shown(windowAt, windowMs)}); ${hold}: set ${windowFix('window')} on stream ${name}, or ${windowFix('output.window')} for every stream`);
    } else {
      problems.push(`${where(windowAt)}: got ${ctx.show(windowAt, windowMs)}, shorter than the interval of stream ${name} (${shown(intervalAt, intervalMs)}); ${hold}, e.g. ${windowFix('window')}`);
    }
  }
  return { intervalMs, timeoutMs, windowMs, problems };
}
