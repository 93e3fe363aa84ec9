/**
 * `nsr check`: validates the configuration, then fetches each stream once and
 * says what it got: status, latency, size, and whether the body is what the
 * stream expects. Exit 0 when every stream answered well, 1 otherwise, 2 for a
 * configuration error.
 */
import type { Command } from 'commander';
import { configOption, EXIT_OK, EXIT_RUNTIME, fail, resolveConfigFile } from './common.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate the configuration and fetch each stream once')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      try {
        process.exitCode = await check(opts.config);
      } catch (err) {
        fail(err);
      }
    });
}

async function check(configFile: string | undefined): Promise<number> {
  const [{ loadConfig }, { SOURCE_KINDS }, { FetchError }] = await Promise.all([import('../config/loader.js'), import('../sources/registry.js'), import('../sources/source.js')]);
  const loaded = loadConfig(resolveConfigFile(configFile));
  process.stdout.write(`${loaded.file}: valid${loaded.legacy ? ' (the original recorder settings format)' : ''}; ${loaded.streams.length} stream${loaded.streams.length === 1 ? '' : 's'}, output into ${loaded.config.output.dir}\n`);
  let failures = 0;
  const results = await Promise.all(
    loaded.streams.map(async (s) => {
      const source = SOURCE_KINDS[s.kind].build(s.name, s.options, { timing: s.timing });
      const started = performance.now();
      try {
        const body = await source.fetch(new AbortController().signal, Date.now() + s.timing.intervalMs);
        const ms = performance.now() - started;
        return `ok    ${s.name}: ${source.target} answered ${(body.length / 1024).toFixed(1)} KB of valid JSON in ${ms.toFixed(0)} ms (timeout ${s.timing.timeoutMs} ms, every ${s.timing.intervalMs} ms)`;
      } catch (err) {
        failures++;
        const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
        return `FAIL  ${s.name}: ${source.target}: ${e.reason}: ${e.message}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`;
      } finally {
        source.close();
      }
    }),
  );
  process.stdout.write(`${results.join('\n')}\n`);
  return failures ? EXIT_RUNTIME : EXIT_OK;
}
