/** The `nsr` command line: one file per command, each thin over the library. */
import type { Command } from 'commander';

type Register = (program: Command) => void;

const args = process.argv.slice(2);
const [{ Command: CommandClass }, { EXIT_USAGE, version }] = await Promise.all([import('commander'), import('./common.js')]);

/**
 * Each command's module, loaded only when it is the one being run: loading all
 * of them (simulators, archive readers, every source kind) cost `nsr run`,
 * `nsr cat` and `nsr --version` ~0.1 s of CPU and ~20 MB each (BENCHMARKS.md §17).
 * In the order `nsr --help` lists them.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  run: async () => (await import('./run.js')).registerRun,
  check: async () => (await import('./check.js')).registerCheck,
  stop: async () => (await import('./stop.js')).registerStop,
  status: async () => (await import('./status.js')).registerStatus,
  simulate: async () => (await import('./simulate.js')).registerSimulate,
  replay: async () => (await import('./replay.js')).registerReplay,
  schema: async () => (await import('./schema.js')).registerSchema,
  ls: async () => (await import('./ls.js')).registerLs,
  cat: async () => (await import('./cat.js')).registerCat,
  verify: async () => (await import('./verify.js')).registerVerify,
  index: async () => (await import('./index-cmd.js')).registerIndex,
  export: async () => (await import('./export.js')).registerExport,
  stats: async () => (await import('./stats.js')).registerStats,
  db: async () => (await import('./db.js')).registerDb,
  'dac-schema': async () => (await import('./dac-schema.js')).registerDacSchema,
  hub: async () => (await import('./hub.js')).registerHub,
};

const program = new CommandClass();
program
  .name('nsr')
  .description('Network State Recorder: records network APIs into time-windowed, zipped NDJSON archives')
  .version(version())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((err) => {
    // commander exits 1 on usage errors; nsr's contract is 2 (help and version stay 0).
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  });
// The program has no options of its own but --version and --help, so the first
// other word names the command. Anything else (help, a typo, no command) gets
// every command registered, for the full help and commander's suggestions.
const first = args.find((a) => !a.startsWith('-'));
// `--version` alone (dist/ run directly; bin/nsr answers it itself) loads no command.
const versionOnly = args.length === 1 && (args[0] === '--version' || args[0] === '-V');
const named = versionOnly ? [] : first !== undefined && Object.hasOwn(COMMANDS, first) ? [COMMANDS[first]] : Object.values(COMMANDS);
for (const register of await Promise.all(named.map((load) => load()))) register(program);
await program.parseAsync(process.argv);
