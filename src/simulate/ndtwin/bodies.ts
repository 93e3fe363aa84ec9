// The bodies of the two dynamic endpoints as the clock moves: the first request of an
// epoch second renders the template into one Buffer; every request of that second reuses
// the cached head/tail Buffers around its `"sim_seq":N` marker. `large` bodies are built
// once per endpoint kind (and size) and then frozen.

import { buildLargeFlow, buildLargeGraph, type LargeBody } from './large-body.js';
import { renderTemplate, type RenderedBody } from './render.js';
import type { Template } from './template.js';

export type DynamicKind = 'graph' | 'flow';

export class DynamicBodies {
  private flowCache: RenderedBody | null = null;
  private graphCache: RenderedBody | null = null;
  /** `large` bodies, built lazily once per endpoint kind (and size) */
  private readonly largeCache = new Map<DynamicKind, LargeBody>();

  constructor(
    private readonly flowTpl: Template,
    private readonly graphTpl: Template,
    private readonly now: () => number,
  ) {}

  /** The body of the current second (cached for that second). */
  current(kind: DynamicKind): RenderedBody {
    return this.bodyFor(kind, Math.floor(this.now() / 1000));
  }

  /** The body for one epoch second, from the cache when it is that second's. */
  bodyFor(kind: DynamicKind, sec: number): RenderedBody {
    if (kind === 'graph') {
      const c = this.graphCache;
      if (c !== null && c.sec === sec) return c;
      return (this.graphCache = renderTemplate(this.graphTpl, sec));
    }
    const c = this.flowCache;
    if (c !== null && c.sec === sec) return c;
    return (this.flowCache = renderTemplate(this.flowTpl, sec));
  }

  /** The body of the current second without the `"sim_seq":N` marker: what the kernel itself sends. */
  unmarked(kind: DynamicKind): Buffer {
    const b = this.current(kind);
    if (!b.hasMarker) return b.head;
    const slot = (kind === 'graph' ? this.graphTpl : this.flowTpl).slots.find((s) => s.kind === 'marker');
    // The marker's separators (a comma before or after it) go with it.
    const before = slot?.kind === 'marker' ? slot.before.length : 0;
    const after = slot?.kind === 'marker' ? slot.after.length : 0;
    return Buffer.concat([b.head.subarray(0, b.head.length - before), b.tail.subarray(after)]);
  }

  /** The body for one epoch second, rendered afresh (the cache is neither read nor changed). */
  fresh(kind: DynamicKind, sec: number): RenderedBody {
    return renderTemplate(kind === 'graph' ? this.graphTpl : this.flowTpl, sec);
  }

  /**
   * The `large` body of an endpoint kind for about `bytes` bytes: built once from the
   * values of the current second (frozen afterwards) and cached as head/tail around the
   * marker, so a request only writes the cached Buffers.
   */
  large(kind: DynamicKind, bytes: number): LargeBody {
    const cached = this.largeCache.get(kind);
    if (cached !== undefined && cached.bytes === bytes) return cached;
    this.largeCache.delete(kind); // let the old one go before building a new one
    const b = this.current(kind);
    let built: LargeBody;
    if (!b.hasMarker) {
      built = { bytes, head: b.head, tail: b.tail, hasMarker: false }; // empty flow array: nothing to repeat
    } else if (kind === 'flow') {
      const slot = this.flowTpl.slots.find((s) => s.kind === 'marker');
      built =
        slot !== undefined && slot.kind === 'marker'
          ? buildLargeFlow(b, slot.before, slot.after, bytes)
          : { bytes, head: b.head, tail: b.tail, hasMarker: true };
    } else {
      built = buildLargeGraph(b, bytes);
    }
    this.largeCache.set(kind, built);
    return built;
  }
}
