/**
 * `nsr dac-schema -c collector.ini`: prints DDL that creates DAC's urls and
 * stats tables in the INI's schema, owned by the INI's user (for psql, run by
 * an administrator); with --apply, runs it as the INI's user (who then owns
 * them). Safe to run again; see sinks/dac/dac-schema.ts for why DAC's own
 * db_schema.sql does not run.
 */
import type { Command } from 'commander';
import { configOption, EXIT_OK, fail, OperatorError } from './common.js';

export function registerDacSchema(program: Command): void {
  program
    .command('dac-schema')
    .description("print (or with --apply, create) DAC's urls and stats tables in the schema of a collector.ini")
    .addOption(configOption().makeOptionMandatory())
    .option('--apply', "create them in the INI's database, as its user, instead of printing the SQL")
    .action(async (opts: { config: string; apply?: boolean }) => {
      try {
        process.exitCode = await dacSchema(opts.config, Boolean(opts.apply));
      } catch (err) {
        fail(err);
      }
    });
}

async function dacSchema(file: string, apply: boolean): Promise<number> {
  const [{ loadConfig }, { ConfigError }, { dacSchemaSql }, { describeDatabase }] = await Promise.all([
    import('../config/loader.js'),
    import('../config/errors.js'),
    import('../sinks/dac/dac-schema.js'),
    import('../connections/postgres-settings.js'),
  ]);
  const loaded = loadConfig(file);
  const stream = loaded.streams.find((s) => s.options.targets_format === 'dac');
  if (!loaded.dac || !stream || !loaded.postgres) throw new ConfigError(`${file}: not DAC's collector.ini ([application], [database], [logging]); nsr's own tables come from \`nsr db init\``);
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  const schema = String(stream.options.targets_table).split('.')[0];
  const user = decodeURIComponent(new URL(loaded.postgres.url).username);
  if (!apply) {
    process.stdout.write(dacSchemaSql(schema, user));
    return EXIT_OK;
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client(loaded.postgres.connection);
  try {
    await client.connect();
  } catch (err) {
    throw new OperatorError(`cannot connect to ${describeDatabase(loaded.postgres)}: ${(err as Error).message}`);
  }
  try {
    await client.query('BEGIN');
    await client.query(dacSchemaSql(schema));
    await client.query('COMMIT');
    process.stdout.write(`${describeDatabase(loaded.postgres)}: ${schema}.urls and ${schema}.stats are there\n`);
    return EXIT_OK;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new OperatorError(`${describeDatabase(loaded.postgres)}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}
