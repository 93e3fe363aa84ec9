/**
 * Change tracking for inventory streams (Netbeam interfaces, NetBox devices):
 * the items of one snapshot, keyed and digested, against the previous one,
 * give `added`, `removed` and `changed` records, each item as the upstream
 * sent it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { changesStream } from '../../config/stream-config.js';
import type { EmitRecord } from '../source.js';

export interface TrackedItem {
  key: string;
  /** The item as the upstream sent it. */
  raw: Buffer;
  digest: string;
}

export interface InventoryChange {
  change: 'added' | 'removed' | 'changed';
  key: string;
  digest?: string;
  raw?: Buffer;
}

export const itemDigest = (raw: Buffer) => createHash('md5').update(raw).digest('hex');

/** What changed from `previous` (key → digest) to `current`. */
export function diffInventory(previous: Map<string, string>, current: TrackedItem[]): InventoryChange[] {
  const changes: InventoryChange[] = [];
  const seen = new Set<string>();
  for (const item of current) {
    seen.add(item.key);
    const before = previous.get(item.key);
    if (before === undefined) changes.push({ change: 'added', key: item.key, digest: item.digest, raw: item.raw });
    else if (before !== item.digest) changes.push({ change: 'changed', key: item.key, digest: item.digest, raw: item.raw });
  }
  for (const key of previous.keys()) if (!seen.has(key)) changes.push({ change: 'removed', key });
  return changes;
}

/** `{"change":"added","key":…,"item":<as sent>}`; a removed item has none. */
export function changeRecord(c: InventoryChange): Buffer {
  const head = Buffer.from(`{"change":"${c.change}","key":${JSON.stringify(c.key)}`);
  return c.raw ? Buffer.concat([head, Buffer.from(',"item":'), c.raw, Buffer.from('}')]) : Buffer.concat([head, Buffer.from('}')]);
}

/** The members every tracking stream has; netbeam adds the ESnet table layout to them (netbeam/track-changes.ts). */
export const trackChangesFields = {
  table: z.enum(['postgres', 'mysql']).optional().meta({ description: 'also keep the history in this database (the postgres: or mysql: section)' }),
};

export const trackChangesSchema = z
  .strictObject(trackChangesFields)
  .optional()
  .meta({ description: 'write added/removed/changed items to <name>_changes' });

export type TrackChanges = z.output<typeof trackChangesSchema>;


/**
 * Compares each snapshot with the last one (kept by the caller across
 * restarts) and writes the changes to `<name>_changes`. The history table,
 * when asked for, is a sink fed by that stream (src/sinks/inventory/).
 */
export class ChangeTracker {
  constructor(private readonly stream: string) {}

  /** The changes from `previous` (key → digest) to `items`, emitted as records; how many there were. */
  track(previous: Record<string, string>, items: TrackedItem[], emit: EmitRecord): { changes: number } {
    const changes = diffInventory(new Map(Object.entries(previous)), items);
    for (const c of changes) emit({ output: changesStream(this.stream), body: changeRecord(c) });
    return { changes: changes.length };
  }
}
