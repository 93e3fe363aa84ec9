/**
 * Change tracking for inventory streams (Netbeam interfaces, NetBox devices):
 * the items of one snapshot, keyed and digested, against the previous one,
 * give `added`, `removed` and `changed` records, each item as the upstream
 * sent it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { mysqlInventoryTable, postgresInventoryTable, type InventoryTable } from '../../sinks/inventory-table.js';
import type { MysqlSettings } from '../../connections/mysql-settings.js';
import type { PostgresSettings } from '../../connections/postgres-settings.js';
import type { CycleFailure, EmitRecord } from '../source.js';

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

export const trackChangesSchema = z
  .strictObject({ table: z.enum(['postgres', 'mysql']).optional().meta({ description: 'also keep the history in this database (the postgres: or mysql: section)' }) })
  .optional()
  .meta({ description: 'write added/removed/changed items to <name>_changes' });

export type TrackChanges = z.output<typeof trackChangesSchema>;

export const changesStream = (name: string) => `${name}_changes`;

/**
 * Compares each snapshot with the last one (kept by the caller across
 * restarts), writes the changes to `<name>_changes` and, if asked, to the
 * history table; changes the table could not take are applied later, in order.
 */
export class ChangeTracker {
  private history: InventoryTable | undefined;
  private unapplied: { changes: InventoryChange[]; at: number }[] = [];

  constructor(
    private readonly stream: string,
    private readonly cfg: NonNullable<TrackChanges>,
    private readonly db: { postgres?: PostgresSettings; mysql?: MysqlSettings },
  ) {
    if (cfg.table === 'postgres' && !db.postgres) throw new ConfigError(`streams.${stream}.track_changes.table: postgres, but there is no postgres: section`);
    if (cfg.table === 'mysql' && !db.mysql) throw new ConfigError(`streams.${stream}.track_changes.table: mysql, but there is no mysql: section`);
  }

  /** The changes from `previous` (key → digest) to `items`, written; a failure when the table is away. */
  async track(previous: Record<string, string>, items: TrackedItem[], at: number, emit: EmitRecord): Promise<{ changes: number; failure?: CycleFailure }> {
    const changes = diffInventory(new Map(Object.entries(previous)), items);
    for (const c of changes) emit({ output: changesStream(this.stream), body: changeRecord(c) });
    if (!this.cfg.table) return { changes: changes.length };
    this.unapplied.push({ changes, at });
    try {
      this.history ??= this.cfg.table === 'postgres' ? await postgresInventoryTable(this.db.postgres!.connection) : await mysqlInventoryTable(this.db.mysql!.url, this.db.mysql!.password);
      while (this.unapplied.length) {
        await this.history.apply(this.stream, this.unapplied[0].changes, this.unapplied[0].at);
        this.unapplied.shift();
      }
      return { changes: changes.length };
    } catch (err) {
      this.unapplied = this.unapplied.slice(-1000);
      return { changes: changes.length, failure: { item: `${this.cfg.table} inventory table`, reason: 'table_error', message: `${(err as Error).message}; the changes are applied when it answers again` } };
    }
  }

  close(): void {
    void this.history?.close().catch(() => {});
  }
}
