/**
 * Events windows count their run marks (start, stop, retention_deleted): the
 * count is in their zip's comment and, as the `q` flag, on their index line,
 * and survives a rebuild of the index. `nsr stats` then opens only the events
 * windows that may hold one, and says the same as when it reads them all.
 */
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readCatalog, type StreamCatalog } from '../src/archive/catalog.js';
import { INDEX_FILE, RUN_MARKS_NONE } from '../src/archive/index/index-format.js';
import { readArchiveIndex } from '../src/archive/index/index-reader.js';
import { ArchiveIndex } from '../src/archive/index/index-writer.js';
import { computeStats } from '../src/archive/stats.js';
import { readZipInfo } from '../src/archive/zip-reader.js';
import { isRunMark } from '../src/logging/run-marks.js';
import { WindowWriter } from '../src/sinks/window-writer.js';
import { simulatorWithConfig, sleep, startNsr, tempDir, untilRecording } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

t.test('a window writer counts the records it is told to count, per window', async (t) => {
  const dir = tempDir(t);
  const w = new WindowWriter({ dir, stream: 'events', windowMs: 1000, maxBytes: 1e9, countMarked: isRunMark });
  const T = Math.floor(Date.now() / 1000) * 1000;
  const line = (ts: number, event: string) => Buffer.from(`{"timestamp":${ts},"event":"${event}"}\n`);
  await w.append(line(T + 1, 'start'), T + 1);
  await w.append(line(T + 2, 'window_compressed'), T + 2);
  await w.append(line(T + 3, 'retention_deleted'), T + 3);
  await w.append(line(T + 1001, 'missed_tick'), T + 1001);
  await w.append(line(T + 2001, 'stop'), T + 2001);
  await w.close();
  t.same(w.takeClosed().map((c) => c.marked), [2, 0, 1]);
  const plain = new WindowWriter({ dir, stream: 'flowinfo', windowMs: 1000, maxBytes: 1e9 });
  await plain.append(line(T + 1, 'start'), T + 1);
  await plain.close();
  t.equal(plain.takeClosed()[0].marked, undefined, 'a data window carries no count');
});

t.test('a recorder’s events zips say how many run marks they hold; nsr stats opens only those that hold some', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  await simulatorWithConfig(t, dir, (url) => ['output: {dir: out, window: 1s}', 'shutdown: {grace: 1s}', 'streams:', `  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 200ms}`, ''].join('\n'));
  // Two runs: each writes a start into its first events window and a stop into its last.
  for (let run = 0; run < 2; run++) {
    const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
    await untilRecording(out, 'graphinfo');
    await sleep(3500);
    process.kill(nsr.pid, 'SIGTERM');
    t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  }
  const indexed = (await readArchiveIndex(out))!.state;
  const eventZips = [...indexed.zips.values()].filter((z) => z.file.endsWith('_events_json.zip'));
  const counts = await Promise.all(eventZips.map(async (z) => (await readZipInfo(path.join(out, z.file))).meta?.marked));
  t.ok(counts.every((n) => typeof n === 'number'), `every events zip counts its marks (${counts.join(',')})`);
  t.ok(counts.filter((n) => n! > 0).length >= 2 && counts.some((n) => n === 0), 'some hold marks (starts, stops), some none');
  eventZips.forEach((z, i) => t.equal(z.flags.includes(RUN_MARKS_NONE), counts[i] === 0, `${z.file}: index flag agrees with its zip`));
  const graphZips = [...indexed.zips.values()].filter((z) => z.file.endsWith('_graphinfo_json.zip'));
  t.notOk(JSON.parse((await readZipInfo(path.join(out, graphZips[0].file))).comment).marked !== undefined, 'data zips carry no count');

  // The same flags after the index is rebuilt from the zips.
  const before = readFileSync(path.join(out, INDEX_FILE), 'latin1');
  unlinkSync(path.join(out, INDEX_FILE));
  const rebuilt = new ArchiveIndex(out, () => {});
  await rebuilt.ready;
  rebuilt.close();
  const quiet = (text: string) => text.split('\n').filter((l) => l.startsWith('z\t') && l.split('\t')[9].includes(RUN_MARKS_NONE)).map((l) => l.split('\t')[2]).sort();
  t.same(quiet(readFileSync(path.join(out, INDEX_FILE), 'latin1')), quiet(before), 'a rebuild finds the same quiet windows');

  // nsr stats: the same report, from fewer events windows than reading them all.
  const cats = await readCatalog(out);
  const data = cats.find((c) => c.stream === 'graphinfo')!;
  const events = cats.find((c) => c.stream === 'events')!;
  const unknown: StreamCatalog = { ...events, windows: events.windows.map((w) => ({ ...w, marked: undefined })) };
  const run = async (ev: StreamCatalog) => {
    const read = new Set<string>();
    const { report } = await computeStats(data, ev, { onProgress: (s) => void (/^events: window \d+\/\d+ (\S+)/.exec(s) && read.add(/(\S+)$/.exec(s)![1])) });
    return { report, read };
  };
  const skipping = await run(events);
  const all = await run(unknown);
  t.same(skipping.report, all.report, 'the same report');
  t.equal(all.read.size, events.windows.length, 'without counts every events window is read');
  t.equal(skipping.read.size, counts.filter((n) => n !== 0).length, `with them only the ${skipping.read.size} that hold marks`);
});

t.test('events windows from before the counts (no count in the zip) are read as before', async (t) => {
  const dir = path.join(tempDir(t), 'out');
  mkdirSync(dir);
  const T = Date.UTC(2026, 0, 10, 10, 0, 0);
  const z = await makeWindow(dir, 'events', T);
  t.equal((await readZipInfo(path.join(dir, z))).meta?.marked, undefined);
  const idx = new ArchiveIndex(dir, () => {});
  await idx.ready;
  idx.close();
  t.notOk([...(await readArchiveIndex(dir))!.state.zips.values()][0].flags.includes(RUN_MARKS_NONE), 'not flagged quiet: not known');
});
