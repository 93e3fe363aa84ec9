// The disk guard (output.min_free) with an injected statfs: when it goes low and
// says so, how it asks retention to free space, when it is ok again, and how an
// output lane holds its records meanwhile.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Logger } from '../src/logging/logger.js';
import type { EventLevel } from '../src/logging/note-event.js';
import { DiskGuard, hysteresisBytes, minFreeBytes, type DiskStats } from '../src/pipeline/disk-guard.js';
import { OutputLane } from '../src/pipeline/output-lane.js';
import type { WindowCompressor } from '../src/pipeline/window-compressor.js';
import { sleep, tempDir } from './helpers.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const silent = createLogger({ level: 'silent', console: false });

interface Noted {
  event: string;
  fields: Record<string, unknown>;
  level?: EventLevel;
}

/** A file system of `total` bytes whose free space the test sets; block size 4096. */
function fakeDisk(total: number, free: number) {
  const disk = {
    free,
    calls: 0,
    fail: undefined as Error | undefined,
    statfs: async (): Promise<DiskStats> => {
      disk.calls++;
      if (disk.fail) throw disk.fail;
      return { bsize: 4096, blocks: Math.floor(total / 4096), bavail: Math.floor(disk.free / 4096) };
    },
  };
  return disk;
}

function guardOn(disk: ReturnType<typeof fakeDisk>, opts: Partial<ConstructorParameters<typeof DiskGuard>[0]> = {}) {
  const events: Noted[] = [];
  const guard = new DiskGuard({
    dir: 'recorded_info', // never read: statfs is the test's
    minFree: { bytes: GIB },
    note: (event, fields, level) => events.push({ event, fields, level }),
    log: silent,
    statfs: disk.statfs,
    ...opts,
  });
  return { guard, events, named: (name: string) => events.filter((e) => e.event === name) };
}

t.test('the margin: bytes, a share of the file system, the larger of both; the hysteresis', async (t) => {
  t.equal(minFreeBytes({ bytes: 2 * GIB }, 100 * GIB), 2 * GIB);
  t.equal(minFreeBytes({ percent: 5 }, 100 * GIB), 5 * GIB);
  t.equal(minFreeBytes({ percent: 0.5 }, 1000), 5, 'decimals, rounded up to a whole byte');
  t.equal(minFreeBytes({ bytes: GIB, percent: 5 }, 10 * GIB), GIB, 'both: the larger');
  t.equal(hysteresisBytes(10 * MIB, 100 * GIB), MIB, 'at least 1 MiB');
  t.equal(hysteresisBytes(5 * GIB, 100 * GIB), Math.ceil((5 * GIB) / 100), '1% of a large margin');
  t.equal(hysteresisBytes(99 * MIB, 100 * MIB), Math.floor(MIB / 2), 'a margin near the whole disk: half of what lies above it');
});

t.test('below min_free: retention is asked for the shortfall and the hysteresis; still low: disk_low once, records wait', async (t) => {
  const disk = fakeDisk(100 * GIB, 3 * GIB);
  const asked: number[] = [];
  const { guard, named } = guardOn(disk, { minFree: { bytes: 2 * GIB }, freeSpace: async (n) => (asked.push(n), 0), queued: () => 7 });
  t.equal(await guard.check(), false, 'above the margin: not low');
  t.same(asked, [], 'retention is not asked while there is room');

  disk.free = 2 * GIB - 10 * MIB;
  t.equal(await guard.check(), true, 'below: low');
  t.equal(guard.low, true);
  t.same(asked, [10 * MIB + Math.ceil((2 * GIB) / 100)], 'retention was asked for the shortfall and the hysteresis (the open windows keep growing)');
  const low = named('disk_low');
  t.equal(low.length, 1);
  t.same(low[0].fields, { free_bytes: 2 * GIB - 10 * MIB, min_free_bytes: 2 * GIB, total_bytes: 100 * GIB, queued_records: 7, resume_at_bytes: 2 * GIB + Math.ceil((2 * GIB) / 100) });
  t.equal(low[0].level, 'warn');

  let resumed = false;
  const waiting = guard.whenOk().then(() => (resumed = true));
  await guard.check();
  await guard.check();
  t.equal(named('disk_low').length, 1, 'disk_low is said once per low period');
  t.equal(asked.length, 3, 'retention is asked again at every check while low');
  t.ok(asked.slice(1).every((n) => n === 2 * GIB + Math.ceil((2 * GIB) / 100) - (2 * GIB - 10 * MIB)), 'while low, for what it takes to pass the line plus the hysteresis');
  await sleep(10);
  t.equal(resumed, false, 'whenOk waits while low');

  disk.free = 3 * GIB;
  t.equal(await guard.check(), false, 'space is back');
  await waiting;
  t.equal(resumed, true, 'whenOk resolves');
  const ok = named('disk_ok');
  t.equal(ok.length, 1);
  t.match(ok[0].fields, { free_bytes: 3 * GIB, waited_records: 7, low_ms: Number });
  t.equal(ok[0].level, 'info');
});

