/**
 * Retention over a real directory of zips and its archive index: which
 * windows go, in what order, what is never removed, and what is reported.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { HOOK_PENDING, type IndexedZip } from '../src/archive/index/index-format.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { ArchiveIndex } from '../src/archive/index/index-writer.js';
import { readCatalog } from '../src/archive/catalog.js';
import type { RetentionPolicy } from '../src/config/retention.js';
import { Retention } from '../src/pipeline/retention.js';
import { tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

interface Setup {
  global?: RetentionPolicy;
  streams?: Record<string, RetentionPolicy>;
  unzipped?: Record<string, number>;
  readBackFrom?: Record<string, number>;
}

/** 10 windows a stream, one every 10 minutes, the newest ending just before NOW. */
async function setup(t: Test, s: Setup) {
  const dir = tempDir(t);
  const files: Record<string, string[]> = { flowinfo: [], graphinfo: [] };
  for (let i = 0; i < 10; i++) for (const stream of ['flowinfo', 'graphinfo']) files[stream].push(await makeWindow(dir, stream, NOW - (10 - i) * 10 * MINUTE, stream === 'graphinfo' ? 50 : 5));
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const note = (event: string, fields: Record<string, unknown>) => void events.push({ event, fields });
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  t.teardown(() => index.close());
  const retention = new Retention({
    index,
    global: s.global,
    policyOf: (stream) => s.streams?.[stream],
    unzippedBytes: () => new Map(Object.entries(s.unzipped ?? {})),
    readBackFrom: (stream) => s.readBackFrom?.[stream],
    note,
    now: () => NOW,
  });
  const deleted = () => events.filter((e) => e.event === 'retention_deleted').map((e) => e.fields.file as string);
  const zipBytes = () => readdirSync(dir).filter((f) => f.endsWith('.zip')).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
  return { dir, files, events, index, retention, deleted, zipBytes };
}

t.test('max_age removes the windows whose last record is older, oldest first, each an event and gone from the index', async (t) => {
  const { dir, files, retention, deleted, events } = await setup(t, { global: { maxAgeMs: 45 * MINUTE } });
  await retention.enforce();
  // Windows start 100, 90, … 10 minutes ago; their last record a few seconds later: those from 50 minutes back on are older than 45 minutes.
  const gone = [...files.flowinfo.slice(0, 6), ...files.graphinfo.slice(0, 6)];
  t.same(deleted().sort(), gone.sort(), '6 windows of each stream');
  for (const f of gone) t.notOk(existsSync(path.join(dir, f)), `${f} removed`);
  const e = events.find((x) => x.event === 'retention_deleted')!;
  t.match(e.fields, { stream: String, file: String, reason: 'max_age', records: Number, first: Number, last: Number, bytes: Number, zip_bytes: Number, window_start: Number });
  const cats = await readCatalog(dir);
  t.same(cats.map((c) => c.windows.length), [4, 4], 'the tools see the 4 newest windows of each stream');
  await retention.enforce();
  t.equal(deleted().length, 12, 'nothing more on the next check');
});

t.test("a stream's own max_age replaces the global one; its own max_bytes bounds only it", async (t) => {
  const { files, retention, deleted, index } = await setup(t, { global: { maxAgeMs: 1000 * MINUTE }, streams: { flowinfo: { maxAgeMs: 25 * MINUTE }, graphinfo: { maxBytes: 3000 } } });
  await retention.enforce();
  t.same(deleted().filter((f) => f.includes('flowinfo')).sort(), files.flowinfo.slice(0, 8).sort(), 'flowinfo: older than its own 25 minutes');
  const graphLeft = [...index.zips.values()].filter((z) => z.file.includes('graphinfo'));
  t.ok(graphLeft.reduce((n, z) => n + z.zipBytes, 0) <= 3000, 'graphinfo holds at most its max_bytes');
  t.ok(graphLeft.length > 0 && graphLeft.length < 10, `the newest graphinfo windows stay (${graphLeft.length})`);
  t.ok(graphLeft.every((z) => files.graphinfo.indexOf(z.file) >= 10 - graphLeft.length), 'and they are the newest');
});

