/**
 * Small JSON state a source keeps beside its windows (checkpoints, the last
 * inventory seen): read leniently (a missing or broken file is a fresh
 * start), written whole under a temporary name and renamed.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const sourceStateFile = (dir: string, kind: string, stream: string) => path.join(dir, `.nsr.${kind}.${stream}.json`);

export function readState<T extends object>(file: string, empty: T): T {
  if (!existsSync(file)) return empty;
  try {
    return { ...empty, ...JSON.parse(readFileSync(file, 'utf8')) };
  } catch {
    return empty;
  }
}

/** False when it could not be written (the directory is gone or full): the next write tries again. */
export function writeState(file: string, state: object): boolean {
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
    return true;
  } catch {
    return false;
  }
}
