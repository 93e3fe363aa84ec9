/** The `nsr` command line: one file per command, each thin over the library. */
import { Command } from 'commander';
import { registerRun } from './run.js';
import { registerCheck } from './check.js';
import { registerStop } from './stop.js';
import { registerStatus } from './status.js';
import { registerSchema } from './schema.js';
import { registerLs } from './ls.js';
import { registerCat } from './cat.js';
import { registerVerify } from './verify.js';
import { registerExport } from './export.js';
import { registerStats } from './stats.js';
import { registerSimulate } from './simulate.js';
import { registerReplay } from './replay.js';
import { registerDb } from './db.js';
import { registerDacSchema } from './dac-schema.js';
import { registerHub } from './hub.js';
import { EXIT_USAGE, version } from './common.js';

const program = new Command();
program
  .name('nsr')
  .description('Network State Recorder: records network APIs into time-windowed, zipped NDJSON archives')
  .version(version())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((err) => {
    // commander exits 1 on usage errors; nsr's contract is 2 (help and version stay 0).
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  });
registerRun(program);
registerCheck(program);
registerStop(program);
registerStatus(program);
registerSimulate(program);
registerReplay(program);
registerSchema(program);
registerLs(program);
registerCat(program);
registerVerify(program);
registerExport(program);
registerStats(program);
registerDb(program);
registerDacSchema(program);
registerHub(program);
await program.parseAsync(process.argv);