t.test('the total max_bytes counts zips, window files not yet zipped and the index, and removes oldest first across streams', async (t) => {
  const { retention, zipBytes, index, deleted } = await setup(t, {});
  const total = zipBytes();
  // Half the zips must go (the zips here are small beside the index's lines, which count too).
  const budget = Math.floor(total / 2) + 1000 + index.bytes;
  const r2 = new Retention({ index, global: { maxBytes: budget }, policyOf: () => undefined, unzippedBytes: () => new Map([['flowinfo', 1000]]), readBackFrom: () => undefined, note: () => {}, now: () => NOW });
  void retention;
  await r2.enforce();
  const held = zipBytes() + 1000 + index.bytes;
  t.ok(held <= budget, `held ${held} ≤ budget ${budget}`);
  const kept = [...index.zips.values()];
  const oldestKept = Math.min(...kept.map((z) => z.last));
  t.ok(kept.length > 0, 'something is kept');
  t.equal(deleted().length, 0, 'events went to the other retention');
  t.ok(oldestKept > NOW - 100 * MINUTE, 'the oldest went first');
});

t.test('never removed: a window whose hook has not succeeded, a window a sink still reads back; reported once, removed once released', async (t) => {
  const readBack: Record<string, number> = {};
  const { files, index, retention, deleted, events } = await setup(t, { global: { maxAgeMs: 0 }, readBackFrom: readBack });
  // The oldest flowinfo window waits for its hook; graphinfo from its 4th window on waits for a sink.
  const hooked = index.zips.get(files.flowinfo[0])!;
  hooked.flags += HOOK_PENDING;
  readBack.graphinfo = index.zips.get(files.graphinfo[3])!.first;
  await retention.enforce();
  t.notOk(deleted().includes(files.flowinfo[0]), 'the window waiting for its hook stays');
  t.ok(files.flowinfo.slice(1).every((f) => deleted().includes(f)), 'younger flowinfo windows go (a budget needs the room)');
  t.same(deleted().filter((f) => f.includes('graphinfo')).sort(), files.graphinfo.slice(0, 3).sort(), 'graphinfo up to what the sink reads back');
  const blocked = events.filter((e) => e.event === 'retention_blocked');
  t.equal(blocked.filter((e) => e.fields.protected_by === 'hook_pending').length, 1);
  t.equal(blocked.filter((e) => e.fields.protected_by === 'read_back').length, 7);
  await retention.enforce();
  t.equal(events.filter((e) => e.event === 'retention_blocked').length, 8, 'not reported again');
  // The hook succeeds, the sink catches up.
  index.hookDone(files.flowinfo[0]);
  delete readBack.graphinfo;
  await retention.enforce();
  t.ok(deleted().includes(files.flowinfo[0]), 'removed once its hook succeeded');
  t.equal(index.zips.size, 0, 'and the rest');
});

t.test('freeSpace (the disk guard) removes the oldest windows of streams with a limit until enough is freed', async (t) => {
  const { index, files, deleted } = await setup(t, {});
  const events: string[] = [];
  const r = new Retention({ index, global: undefined, policyOf: (s) => (s === 'graphinfo' ? { maxAgeMs: 1e9 } : undefined), unzippedBytes: () => new Map(), readBackFrom: () => undefined, note: (e, f) => events.push(`${e}:${f.reason}`), now: () => NOW });
  const need = index.zips.get(files.graphinfo[0])!.zipBytes + 1;
  const freed = await r.freeSpace(need);
  t.ok(freed >= need, `freed ${freed} ≥ ${need}`);
  t.same(events, ['retention_deleted:min_free', 'retention_deleted:min_free'], 'two windows, reason min_free');
  t.ok(files.flowinfo.every((f) => index.zips.has(f)), 'a stream without retention is never touched');
  void deleted;
});

