/**
 * The output directory: created if missing and proven writable before the
 * first tick (its lock, which keeps two recorders out of the same windows, is in lock-file.ts).
 */
import { existsSync, mkdirSync, closeSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { createExclusiveSync } from '../fs/safe-files.js';

export function prepareOutputDir(dir: string): void {
  try {
    makeDirectories(dir);
    // A name no one can plant a link at in advance, created exclusively (a link is never followed).
    const probe = path.join(dir, `.nsr-write-test-${randomBytes(6).toString('hex')}`);
    closeSync(createExclusiveSync(probe));
    unlinkSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`output directory ${dir} cannot be written (${e.code ?? e.message}): choose another output.dir in the config, or fix its permissions/mount`);
  }
}

/**
 * `mkdir -p` one level at a time: Node 20's recursive mkdirSync spins forever
 * on some paths that cannot be created (e.g. under /proc) instead of failing.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d);
}
