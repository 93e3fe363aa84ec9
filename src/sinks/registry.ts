/**
 * Every sink kind nsr knows. A new sink is one folder in src/sinks/ and one
 * entry here; its stream option joins every stream kind's schema. Built-in
 * kinds are listed explicitly (no import for side effects); `registerSinkKind`
 * adds one from outside (an extension, a test double) before a configuration
 * is loaded.
 */
import type { z } from 'zod';
import { amqpSinkKind } from './amqp/amqp-kind.js';
import { csvSinkKind } from './csv/csv-kind.js';
import { inventorySinkKind } from './inventory/inventory-kind.js';
import type { SinkKind } from './kind.js';
import { postgresSinkKind } from './postgres/postgres-kind.js';
import { dacStatsSinkKind } from './dac/dac-stats-kind.js';

const kinds: SinkKind[] = [postgresSinkKind, amqpSinkKind, inventorySinkKind, csvSinkKind, dacStatsSinkKind] as SinkKind[];
let version = 0;

export function sinkKinds(): readonly SinkKind[] {
  return kinds;
}

/** Changes each time a kind is registered: the configuration schema is rebuilt then. */
export function sinkRegistryVersion(): number {
  return version;
}

export function registerSinkKind(kind: SinkKind): void {
  if (kinds.some((k) => k.kind === kind.kind)) throw new Error(`a sink kind "${kind.kind}" is registered already`);
  if (kind.option && kinds.some((k) => k.option?.key === kind.option!.key)) throw new Error(`the stream option "${kind.option.key}" belongs to another sink kind`);
  kinds.push(kind);
  version++;
}

/** The stream options of every sink kind, added to each stream kind's schema. */
export function sinkStreamFields(): Record<string, z.ZodType> {
  return Object.fromEntries(kinds.filter((k) => k.option).map((k) => [k.option!.key, k.option!.schema]));
}
