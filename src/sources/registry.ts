/** Every source kind nsr knows. A new kind is one import and one entry here. */
import { httpKind } from './http/http.js';
import { junosKind } from './junos/junos.js';
import { ndtwinKind } from './ndtwin/ndtwin.js';
import { netboxKind } from './netbox/netbox.js';
import { probeKind } from './probe/probe.js';
import { netbeamKind } from './netbeam/netbeam.js';
import { amqpKind } from './amqp/amqp.js';
import { hubKind } from './hub/hub.js';
import type { SourceKind } from './kind.js';

const kinds = [ndtwinKind, httpKind, netboxKind, junosKind, probeKind, netbeamKind, amqpKind, hubKind] as const;

export const SOURCE_KINDS: Record<string, SourceKind> = Object.fromEntries(kinds.map((k) => [k.kind, k as unknown as SourceKind]));

/** The kinds' own schemas, in order (config/schema.ts adds the sinks' stream options to each). */
export const sourceKindSchemas = kinds.map((k) => k.schema);
