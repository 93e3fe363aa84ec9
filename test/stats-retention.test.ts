/**
 * `nsr stats` after months under retention: the gaps retention made are told
 * from the others, and the events of every window it removed (one per window,
 * hundreds of thousands after a year) do not make each gap cost a pass over all of them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readCatalog } from '../src/archive/catalog.js';
import { computeStats } from '../src/archive/stats.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { tempDir } from './helpers.js';

const I = 1000;
const T0 = Math.floor(new Date(2026, 1, 10, 10, 0, 0).getTime() / I) * I;

t.test('gaps removed by retention among many removed windows: told apart', async (t) => {
  const dir = path.join(tempDir(t), 'out');
  mkdirSync(dir, { recursive: true });
  const REMOVED = 100_000;
  const TICKS = 40_000;
  const events: string[] = [`{"timestamp":${T0 - 1000},"event":"start","streams":{"flowinfo":{"interval_ms":${I}}}}`];
  // Months of windows removed before the data kept (5 s windows, long ago).
  const long = T0 - REMOVED * 5000 - 1e9;
  for (let i = 0; i < REMOVED; i++) events.push(`{"timestamp":${T0 - 500},"event":"retention_deleted","stream":"flowinfo","file":"w${i}","reason":"max_age","first":${long + i * 5000},"last":${long + i * 5000 + 4000}}`);
  // Kept: one record a second, every other tick missing (unexplained), but ticks 1000..1009, whose window retention removed.
  const ticks: number[] = [];
  const unexplained = (k: number) => k % 2 === 1 && (k < 990 || k > 1020);
  for (let k = 0; k < TICKS; k++) if (!unexplained(k) && !(k >= 1000 && k < 1010)) ticks.push(T0 + k * I + 20);
  events.push(`{"timestamp":${T0 + 5000},"event":"retention_deleted","stream":"flowinfo","file":"x","reason":"max_bytes","first":${T0 + 1000 * I + 20},"last":${T0 + 1009 * I + 20}}`);
  writeFileSync(path.join(dir, `${formatWindowTime(T0)}_flowinfo.json`), ticks.map((ts) => `{"timestamp":${ts},"flowinfo":[]}\n`).join(''));
  writeFileSync(path.join(dir, `${formatWindowTime(T0)}_events.json`), events.map((e) => `${e}\n`).join(''));
  const catalogs = await readCatalog(dir);
  const { report } = await computeStats(catalogs.find((c) => c.stream === 'flowinfo')!, catalogs.find((c) => c.stream === 'events'), { listGaps: 5 });
  t.same(report.gaps.by_explanation.retention, { gaps: 1, missed_ticks: 10 }, 'the gap of the removed window is retention’s');
  t.equal(report.gaps.by_explanation.none.gaps, Array.from({ length: TICKS - 1 }, (_, k) => k).filter(unexplained).length, 'the others are not');
  // No time asserted here (speed belongs in benchmarks): the one pass over the removals per gap this replaced took 30-46 s on these numbers.
});