t.test('retention that frees enough: no disk_low, nothing waits', async (t) => {
  const disk = fakeDisk(100 * GIB, GIB - 5 * MIB);
  const asked: number[] = [];
  const { guard, events } = guardOn(disk, {
    freeSpace: async (n) => {
      asked.push(n);
      disk.free += n + MIB; // removed a few old zips
      return n + MIB;
    },
  });
  t.equal(await guard.check(), false);
  t.same(asked, [5 * MIB + Math.ceil(GIB / 100)], 'the shortfall and the hysteresis');
  t.same(events, [], 'no event: retention made room');
  t.equal(guard.low, false);
  await guard.whenOk(); // resolves at once
});

t.test('the hook can be set after construction; a failing hook is logged once and the guard goes low anyway', async (t) => {
  const disk = fakeDisk(100 * GIB, GIB / 2);
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
  const { guard, named } = guardOn(disk, { log });
  let calls = 0;
  guard.freeSpace = async () => {
    calls++;
    throw new Error('the archive is busy');
  };
  await guard.check();
  await guard.check();
  t.equal(calls, 2);
  t.equal(guard.low, true);
  t.equal(named('disk_low').length, 1);
  t.same(warnings, ['disk guard: retention could not free space: the archive is busy'], 'a lasting failure is logged once');
  guard.freeSpace = () => {
    throw new Error('not a promise');
  };
  t.equal(await guard.check(), true, 'a hook that throws at once is caught the same way');
  t.equal(warnings.length, 2);
});

t.test('hysteresis: ok again only at min_free plus max(1 MiB, 1%); no flapping at the line', async (t) => {
  const disk = fakeDisk(10 * GIB, 100 * MIB);
  const { guard, named } = guardOn(disk, { minFree: { bytes: 200 * MIB } });
  t.equal(await guard.check(), true);
  disk.free = 200 * MIB; // exactly at the margin
  t.equal(await guard.check(), true, 'at the margin: still low');
  disk.free = 200 * MIB + MIB - 4096;
  t.equal(await guard.check(), true, 'just under margin + 2 MiB (1% of 200 MiB): still low');
  disk.free = 200 * MIB + 2 * MIB;
  t.equal(await guard.check(), false, 'past it: ok');
  disk.free = 200 * MIB + 4096;
  t.equal(await guard.check(), false, 'dipping back into the band above the margin: still ok');
  disk.free = 200 * MIB - 4096;
  t.equal(await guard.check(), true, 'below the margin again: low');
  t.equal(named('disk_low').length, 2, 'a second low period is a second disk_low');
  t.equal(named('disk_ok').length, 1);
});

