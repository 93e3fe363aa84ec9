/** `postgres: true` on a stream: its records also go to PostgreSQL (the top-level postgres: section); see postgres-sink.ts. */
import { z } from 'zod';
import { feedsWhenSet, type SinkKind } from '../kind.js';

const option = z.boolean().default(false).meta({ description: 'also write the records into PostgreSQL (the postgres: section)' });

export const postgresSinkKind: SinkKind<typeof option> = {
  kind: 'postgres',
  option: { key: 'postgres', schema: option },
  feeds: feedsWhenSet('postgres', true),
  check: (streams, { postgres }) =>
    postgres ? [] : streams.filter((s) => s.options.postgres).slice(0, 1).map((s) => `streams.${s.name}.postgres: true, but there is no postgres: section; add one (url, password: \${PGPASSWORD})`),
  async build({ connections, dir, note }) {
    const { startPostgresSink } = await import('./postgres-sink.js');
    return startPostgresSink(connections.postgres!, dir, note);
  },
};
