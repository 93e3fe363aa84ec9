/**
 * `nsr check`: validates the configuration, then fetches each stream once and
 * says what it got: status, latency, size, and whether the body is what the
 * stream expects. Exit 0 when every stream answered well, 1 otherwise, 2 for a
 * configuration error.
 */
import { setMaxListeners } from 'node:events';
import type { Command } from 'commander';
import type { Source } from '../sources/source.js';
import { redactUrlsIn } from '../sources/common/redact.js';
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
  if (loaded.legacySettings) process.stdout.write(`settings: ${loaded.legacySettings}\n`);
  for (const warning of loaded.warnings) process.stdout.write(`warning: ${warning}\n`);
  let failures = 0;
  const sources = new Map<string, Source>();
  for (const s of loaded.streams) sources.set(s.name, SOURCE_KINDS[s.kind].build(s.name, s.options, { timing: s.timing, source: (name) => sources.get(name), postgres: loaded.postgres, dryRun: true }));
  const results = await Promise.all(
    loaded.streams.map(async (s) => {
      const source = sources.get(s.name)!;
      const started = performance.now();
      const deadline = Date.now() + s.timing.intervalMs;
      const signal = new AbortController().signal;
      setMaxListeners(0, signal); // every probe of a probe stream listens on it
      const took = () => `in ${(performance.now() - started).toFixed(0)} ms (timeout ${s.timing.timeoutMs} ms, every ${s.timing.intervalMs} ms)`;
      try {
        const onePass = source.cycle ? (sig: AbortSignal, dl: number) => source.cycle!(sig, dl, () => {}) : source.sample?.bind(source);
        if (onePass) {
          const report = await onePass(signal, deadline);
          failures += report.failures.length;
          const failed = report.failures.map((f) => `\n      ${f.item}: ${f.reason}: ${f.message}`).join('');
          return `${report.failures.length ? 'FAIL' : 'ok  '}  ${s.name}: ${source.target}: ${report.items - report.failures.length} of ${report.items} answered ${took()}${failed}`;
        }
        const body = await source.fetch!(signal, deadline);
        return `ok    ${s.name}: ${source.target} answered ${(body.length / 1024).toFixed(1)} KB of valid JSON ${took()}`;
      } catch (err) {
        failures++;
        const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
        return `FAIL  ${s.name}: ${source.target}: ${e.reason}: ${e.message}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`;
      }
    }),
  );
  for (const source of sources.values()) source.close();
  // Whatever a source put in its target or its errors, no URL credential is printed.
  process.stdout.write(`${redactUrlsIn(results.join('\n'))}\n`);
  return failures ? EXIT_RUNTIME : EXIT_OK;
}
