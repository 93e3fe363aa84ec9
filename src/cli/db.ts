/**
 * `nsr db init`: creates (or brings up to date) the tables nsr writes into, in
 * the database of the configuration's `postgres:` section. Safe to run again
 * and from several machines at once.
 */
import type { Command } from 'commander';
import { configOption, EXIT_OK, fail, OperatorError, resolveConfigFile } from './common.js';

export function registerDb(program: Command): void {
  const db = program.command('db').description('the PostgreSQL database of the postgres: section');
  db.command('init')
    .description('create or update the tables nsr writes into (nsr_records, probe_targets, probe_results)')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      try {
        process.exitCode = await init(opts.config);
      } catch (err) {
        fail(err);
      }
    });
}

async function init(configFile: string | undefined): Promise<number> {
  const [{ loadConfig }, { default: pg }, { migrate, SCHEMA_VERSION }, { describeDatabase }, { ConfigError }] = await Promise.all([
    import('../config/loader.js'),
    import('pg'),
    import('../sinks/postgres/postgres-schema.js'),
    import('../connections/postgres-settings.js'),
    import('../config/errors.js'),
  ]);
  const loaded = loadConfig(resolveConfigFile(configFile));
  const settings = loaded.postgres;
  if (!settings) throw new ConfigError(`${loaded.file}: no postgres: section; add one with url (and password: \${PGPASSWORD})`);
  const client = new pg.Client(settings.connection);
  try {
    await client.connect();
  } catch (err) {
    throw new OperatorError(`cannot connect to ${describeDatabase(settings)}: ${(err as Error).message}`);
  }
  try {
    const applied = await migrate(client);
    process.stdout.write(applied.length ? `${describeDatabase(settings)}: schema version ${SCHEMA_VERSION} (applied ${applied.join(', ')})\n` : `${describeDatabase(settings)}: schema version ${SCHEMA_VERSION}, already up to date\n`);
    return EXIT_OK;
  } catch (err) {
    throw new OperatorError(`${describeDatabase(settings)}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}
