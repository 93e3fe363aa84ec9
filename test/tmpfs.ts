/** A size-limited file system for the tests of a full or nearly full disk: a tmpfs mounted for one test. */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/**
 * Creates `dir` and mounts a tmpfs of `size` (e.g. `16m`) on it, unmounted at
 * teardown. Without root (no mount): a visible skip on a developer's machine,
 * a failure in CI; returns false then.
 */
export function tmpfsAt(t: Tap.Test, dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    const why = `cannot mount a size-limited tmpfs (${String((err as Error).message).split('\n')[0]}); this test needs root`;
    if (process.env.CI) t.fail(why);
    else t.skip(why);
    return false;
  }
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  return true;
}
