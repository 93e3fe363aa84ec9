/**
 * Applies `<name>_changes` records to the history table of their database,
 * in order, a batch in one transaction (inventory-table.ts). A record is read
 * back as the source wrote it: `{"timestamp":…,"change":…,"key":…,"item":<as sent>}`.
 */
import { createHash } from 'node:crypto';
import type { Connections } from '../../connections/connections.js';
import { memberSpan } from '../../json/json-spans.js';
import type { NoteEvent } from '../../logging/note-event.js';
import { recordTimestamp } from '../../pipeline/record.js';
import { BufferedSink, type Pending, type Rejected, type SinkStream, type SinkWriter } from '../buffered-sink.js';
import { mysqlInventoryTable, postgresInventoryTable, type HistoryChange, type HistorySettings, type InventoryTable } from './inventory-table.js';
import { ESNET_NAME_MAX, mysqlEsnetTable, parseSeriesReach, type EsnetTable, type SeriesReach } from './esnet-table.js';

class InventoryHistoryWriter implements SinkWriter {
  readonly describe = 'the inventory history table';
  private readonly tables = new Map<string, Promise<InventoryTable>>();
  /** layout: esnet, by table name. */
  private readonly esnetTables = new Map<string, Promise<EsnetTable>>();

  constructor(private readonly connections: Connections) {}

  private table(which: HistorySettings['table']): Promise<InventoryTable> {
    let t = this.tables.get(which);
    if (!t) {
      t = which === 'postgres' ? postgresInventoryTable(this.connections.postgres!.connection) : mysqlInventoryTable(this.connections.mysql!.url, this.connections.mysql!.password);
      // A database that did not answer is asked again at the next batch.
      t.catch(() => this.tables.delete(which));
      this.tables.set(which, t);
    }
    return t;
  }

  private esnetTable(name: string): Promise<EsnetTable> {
    let t = this.esnetTables.get(name);
    if (!t) {
      t = mysqlEsnetTable(this.connections.mysql!.url, this.connections.mysql!.password, name);
      t.catch(() => this.esnetTables.delete(name));
      this.esnetTables.set(name, t);
    }
    return t;
  }

  async write(s: SinkStream, batch: Pending[]): Promise<void | Rejected[]> {
    const settings = s.settings as HistorySettings;
    if (settings.esnet) return this.writeEsnet(settings.esnet, batch);
    const changes: HistoryChange[] = [];
    const rejected: Rejected[] = [];
    for (const p of batch) {
      const c = parseChange(p.line, p.ts);
      if (typeof c === 'string') rejected.push({ ts: p.ts, error: c });
      else changes.push(c);
    }
    await (await this.table(settings.table)).apply(settings.owner, changes);
    return rejected;
  }

  /** One stream's batch into the ESnet collector's table: change records, or series records (how far each window reached). */
  private async writeEsnet(esnet: NonNullable<HistorySettings['esnet']>, batch: Pending[]): Promise<Rejected[]> {
    const changes: HistoryChange[] = [];
    const reached: SeriesReach[] = [];
    const rejected: Rejected[] = [];
    for (const p of batch) {
      const at = recordTimestamp(p.line) ?? p.ts;
      const c = esnet.role === 'changes' ? parseChange(p.line, p.ts) : parseSeriesReach(p.line, at);
      if (typeof c === 'string') rejected.push({ ts: p.ts, error: c });
      else if (esnet.role === 'series') reached.push(c as SeriesReach);
      else if ((c as HistoryChange).key.length > ESNET_NAME_MAX) rejected.push({ ts: p.ts, error: `key ${(c as HistoryChange).key.slice(0, 40)}… is longer than the table's name column (${ESNET_NAME_MAX})` });
      else changes.push(c as HistoryChange);
    }
    await (await this.esnetTable(esnet.table)).apply(changes, reached);
    return rejected;
  }

  async close(): Promise<void> {
    for (const t of this.tables.values()) await t.then((table) => table.close(), () => {});
    for (const t of this.esnetTables.values()) await t.then((table) => table.close(), () => {});
  }
}

/** A change record back into a change; a string says why it is not one. */
export function parseChange(line: Buffer, ts: number): HistoryChange | string {
  let doc: { change?: unknown; key?: unknown };
  try {
    doc = JSON.parse(line.toString('utf8'));
  } catch {
    return 'not a JSON record';
  }
  const { change, key } = doc;
  if ((change !== 'added' && change !== 'changed' && change !== 'removed') || typeof key !== 'string') return 'not a change record (change, key)';
  const at = recordTimestamp(line) ?? ts;
  if (change === 'removed') return { change, key, at };
  const span = memberSpan(line, 'item');
  if (!span) return `a ${change} record without its item`;
  const raw = line.subarray(span.start, span.end);
  return { change, key, at, raw, digest: createHash('md5').update(raw).digest('hex') };
}

export function startInventoryHistory(connections: Connections, dir: string, note: NoteEvent): BufferedSink {
  // Changes are few: small batches, written soon after they happen.
  const sink = new BufferedSink(new InventoryHistoryWriter(connections), { sink: 'inventory', dir, batch: 500, flushIntervalMs: 500, buffer: 100_000 }, note);
  sink.start();
  return sink;
}
