/**
 * The configuration as a topology: one StreamUnit per stream, and a reload as
 * the difference between two configurations (Vector's ConfigDiff), applied
 * so that a stream that cannot be built changes nothing.
 */
import type { ParsedConfig } from '../config/schema.js';
import type { StreamConfig } from '../config/stream-config.js';
import { SOURCE_KINDS } from '../sources/registry.js';
import type { BuildContext } from '../sources/kind.js';
import type { Source } from '../sources/source.js';
import type { SinkSet } from './sink-set.js';
import { StreamUnit, type UnitContext } from './stream-unit.js';

export interface StreamsDiff {
  added: string[];
  removed: string[];
  /** Streams whose resolved configuration differs: retired and built again. */
  changed: string[];
}

export function diffStreams(before: readonly StreamConfig[], after: readonly StreamConfig[]): StreamsDiff {
  const old = new Map(before.map((s) => [s.name, s]));
  const next = new Map(after.map((s) => [s.name, s]));
  return {
    added: [...next.keys()].filter((n) => !old.has(n)),
    removed: [...old.keys()].filter((n) => !next.has(n)),
    changed: [...next.keys()].filter((n) => old.has(n) && JSON.stringify(old.get(n)) !== JSON.stringify(next.get(n))),
  };
}

/** Settings outside `streams` (and the stream defaults, already in each stream) that differ: they take effect at the next start. */
export function settingsNeedingRestart(before: ParsedConfig, after: ParsedConfig): string[] {
  const { streams: _a, ...oldRest } = before;
  const { streams: _b, ...newRest } = after;
  return Object.keys(newRest).filter((k) => k !== 'defaults' && JSON.stringify((oldRest as Record<string, unknown>)[k]) !== JSON.stringify((newRest as Record<string, unknown>)[k]));
}

/** How units are built: the source kinds' build functions, or a replacement (tests drive fetches by hand). */
export type SourceBuilder = (stream: StreamConfig) => Source;

export function kindBuilder(ctx: Omit<BuildContext, 'timing'>): SourceBuilder {
  return (s) => SOURCE_KINDS[s.kind].build(s.name, s.options, { ...ctx, timing: s.timing });
}

/** Builds the units of `streams`, all or none: a source that cannot be built closes the ones built before it. */
export function buildUnits(streams: readonly StreamConfig[], build: SourceBuilder, ctx: UnitContext): StreamUnit[] {
  const units: StreamUnit[] = [];
  try {
    for (const s of streams) units.push(new StreamUnit(s, build(s), ctx));
  } catch (err) {
    for (const u of units) u.source.close();
    throw err;
  }
  return units;
}

/** The running units, by stream name, and how a new set of streams replaces them. */
export class Topology {
  readonly units = new Map<string, StreamUnit>();
  /** Set once the sources run: units added later start at once. */
  private running = false;

  constructor(
    private readonly build: SourceBuilder,
    private readonly ctx: UnitContext,
    private readonly sinks: SinkSet,
  ) {}

  /** The units of the configuration at start (sinks, lanes and sources are started by the recorder). */
  init(streams: readonly StreamConfig[]): void {
    for (const u of buildUnits(streams, this.build, this.ctx)) this.units.set(u.name, u);
  }

  /** Every unit's sources run from now on. */
  activate(): void {
    this.running = true;
    for (const u of this.units.values()) u.activate();
  }

  /** A stream or an extra output of one by that name. */
  has(name: string): boolean {
    return this.units.has(name) || [...this.units.values()].some((u) => u.outputs.has(name));
  }

  /**
   * Moves from the running streams to `next`: every new unit is built before
   * any old one is retired (a build that throws changes nothing); removed and
   * changed streams finish their fetch, write what they hold and close their
   * windows; unchanged ones are not touched.
   */
  async apply(before: readonly StreamConfig[], next: readonly StreamConfig[]): Promise<StreamsDiff> {
    const diff = diffStreams(before, next);
    const wanted = new Set([...diff.added, ...diff.changed]);
    const fresh = buildUnits(next.filter((s) => wanted.has(s.name)), this.build, this.ctx);
    for (const name of [...diff.removed, ...diff.changed]) {
      const old = this.units.get(name)!;
      const leftAt = this.ctx.clock.now();
      await old.retire();
      await this.sinks.detach(old);
      this.units.delete(name);
      const unit = fresh.find((u) => u.name === name);
      if (!unit) continue;
      await this.startUnit(unit);
      // Ticks that fell due while the stream was swapped are reported, never silent.
      const interval = old.config.timing.intervalMs;
      const from = Math.floor(leftAt / interval) + 1;
      const to = Math.floor(this.ctx.clock.now() / interval);
      if (to >= from) unit.missed(from, from * interval, 'reload', 'the stream was being reconfigured', undefined, to - from + 1);
    }
    for (const unit of fresh.filter((u) => diff.added.includes(u.name))) await this.startUnit(unit);
    return diff;
  }

  private async startUnit(unit: StreamUnit): Promise<void> {
    this.units.set(unit.name, unit);
    await this.sinks.attachNew(unit);
    await unit.open(false);
    unit.startLanes();
    if (this.running) unit.activate();
  }
}
