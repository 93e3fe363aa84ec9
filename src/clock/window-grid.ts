/** Windows on the clock: a 5-minute window starts at :00, :05, … of local time, so windows of every stream line up (DESIGN 2.2). */

/** Start (epoch ms) of the window holding `t`, aligned in local time. */
export function windowStart(t: number, windowMs: number): number {
  const offset = -new Date(t).getTimezoneOffset() * 60_000;
  return Math.floor((t + offset) / windowMs) * windowMs - offset;
}
