/**
 * `csv:` on a stream: its records are also written as CSV rows, in windows of
 * their own beside the NDJSON ones (`<base>.csv`, zipped to `<base>_csv.zip`);
 * see csv-sink.ts. The schema checks every path (csv-path.ts) at load time,
 * so a typo is a configuration error, not a column of empty fields.
 *
 *   csv:
 *     rows: flowinfo               # an array in the record: one row per element (absent: one row per record)
 *     columns:                     # column name → path, relative to the row; $. starts at the record
 *       timestamp: $.timestamp
 *       src_ip: src_ip
 *       dpid: path[1].node
 */
import { z } from 'zod';
import { feedsWhenSet, type SinkKind } from '../kind.js';
import { parsePath, PATH_SYNTAX } from './csv-path.js';

const pathField = (what: string) =>
  z
    .string({ error: `expected ${PATH_SYNTAX}` })
    .superRefine((text, ctx) => {
      const parsed = parsePath(text);
      if ('error' in parsed) ctx.addIssue({ code: 'custom', input: text, message: `not a path (${parsed.error}); write ${PATH_SYNTAX}` });
    })
    .meta({ description: `${what}: ${PATH_SYNTAX}` });

/** Whole-number keys would move to the front of the column order (JavaScript orders them first). */
const columnName = z
  .string()
  .min(1, { error: 'a column name must not be empty' })
  .regex(/^(?!(0|[1-9]\d*)$)/, { error: 'a column name that is a whole number would lose its place in the column order; give it a name such as col_1' });

const option = z
  .strictObject({
    rows: pathField('where the rows are: an array in the record, one row per element (from the record; without it, one row per record)').optional(),
    columns: z
      .record(columnName, pathField('the value of the column, from the row ($. from the record)'), { error: 'expected a mapping of column name → path, e.g. {timestamp: $.timestamp, src_ip: src_ip}' })
      .refine((c) => Object.keys(c).length > 0, { error: 'no columns; add at least one, e.g. timestamp: $.timestamp' })
      .meta({ description: 'the columns in order, name → path; strings unquoted, numbers digit for digit, null or missing → empty, objects and arrays → compact JSON' }),
  })
  .optional()
  .meta({ description: 'also write the records as CSV rows, in windows of their own (<base>.csv, zipped to <base>_csv.zip)' });

export const csvSinkKind: SinkKind<typeof option> = {
  kind: 'csv',
  option: { key: 'csv', schema: option },
  // Only the stream's own records: the columns are written for its record shape, not for its extra outputs'.
  feeds: feedsWhenSet('csv', false),
  async build(ctx) {
    const { startCsvSink } = await import('./csv-sink.js');
    return startCsvSink(ctx);
  },
};
