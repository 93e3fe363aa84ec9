/** Every source kind nsr knows. A new kind is one import and one entry here. */
import { z } from 'zod';
import { httpKind } from './http/http.js';
import { junosKind } from './junos/junos.js';
import { ndtwinKind } from './ndtwin/ndtwin.js';
import { netboxKind } from './netbox/netbox.js';
import { probeKind } from './probe/probe.js';
import { netbeamKind } from './netbeam/netbeam.js';
import { amqpKind } from './amqp/amqp.js';
import type { SourceKind } from './kind.js';

const kinds = [ndtwinKind, httpKind, netboxKind, junosKind, probeKind, netbeamKind, amqpKind] as const;

export const SOURCE_KINDS: Record<string, SourceKind> = Object.fromEntries(kinds.map((k) => [k.kind, k as unknown as SourceKind]));

export const streamKindSchema = z.discriminatedUnion('kind', [ndtwinKind.schema, httpKind.schema, netboxKind.schema, junosKind.schema, probeKind.schema, netbeamKind.schema, amqpKind.schema]);
