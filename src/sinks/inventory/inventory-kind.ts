/**
 * The inventory history table (`track_changes: {table: postgres|mysql}` on a
 * netbox or netbeam stream): a sink fed by the stream's `<name>_changes`
 * records, so it gets buffering, retries and read-back from the window files
 * like any sink, and the source only compares snapshots.
 */
import { changesStream } from '../../config/stream-config.js';
import type { SinkKind } from '../kind.js';
import type { HistorySettings } from './inventory-table.js';


const tableOf = (options: Record<string, unknown>) => (options.track_changes as { table?: 'postgres' | 'mysql' } | undefined)?.table;

export const inventorySinkKind: SinkKind = {
  kind: 'inventory_history',
  feeds(stream, outputs) {
    const table = tableOf(stream.options);
    const changes = changesStream(stream.name);
    if (!table || !outputs.includes(changes)) return [];
    const settings: HistorySettings = { table, owner: stream.name };
    return [{ stream: changes, kind: stream.kind, windowMs: stream.timing.windowMs, settings }];
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
