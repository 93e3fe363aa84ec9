/**
 * `dac_stats: <schema>.stats` on a probe stream: each probe also becomes a row
 * of DAC's stats table (url_id, status, request_ts, responce_ts, regex_mach),
 * with DAC's meaning, so the reports that query it keep working; see
 * dac-stats-sink.ts. The connection is the top-level postgres: section.
 */
import { z } from 'zod';
import { feedsWhenSet, type SinkKind } from '../kind.js';

const option = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, { error: 'expected a table name such as stats or public.stats' })
  .optional()
  .meta({ description: "DAC's stats table (url_id, status, request_ts, responce_ts, regex_mach) that this probe stream's results also go into, e.g. public.stats (postgres: at the top level; `nsr dac-schema` creates it)" });

export const dacStatsSinkKind: SinkKind<typeof option> = {
  kind: 'dac_stats',
  option: { key: 'dac_stats', schema: option },
  feeds: feedsWhenSet('dac_stats', false),
  check(streams, { postgres }) {
    const using = streams.filter((s) => s.options.dac_stats !== undefined);
    const notProbe = using.find((s) => s.kind !== 'probe');
    if (notProbe) return [`streams.${notProbe.name}.dac_stats: got ${JSON.stringify(notProbe.options.dac_stats)} on a ${notProbe.kind} stream; DAC's stats rows are URL probes: set it on a kind: probe stream, or remove it`];
    if (using.length && !postgres) return [`streams.${using[0].name}.dac_stats: set, but there is no postgres: section; add one (url, password: \${PGPASSWORD})`];
    return [];
  },
  async build({ connections, dir, note }) {
    const { startDacStatsSink } = await import('./dac-stats-sink.js');
    return startDacStatsSink(connections.postgres!, dir, note);
  },
};
