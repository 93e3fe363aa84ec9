/**
 * Small JSON state a source keeps beside its windows (checkpoints, the last
 * inventory seen): read leniently (a missing or broken file is a fresh
 * start), written whole under a fresh temporary and renamed. Never through a
 * link: a symlink (or anything but a regular file) at the name is not read,
 * and is left alone rather than replaced (the state is then not kept).
 */
import path from 'node:path';
import { readOwnFileSync, replaceOwnFileSync } from '../../fs/safe-files.js';

export const sourceStateFile = (dir: string, kind: string, stream: string) => path.join(dir, `.nsr.${kind}.${stream}.json`);

export function readState<T extends object>(file: string, empty: T): T {
  try {
    const text = readOwnFileSync(file);
    return text === undefined ? empty : { ...empty, ...JSON.parse(text.toString('utf8')) };
  } catch {
    return empty;
  }
}

/** False when it could not be written (the directory is gone or full, or a link is in its place): the next write tries again. */
export function writeState(file: string, state: object): boolean {
  try {
    replaceOwnFileSync(file, JSON.stringify(state));
    return true;
  } catch {
    return false;
  }
}
