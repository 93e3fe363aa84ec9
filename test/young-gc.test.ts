/**
 * `nsr run` collects V8's young generation after every YOUNG_GC_BYTES of
 * records (src/pipeline/young-gc.ts): dead bodies are freed within a few MB,
 * not after ~32 MB of them have piled up outside the heap.
 */
import t from 'tap';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { enableYoungGc, noteRecordBytes, YOUNG_GC_BYTES } from '../src/pipeline/young-gc.js';

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

t.test('one young collection per YOUNG_GC_BYTES of records', async (t) => {
  enableYoungGc();
  const n = await minorGcsDuring(() => {
    for (let i = 0; i < 3 * 8; i++) noteRecordBytes(YOUNG_GC_BYTES / 8);
  });
  // V8 may scavenge on its own as well; at least the three asked for happen.
  t.ok(n >= 3, `${n} young collections for 3 × YOUNG_GC_BYTES`);
});
