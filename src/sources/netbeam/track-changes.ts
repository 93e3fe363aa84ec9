/**
 * netbeam's `track_changes`: the common one (the `<name>_changes` stream, an
 * `nsr_inventory` history in PostgreSQL or MariaDB) plus `layout: esnet`, the
 * ESnet collector's own MySQL interface table, so that what read that table
 * reads it on (src/sinks/inventory/esnet-table.ts writes it).
 */
import { z } from 'zod';
import { trackChangesFields } from '../common/inventory-changes.js';

export const ESNET_TABLE_DEFAULT = 'esnet_interfaces';
/** Written into SQL unquoted by the user: a plain identifier only, so no quoting question arises. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const netbeamTrackChangesSchema = z
  .strictObject({
    ...trackChangesFields,
    layout: z
      .enum(['nsr', 'esnet'], { error: () => `expected nsr (nsr_inventory, a row per version) or esnet (the ESnet collector's interface table); e.g. layout: esnet` })
      .default('nsr')
      .meta({ description: "the history table's layout: nsr (nsr_inventory) or esnet (the ESnet collector's MySQL table: name, status, active_from, active_until, traffic_until, errors_until, discards_until; table: mysql only)" }),
    table_name: z
      .string()
      .regex(IDENTIFIER, { error: 'expected a table name of letters, digits and _ (at most 64, not starting with a digit); e.g. table_name: esnet_interfaces' })
      .optional()
      .meta({ description: `layout esnet: the table to write (${ESNET_TABLE_DEFAULT}); created with the original's DDL when missing, used as it is when there` }),
  })
  .superRefine((v, ctx) => {
    if (v.layout === 'esnet' && v.table !== 'mysql')
      ctx.addIssue({ code: 'custom', path: ['table'], input: v.table, message: `${v.table === undefined ? 'not set; ' : ''}layout: esnet is the ESnet collector's MySQL table; set table: mysql (with a mysql: section), or layout: nsr` });
    if (v.table_name !== undefined && v.layout !== 'esnet')
      ctx.addIssue({ code: 'custom', path: ['table_name'], input: v.table_name, message: `table_name names the table of layout: esnet, and layout is ${v.layout}; add layout: esnet (and table: mysql), or remove table_name` });
  })
  .optional()
  .meta({ description: 'write added/removed/changed interfaces to <name>_changes, and the history to a table if asked' });
