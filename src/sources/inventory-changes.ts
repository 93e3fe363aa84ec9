/**
 * Change tracking for inventory streams (Netbeam interfaces, NetBox devices):
 * the items of one snapshot, keyed and digested, against the previous one,
 * give `added`, `removed` and `changed` records, each item as the upstream
 * sent it.
 */
import { createHash } from 'node:crypto';

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
