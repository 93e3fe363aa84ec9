/**
 * Collects V8's young generation after every YOUNG_GC_BYTES of records that
 * came within YOUNG_GC_WITHIN_MS, for `nsr run` only (enableYoungGc).
 *
 * Why: a body lives outside V8's heap (a Buffer's bytes are malloc'd), and only
 * its small wrapper object is on the heap. The wrappers die young, but the
 * young generation fills with so little that V8 collects it only when the
 * bytes outside add up: at the harness's `fast` load (40 requests a second,
 * ~3.5 MB of bodies a second) `--trace-gc` showed scavenges "by external
 * memory pressure" every 3-7 s, with ~32 MB of dead bodies (each body is held
 * in a few copies on its way: socket chunks, the whole body, the record line)
 * held until then, and glibc keeping the pages after. One scavenge costs
 * ~0.3-0.6 ms; at `fast` this makes three or four a second, and the peak RSS
 * fell 110 -> 81 MB with less CPU, not more (4 MB: 92 MB; 256 KB: 78 MB and
 * more CPU; BENCHMARKS.md §17).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Record bytes between two collections. */
export const YOUNG_GC_BYTES = 1024 * 1024;
/**
 * Only when they came this fast: at the nominal load (~0.2 MB of records a
 * second) V8's own scavenges keep up, and a forced one every few seconds only
 * promotes live objects sooner (two nominal runs with it: steady CPU 0.37 and
 * 0.43 s/min against 0.31 and 0.33 without).
 */
export const YOUNG_GC_WITHIN_MS = 2000;

type Gc = (options: { type: 'minor' }) => void;
let gc: Gc | undefined;
let bytesSince = 0;
let countingSince = 0;

/**
 * Gets V8's gc function without --expose-gc on the command line (bin/nsr starts
 * Node with no flags): the flag set now applies to contexts made after it.
 */
export function enableYoungGc(): void {
  if (gc) return;
  v8.setFlagsFromString('--expose-gc');
  gc = vm.runInNewContext('gc') as Gc;
}

/** Counts a record's bytes; collects the young generation when enough have passed within YOUNG_GC_WITHIN_MS. `at`: a clock for tests. */
export function noteRecordBytes(n: number, at?: number): void {
  if (!gc) return;
  bytesSince += n;
  if (bytesSince < YOUNG_GC_BYTES) return;
  // The clock is read once a megabyte, not per record.
  const now = at ?? performance.now();
  const fast = now - countingSince < YOUNG_GC_WITHIN_MS;
  bytesSince = 0;
  countingSince = now;
  if (fast) gc({ type: 'minor' });
}
