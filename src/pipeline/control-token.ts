/**
 * The control token a recorder makes for itself when the configuration sets
 * none (as Jupyter does): random, written at start into
 * `<output.dir>/.nsr.control-token` (mode 0600, created exclusively, never
 * through a symlink) and removed at the stop. Commands (POST, DELETE) need it
 * even on loopback, so a web page the operator visits, or another local user,
 * cannot change what is recorded; the recorder's own user reads it from the file.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { createPrivateFile, readPrivateFile } from './private-file.js';

export const CONTROL_TOKEN_FILE = '.nsr.control-token';

export function controlTokenFile(dir: string): string {
  return path.join(dir, CONTROL_TOKEN_FILE);
}

/**
 * Makes a new token and writes it. Called under the directory lock, so a file
 * already there was left by a run that crashed, or planted: it is removed
 * (unlinking a symlink leaves its target alone) and never written through.
 */
export function createControlToken(dir: string): string {
  const token = randomBytes(32).toString('hex');
  const file = controlTokenFile(dir);
  removeControlToken(dir);
  createPrivateFile(file, `${token}\n`);
  return token;
}

export function removeControlToken(dir: string): void {
  try {
    unlinkSync(controlTokenFile(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The token of the recorder holding `dir`, when the file is this user's with mode 0600; `{problem}` says why not. */
export function readControlToken(dir: string): { token: string } | { problem: string } | undefined {
  const read = readPrivateFile(controlTokenFile(dir));
  if (!read) return undefined;
  if ('problem' in read) return read;
  const token = read.text.trim();
  return /^[0-9a-f]{64}$/.test(token) ? { token } : { problem: 'it does not hold a token nsr wrote' };
}
