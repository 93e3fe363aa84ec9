/**
 * A per-stream FIFO bounded by items and bytes. It never drops: producers ask
 * `hasRoom` before they fetch (a tick with no room is skipped and reported as
 * `queue_full`), and what was fetched is always accepted, so the bound can be
 * passed by at most the fetches already in flight. The consumer peeks, writes,
 * and only then removes, so a failed write keeps the item.
 */
export interface QueueStats {
  depth: number;
  bytes: number;
  pushed: number;
  removed: number;
  peakDepth: number;
  peakBytes: number;
}

export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private bytes = 0;
  private pushed = 0;
  private removed = 0;
  private peakDepth = 0;
  private peakBytes = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  get depth(): number {
    return this.items.length - this.head;
  }

  hasRoom(): boolean {
    return this.depth < this.maxItems && this.bytes < this.maxBytes;
  }

  push(item: T): void {
    this.items.push(item);
    this.bytes += this.sizeOf(item);
    this.pushed++;
    this.peakDepth = Math.max(this.peakDepth, this.depth);
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes the head once it has been handled. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T; // let it be collected
    this.head++;
    this.bytes -= this.sizeOf(item);
    this.removed++;
    // Compact now and then instead of Array#shift on every item (O(n) each).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Resolves when an item is available (immediately if one is). */
  whenNotEmpty(): Promise<void> {
    if (this.depth > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes a consumer waiting in `whenNotEmpty` (used at shutdown). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  stats(): QueueStats {
    return { depth: this.depth, bytes: this.bytes, pushed: this.pushed, removed: this.removed, peakDepth: this.peakDepth, peakBytes: this.peakBytes };
  }
}
