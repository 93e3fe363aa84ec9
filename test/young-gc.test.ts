/**
 * `nsr run` collects V8's young generation after every YOUNG_GC_BYTES of
 * records (src/pipeline/young-gc.ts): dead bodies are freed within a few MB,
 * not after ~32 MB of them have piled up outside the heap.
 */
import t from 'tap';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { enableYoungGc, noteRecordBytes, YOUNG_GC_BYTES, YOUNG_GC_WITHIN_MS } from '../src/pipeline/young-gc.js';

/** Young-generation collections seen while `fn` runs (a GC entry is delivered after the fact). */
async function minorGcsDuring(fn: () => void): Promise<number> {
  const seen: PerformanceEntry[] = [];
  const obs = new PerformanceObserver((list) => seen.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return seen.filter((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
}

t.test('no collection before it is enabled or before the bytes add up', async (t) => {
  t.equal(await minorGcsDuring(() => noteRecordBytes(YOUNG_GC_BYTES * 10)), 0, 'not enabled: records cost nothing extra');
  enableYoungGc();
  t.equal(await minorGcsDuring(() => noteRecordBytes(YOUNG_GC_BYTES - 1)), 0, 'below the threshold');
});

t.test('one young collection per YOUNG_GC_BYTES of records that come fast', async (t) => {
  enableYoungGc();
  let now = 1e9;
  const n = await minorGcsDuring(() => {
    for (let i = 0; i < 4 * 8; i++) noteRecordBytes(YOUNG_GC_BYTES / 8, (now += 10));
  });
  // The first megabyte starts the clock; V8 may scavenge on its own as well.
  t.ok(n >= 3, `${n} young collections for 4 × YOUNG_GC_BYTES within ${4 * 8 * 10} ms`);
});

t.test('none for records that come slowly (the nominal load): V8 keeps up', async (t) => {
  enableYoungGc();
  let now = 2e9;
  const n = await minorGcsDuring(() => {
    for (let i = 0; i < 4 * 8; i++) noteRecordBytes(YOUNG_GC_BYTES / 8, (now += YOUNG_GC_WITHIN_MS / 4));
  });
  t.equal(n, 0, '4 × YOUNG_GC_BYTES over 16 s');
});
