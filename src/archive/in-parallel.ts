/**
 * Reads over many small files a few at a time: each is a few small reads, and
 * one after the other their latencies add up (BENCHMARKS.md §17). 8 at once:
 * libuv's pool has 4 threads, a few more keep it fed.
 */
export const FILE_READERS = 8;

/** `fn` over `items`, at most `width` at once; results in the items' order, whatever order they finish in. */
export async function inParallel<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, width = FILE_READERS): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}
