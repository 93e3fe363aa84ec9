/** `nsr index [dir]`: checks the archive index against the zips; `--rebuild` builds it anew. */
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { compareIndex, describeDifferences } from '../archive/index/index-check.js';
import { INDEX_FILE, parseIndex, pendingHooks } from '../archive/index/index-format.js';
import { readIndexBytes } from '../archive/index/index-reader.js';
import { sealHolds, sealIndex, unseal } from '../archive/index/index-seal.js';
import { ArchiveIndex } from '../archive/index/index-writer.js';
import { lstatIfAny } from '../fs/safe-files.js';
import { LOCK_FILE, lockOutputDir } from '../pipeline/lock-file.js';
import { archiveDir, DEFAULT_ARCHIVE_DIR, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail } from './common.js';

export function registerIndex(program: Command): void {
  program
    .command('index')
    .description(`check the archive index (${INDEX_FILE}) against the zips; --rebuild builds it anew from them (nsr run does both by itself at start)`)
    .argument('[dir]', `the directory of the archives, as with --dir (default ${DEFAULT_ARCHIVE_DIR})`)
    .addOption(dirOption())
    .option('--rebuild', 'read every zip and write the index anew (not while a recorder runs in the directory)')
    .action(async (dirArg: string | undefined, opts: { dir: string; rebuild?: boolean }, cmd: Command) => {
      try {
        const dir = await archiveDir(pickDir(dirArg, opts, cmd));
        process.exitCode = opts.rebuild ? await rebuild(dir) : await check(dir);
      } catch (err) {
        fail(err);
      }
    });
}

async function check(dir: string): Promise<number> {
  const d = await compareIndex(dir);
  const lines = describeDifferences(d);
  if (!lines.length) {
    process.stdout.write(`${path.join(dir, INDEX_FILE)}: ${d.windows} windows, matches the directory\n`);
    await sealIfIdle(dir);
    return EXIT_OK;
  }
  for (const l of lines) process.stdout.write(`${l}\n`);
  // A seal that says otherwise is wrong (made on a file system whose directory times do not show every change).
  await unseal(dir);
  return EXIT_RUNTIME;
}

async function rebuild(dir: string): Promise<number> {
  // The lock keeps a running recorder's index from being replaced under it (it throws naming the recorder).
  const release = lockOutputDir(dir);
  try {
    // The windows still waiting for their on_window hook stay so (the zips do not say it; the index does).
    const old = await readIndexBytes(dir);
    const pending = old instanceof Buffer ? pendingHooks(old.toString('latin1')) : undefined;
    await unlink(path.join(dir, INDEX_FILE)).catch(() => undefined);
    let failure: string | undefined;
    const index = new ArchiveIndex(
      dir,
      (event, fields) => {
        if (event === 'index_error') failure = String(fields.message);
      },
      { pending },
    );
    const result = await index.ready;
    index.close();
    if (!result || failure) throw new Error(`cannot write ${INDEX_FILE}: ${failure ?? 'unknown error'}`);
    process.stdout.write(`${path.join(dir, INDEX_FILE)}: rebuilt from ${result.windows} zips in ${(result.ms / 1000).toFixed(1)} s\n`);
  } finally {
    release();
  }
  await sealIfIdle(dir);
  return EXIT_OK;
}

/**
 * Seals the index (index-seal.ts) when it matches the directory and no recorder runs there (none holds the lock:
 * a line appended under a running recorder would make it rebuild its index). Compared again here: the directory may
 * have changed since it was read.
 */
async function sealIfIdle(dir: string): Promise<void> {
  if (await lstatIfAny(path.join(dir, LOCK_FILE))) return;
  const buf = await readIndexBytes(dir);
  if (!(buf instanceof Buffer) || (await sealHolds(dir, buf))) return;
  const parsed = parseIndex(buf.toString('latin1'));
  if (parsed && parsed.tornBytes === 0) await sealIndex(dir, parsed.state, buf.length).catch(() => false);
}
