/**
 * The configuration as a topology: one StreamUnit per stream, and a reload as
 * the difference between two configurations (Vector's ConfigDiff). Pure
 * functions; the recorder applies the result.
 */
import type { ParsedConfig } from '../config/schema.js';
import type { StreamConfig } from '../config/stream-config.js';
import { SOURCE_KINDS } from '../sources/registry.js';
import type { BuildContext } from '../sources/kind.js';
import type { Source } from '../sources/source.js';
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
