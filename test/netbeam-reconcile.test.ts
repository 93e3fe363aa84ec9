// The netbeam kind's reconcile (the windows written after the last checkpoint
// save move the checkpoints on, once per run, before the first request). A
// reconcile that fails (here the directory cannot be listed; under load, a
// window listed as .json was zipped by the restart's recovery before it was
// read: ENOENT) fails that tick only:
// the next tick tries again and the series go on. The failure used to be kept,
// and every tick of the run failed with it.
import t from 'tap';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { netbeamKind } from '../src/sources/netbeam/netbeam.js';
import { sourceStateFile } from '../src/sources/common/state-file.js';
import { NetbeamSimulator } from '../src/simulate/netbeam-simulator.js';
import type { EmitRecord } from '../src/sources/source.js';
import { tempDir } from './helpers.js';

const timing = { intervalMs: 60_000, timeoutMs: 10_000, windowMs: 60_000, retries: 0 };

t.test('a reconcile that fails is tried again at the next tick, and the series go on', async (t) => {
  const dir = path.join(tempDir(t), 'out');
  mkdirSync(dir);
  const sim = new NetbeamSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  // A checkpoint file saved just now: the run reconciles the windows written since.
  writeFileSync(sourceStateFile(dir, 'netbeam', 'esnet'), JSON.stringify({ checkpoints: {}, inventory: {}, saved_at: Date.now() }));
  const cfg = netbeamKind.schema.parse({ kind: 'netbeam', url, interval: '60s', backfill: '2m', concurrency: 4 });
  const s = netbeamKind.build('esnet', cfg, { timing, source: () => undefined, outputDir: dir });
  t.teardown(() => s.close?.());
  const records: unknown[] = [];
  const emit: EmitRecord = (r) => void records.push(r);
  const cycle = () => s.cycle!(new AbortController().signal, Date.now() + 10_000, emit);

  // The state is read; now the output directory cannot be listed (a file in its place), so the reconcile fails.
  renameSync(dir, `${dir}.away`);
  writeFileSync(dir, 'not a directory');
  await t.rejects(cycle(), 'the first tick fails: the windows cannot be read');
  t.equal(sim.requests.length, 0, 'no series asked for before the checkpoints are reconciled');

  rmSync(dir);
  renameSync(`${dir}.away`, dir);
  const report = await cycle();
  t.ok(report, 'the next tick runs');
  t.ok(sim.requests.length > 0, `the series are asked for (${sim.requests.length} requests)`);
  t.ok(records.length > 1, `records emitted (${records.length})`);
});
