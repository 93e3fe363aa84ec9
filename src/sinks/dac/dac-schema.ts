/**
 * DAC's two tables, as DAC's own code creates them (app_db_async.py init_db),
 * in DDL that runs: DAC's db_schema.sql does not. It starts with DROP TABLE
 * without IF EXISTS (an error on a new database, and run on an old one it
 * throws the collected stats away), its OWNER TO / GRANT … TO `user` are a
 * placeholder that is a reserved word (a syntax error), and it names public
 * whatever the schema. Here every statement may run again without harm, the
 * schema is the INI's, and the owner is the INI's user, quoted.
 */
import { quoteIdent } from '../../sources/probe/probe-targets-table.js';

export function dacSchemaSql(schema: string, owner?: string): string {
  const s = quoteIdent(schema);
  const own = (table: string) => (owner ? `ALTER TABLE ${s}.${table} OWNER TO ${quoteIdent(owner)};\n` : '');
  return `-- DAC's tables (the async URL collector), for nsr run -c collector.ini; safe to run again.
CREATE SCHEMA IF NOT EXISTS ${s};

CREATE TABLE IF NOT EXISTS ${s}.urls (
  url_id int4 NOT NULL,
  url varchar(100) NOT NULL,
  interval int4 NOT NULL,
  regex varchar(512) NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS urls_logger_id_idx ON ${s}.urls USING btree (url_id);
CREATE UNIQUE INDEX IF NOT EXISTS urls_logger_ip_idx ON ${s}.urls USING btree (url);
${own('urls')}
CREATE TABLE IF NOT EXISTS ${s}.stats (
  url_id int4 NOT NULL,
  status int4 NOT NULL,
  request_ts timestamp(0) NOT NULL,
  responce_ts timestamp(0) NOT NULL,
  regex_mach varchar(515) NULL
);
-- nsr's inserts skip a row sent again (ON CONFLICT DO NOTHING) by this key.
CREATE UNIQUE INDEX IF NOT EXISTS stats_url_id_idx ON ${s}.stats USING btree (url_id, request_ts);
${own('stats')}`;
}
