/**
 * The inventory history table (`track_changes: {table: postgres|mysql}` on a
 * netbox or netbeam stream): a sink fed by the stream's `<name>_changes`
 * records, so it gets buffering, retries and read-back from the window files
 * like any sink, and the source only compares snapshots. With netbeam's
 * `layout: esnet` it keeps the ESnet collector's interface table instead and is
 * fed by the series streams as well (esnet-table.ts).
 */
import { changesStream } from '../../config/stream-config.js';
import type { SinkKind } from '../kind.js';
import type { HistorySettings } from './inventory-table.js';
import { ESNET_TABLE_DEFAULT } from '../../sources/netbeam/track-changes.js';


interface TrackChangesOption {
  table?: 'postgres' | 'mysql';
  /** netbeam only (sources/netbeam/track-changes.ts). */
  layout?: 'nsr' | 'esnet';
  table_name?: string;
}
const optionOf = (options: Record<string, unknown>) => options.track_changes as TrackChangesOption | undefined;
const tableOf = (options: Record<string, unknown>) => optionOf(options)?.table;
/** netbeam's series streams: `*_until` of the ESnet table moves as they are written. */
const SERIES_OUTPUT = /_(traffic|errors|discards)$/;

export const inventorySinkKind: SinkKind = {
  kind: 'inventory_history',
  feeds(stream, outputs) {
    const table = tableOf(stream.options);
    const changes = changesStream(stream.name);
    if (!table || !outputs.includes(changes)) return [];
    const option = optionOf(stream.options)!;
    const feed = (name: string, settings: HistorySettings) => ({ stream: name, kind: stream.kind, windowMs: stream.timing.windowMs, settings });
    if (option.layout !== 'esnet') return [feed(changes, { table, owner: stream.name })];
    const esnet = (role: 'changes' | 'series'): HistorySettings => ({ table, owner: stream.name, esnet: { table: option.table_name ?? ESNET_TABLE_DEFAULT, role } });
    const series = outputs.filter((o) => o.startsWith(`${stream.name}_`) && SERIES_OUTPUT.test(o.slice(stream.name.length)));
    // The changes first: the sink writes its streams in this order, so a row is opened before its windows arrive.
    return [feed(changes, esnet('changes')), ...series.map((s) => feed(s, esnet('series')))];
  },
  check: (streams, connections) =>
    streams.flatMap((s) => {
      const table = tableOf(s.options);
      return table && !connections[table] ? [`streams.${s.name}.track_changes.table: ${table}, but there is no ${table}: section; add one (url, password)`] : [];
    }),
  async build({ connections, dir, note }) {
    const { startInventoryHistory } = await import('./inventory-history.js');
    return startInventoryHistory(connections, dir, note);
  },
};
