/**
 * Compares the archive index with the directory, read-only: what `nsr index`
 * and `nsr verify` report. The recorder's own check (index-writer.ts) repairs
 * the same differences at its next start.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseOutputFile } from '../../sinks/window-naming.js';
import { INDEX_FILE, interruptedRemoval, parseIndex } from './index-format.js';
import { readIndexBytes } from './index-reader.js';

export interface IndexDifferences {
  /** No index file; `damaged`: one that does not parse. */
  state: 'sound' | 'missing' | 'damaged';
  /** Why it is damaged, when it is not a line that does not parse (a symlink, a named pipe, far too large). */
  why?: string;
  /** Zips in the directory the index does not list. */
  unlisted: string[];
  /** Zips the index lists that are not there. */
  gone: string[];
  /** Zips the index says were removed that are still there (a removal a crash interrupted). */
  unremoved: string[];
  windows: number;
}

export async function compareIndex(dir: string): Promise<IndexDifferences> {
  const names = await readdir(dir);
  const zips = names.filter((n) => parseOutputFile(n)?.type === 'zip');
  const bytes = await readIndexBytes(dir);
  if (bytes === undefined) return { state: 'missing', unlisted: zips, gone: [], unremoved: [], windows: 0 };
  if ('problem' in bytes) return { state: 'damaged', why: bytes.problem, unlisted: [], gone: [], unremoved: [], windows: 0 };
  const parsed = parseIndex(bytes.toString('latin1'));
  if (!parsed) return { state: 'damaged', unlisted: [], gone: [], unremoved: [], windows: 0 };
  const present = new Set(zips);
  const { state } = parsed;
  // A zip under a removed name: the removal a crash interrupted, or one put back since (restored), which counts as unlisted.
  const unremoved: string[] = [];
  for (const [z, removal] of state.removed) {
    if (!present.has(z)) continue;
    const st = await lstat(path.join(dir, z)).catch(() => undefined);
    if (st && interruptedRemoval(removal, st.ctimeMs)) unremoved.push(z);
  }
  const interrupted = new Set(unremoved);
  return {
    state: 'sound',
    unlisted: zips.filter((z) => !state.zips.has(z) && !interrupted.has(z)),
    gone: [...state.zips.keys()].filter((z) => !present.has(z)),
    unremoved,
    windows: state.zips.size,
  };
}

/** One line per kind of difference, for a person. */
export function describeDifferences(d: IndexDifferences): string[] {
  const sample = (list: string[]) => list.slice(0, 3).join(', ') + (list.length > 3 ? `, … (${list.length})` : '');
  if (d.state === 'missing') return [`${INDEX_FILE} is missing (${d.unlisted.length} zips): the tools read every zip instead; \`nsr index --rebuild\` or the next \`nsr run\` builds it`];
  if (d.state === 'damaged') return [`${INDEX_FILE} is damaged (${d.why ?? 'a line does not parse'}): the tools read every zip instead; \`nsr index --rebuild\` or the next \`nsr run\` rebuilds it`];
  const out: string[] = [];
  if (d.unlisted.length) out.push(`${d.unlisted.length} zips are not in ${INDEX_FILE} (copied in, or zipped by a recorder that was killed): ${sample(d.unlisted)}`);
  if (d.gone.length) out.push(`${d.gone.length} zips in ${INDEX_FILE} are not in the directory (removed by hand?): ${sample(d.gone)}`);
  if (d.unremoved.length) out.push(`${d.unremoved.length} zips retention removed are still there (a removal was interrupted): ${sample(d.unremoved)}`);
  return out;
}