t.test('a share of the file system; statfs failing changes nothing and is logged once', async (t) => {
  const disk = fakeDisk(100 * GIB, 4 * GIB);
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
  const { guard } = guardOn(disk, { minFree: { percent: 5 }, log });
  t.equal(await guard.check(), true, '4 GiB free of 100: below 5%');
  t.same(guard.view(), { freeBytes: 4 * GIB, minFreeBytes: 5 * GIB, totalBytes: 100 * GIB, low: true });
  disk.fail = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
  disk.free = 50 * GIB;
  await guard.check();
  await guard.check();
  t.equal(guard.low, true, 'cannot tell: stays as it was');
  t.equal(warnings.length, 1, 'logged once');
  t.match(warnings[0], /cannot read the free space of the output directory: EIO/);
  disk.fail = undefined;
  t.equal(await guard.check(), false);
});

t.test('start polls every checkMs; whenOk ends on an abort; stop releases every waiter', async (t) => {
  const disk = fakeDisk(100 * GIB, GIB / 2);
  const { guard } = guardOn(disk, { checkMs: 10 });
  guard.start();
  for (let i = 0; i < 100 && !guard.low; i++) await sleep(5);
  t.equal(guard.low, true, 'the first check runs at start');
  const before = disk.calls;
  for (let i = 0; i < 400 && disk.calls < before + 3; i++) await sleep(5);
  t.ok(disk.calls >= before + 3, 'it keeps looking, every checkMs');

  const abort = new AbortController();
  const aborted = guard.whenOk(abort.signal);
  abort.abort();
  await aborted;
  t.pass('an aborted wait ends although the guard is still low');

  const waiting = guard.whenOk();
  guard.stop();
  await waiting;
  t.equal(guard.low, false, 'a stopped guard holds nothing');
  const after = disk.calls;
  await sleep(60);
  t.equal(disk.calls, after, 'no check after stop');
  guard.start();
  t.equal(disk.calls, after, 'nor after a start once stopped');
});

t.test('an output lane holds records while low, in order, and writes anyway when it closes', async (t) => {
  const dir = tempDir(t);
  const wake: (() => void)[] = [];
  const gate = {
    low: true,
    whenOk(signal?: AbortSignal): Promise<void> {
      if (!gate.low || signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        wake.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  };
  const compressed: string[] = [];
  let now = 1_800_000_000_000;
  const ctx = {
    log: silent,
    note: () => {},
    compressor: { compress: (w: { jsonPath: string }) => compressed.push(w.jsonPath) } as unknown as WindowCompressor,
    now: () => now,
    hurried: () => false,
    queue: { maxRecords: 100, maxBytes: 1e6 },
    window: { dir, maxBytes: 1e6 },
    disk: gate,
  };
  const lane = new OutputLane('s', 60_000, { mode: 'wrap', key: 'v' }, ctx);
  const events = new OutputLane('events', 60_000, undefined, ctx, false);
  lane.start();
  events.start();
  const lines = () => readdirSync(dir).filter((f) => f.endsWith('_s.json')).flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));

  for (let i = 1; i <= 3; i++) lane.push(i, now, Buffer.from(`[${i}]`));
  events.pushLine({ stream: 'events', tick: 0, scheduledAt: now, receivedAt: now, line: Buffer.from('{"timestamp":1,"event":"disk_low"}\n') });
  await events.written();
  t.pass('the events lane writes while low');
  await sleep(50);
  t.same(lines(), [], 'nothing of the data lane is written while low');
  t.equal(lane.queue.depth, 3, 'the records wait in the queue');

  gate.low = false;
  wake.splice(0).forEach((w) => w());
  await lane.written();
  t.same(lines(), ['{"timestamp":1800000000000,"v":[1]}', '{"timestamp":1800000000000,"v":[2]}', '{"timestamp":1800000000000,"v":[3]}'], 'written in order once ok');

  gate.low = true;
  now += 1000;
  lane.push(4, now, Buffer.from('[4]'));
  await sleep(50);
  t.equal(lane.queue.depth, 1, 'low again: the next record waits');
  const unwritten = await lane.close({ atStop: true });
  t.equal(unwritten, 0, 'a closing lane writes anyway: nothing stays in memory');
  t.equal(compressed.length, 1, 'and its window goes to compression');
  t.same(readFileSync(compressed[0], 'utf8').split('\n').filter(Boolean).length, 4);
  await events.close();
});