t.test('an events window stays while a data window it may explain is kept', async (t) => {
  const { dir, index, files, deleted } = await setup(t, {});
  const ev: string[] = [];
  for (let i = 0; i < 10; i++) ev.push(await makeWindow(dir, 'events', NOW - (10 - i) * 10 * MINUTE, 2));
  await new Promise<void>((r) => setImmediate(r));
  // The index learns of the events zips at its next check: open it again.
  index.close();
  const again = new ArchiveIndex(dir, () => {});
  await again.ready;
  t.teardown(() => again.close());
  // Data from 60 minutes back is kept (a sink reads it back): the events from then on stay, the older ones may go.
  const keepFrom = again.zips.get(files.flowinfo[4])!.first;
  const r = new Retention({ index: again, global: { maxAgeMs: 0 }, policyOf: () => undefined, unzippedBytes: () => new Map(), readBackFrom: () => keepFrom, note: () => {}, now: () => NOW });
  await r.enforce();
  const left = ev.filter((f) => again.zips.has(f));
  t.same(left, ev.slice(4), 'the events windows of the kept data stay');
  void deleted;
});

t.test('a window that cannot be removed is reported and stays in the index; the others still go, and enforce never rejects', async (t) => {
  const { dir, files, index, retention, deleted, events } = await setup(t, { global: { maxAgeMs: 45 * MINUTE } });
  // The operator put a directory where the oldest zip was (unlink fails with EISDIR).
  const stuck = files.flowinfo[0];
  rmSync(path.join(dir, stuck));
  mkdirSync(path.join(dir, stuck));
  writeFileSync(path.join(dir, stuck, 'x'), 'x');
  await t.resolves(retention.enforce(), 'enforce resolves (a rejection would end the recorder: it is not awaited)');
  t.notOk(deleted().includes(stuck), 'not reported as removed');
  t.ok(index.zips.has(stuck), 'still in the index: it is still there');
  t.equal(deleted().length, 11, 'the other old windows went');
  t.match(events.find((e) => e.event === 'retention_failed')?.fields, { file: stuck, reason: 'max_age', error: /EISDIR/ });
  await t.resolves(retention.enforce());
  t.equal(events.filter((e) => e.event === 'retention_failed').length, 1, 'reported once');
});

t.test('a check over a year of windows costs a pass, not a sort: under the budget, and when one window must go', async (t) => {
  // 300,000 zips (a year of three streams in 5-minute windows), a fake index (retention reads only its zips and bytes).
  const zips = new Map<string, IndexedZip>();
  const streams = ['flowinfo', 'graphinfo', 'events'];
  const T = NOW - 300_000 * 100_000;
  for (let i = 0; i < 300_000; i++) {
    const start = T + i * 100_000;
    const file = `${formatWindowTime(start)}_${streams[i % 3]}_json.zip`;
    zips.set(file, { file, day: '20260101', start, records: 10, first: start, last: start + 9000, bytes: 1000, zipBytes: 100, flags: '' });
  }
  const removed: string[] = [];
  const index = { zips, bytes: 0, ready: Promise.resolve(undefined), remove: async (file: string) => void (zips.delete(file), removed.push(file)) } as unknown as ArchiveIndex;
  let budget = 300_000 * 100;
  const r = new Retention({ index, global: { maxBytes: 300_000 * 100, maxAgeMs: 400 * 86_400_000 }, policyOf: () => undefined, unzippedBytes: () => new Map([['flowinfo', budget - 300_000 * 100]]), readBackFrom: () => undefined, note: () => {}, now: () => NOW });
  const time = async () => {
    const started = performance.now();
    await r.enforce();
    return performance.now() - started;
  };
  await time(); // warm up
  const under = Math.max(await time(), await time());
  budget += 150; // the open window grew: two windows must go
  const over = await time();
  t.equal(removed.length, 2);
  t.ok(removed.every((f, i) => f === `${formatWindowTime(T + i * 100_000)}_${streams[i % 3]}_json.zip`), 'the two oldest');
  t.ok(under < 600, `under the budget: ${Math.round(under)} ms`);
  t.ok(over < 600, `two over it: ${Math.round(over)} ms`);
});
