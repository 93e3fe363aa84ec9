/**
 * The documents a junos stream publishes, rebuilt once per cycle from each
 * device's newest good replies. A device whose poll failed keeps its last good
 * data, marked `stale` with its age and the reason (the agent served `{}` for
 * it, which reads as a device with no interfaces). A device that has never
 * answered is listed in the agent's document with empty parts, as the agent
 * did, and left out of Akvorado's until it has data.
 *
 * A request never sees a half-built document: a cycle's documents are built
 * into new buffers and swapped in with one assignment. Their ETag is a digest
 * of the bytes and Last-Modified the time the bytes last changed, so a client
 * polling a steady network gets 304s.
 */
import { createHash } from 'node:crypto';
import { stringifyPythonJson } from '../../../json/python-json.js';

/** The parsed replies of one device (Junos JSON form), by RPC key. */
export type ReplyParts = Record<string, unknown>;

export interface ServedDocument {
  body: Buffer;
  etag: string;
  /** Epoch ms the bytes last changed (HTTP dates have whole seconds). */
  modified: number;
}

export interface PublishedSnapshot {
  exporters: ServedDocument;
  akvorado: ServedDocument;
  /** When the cycle these documents come from ended. */
  builtAt: number;
}

/** How one device's parts become the agent's exporter object and Akvorado's one; supplied by the caller. */
export interface ExporterBuilders<D> {
  /** The agent's exporter object (name, site, regions, interfaces, nexthops, mpls_labels), keys in the agent's order. */
  agent(device: D, parts: ReplyParts): Map<string, unknown>;
  /** Akvorado's per-exporter object, or undefined when the device cannot be described to it. */
  akvorado(device: D, parts: ReplyParts): object | undefined;
}

interface Kept<D> {
  device: D;
  /** Newest good reply of each RPC, with when it came. */
  parts: Map<string, { body: unknown; at: number }>;
  failure?: { reason: string; message: string; since: number };
}

export class PublishedDocuments<D> {
  private readonly devices = new Map<string, Kept<D>>();
  private snapshot: PublishedSnapshot | undefined;

  constructor(private readonly builders: ExporterBuilders<D>) {}

  /** The documents of the newest finished cycle; undefined until one has finished. */
  current(): PublishedSnapshot | undefined {
    return this.snapshot;
  }

  /** A device's replies of this cycle (every part that answered); `failed` names the parts that did not. */
  answered(key: string, device: D, parts: ReplyParts, at: number, failed?: { reason: string; message: string }): void {
    const kept = this.keep(key, device);
    for (const [part, body] of Object.entries(parts)) kept.parts.set(part, { body, at });
    this.noteFailure(kept, failed, at);
  }

  /** A device that gave nothing this cycle: its last good parts stay, marked stale. */
  failed(key: string, device: D, reason: string, message: string, at: number): void {
    this.noteFailure(this.keep(key, device), { reason, message }, at);
  }

  /**
   * Ends a cycle: builds both documents over `keys` (the devices of this
   * cycle, in order; devices no longer polled are forgotten) and swaps them in.
   */
  commit(keys: readonly string[], at: number): PublishedSnapshot {
    const wanted = new Set(keys);
    for (const k of this.devices.keys()) if (!wanted.has(k)) this.devices.delete(k);
    const exporters = new Map<string, unknown>();
    const akvorado: object[] = [];
    for (const key of keys) {
      const kept = this.devices.get(key);
      if (!kept) continue;
      const parts = Object.fromEntries([...kept.parts].map(([k, v]) => [k, v.body]));
      let agent: Map<string, unknown>;
      let akv: object | undefined;
      let failure = kept.failure;
      let good = kept.parts.size > 0;
      try {
        agent = this.builders.agent(kept.device, parts);
        akv = good ? this.builders.akvorado(kept.device, parts) : undefined;
      } catch (err) {
        // Replies the builders cannot read (a device's JSON is its own to
        // shape) cost this device's entry, never the other devices' documents.
        agent = this.builders.agent(kept.device, {});
        akv = undefined;
        good = false;
        failure = { reason: 'unusable_reply', message: `its replies could not be turned into the documents: ${(err as Error).message}`, since: failure?.since ?? at };
      }
      const oldest = Math.min(...[...kept.parts.values()].map((p) => p.at));
      if (failure) {
        agent.set(
          'stale',
          new Map<string, unknown>([
            ['reason', failure.reason],
            ['message', failure.message],
            ['failing_since', new Date(failure.since).toISOString()],
            ['last_good', good ? new Date(oldest).toISOString() : null],
            ['age_s', good ? Math.round((at - oldest) / 1000) : null],
          ]),
        );
      }
      exporters.set(key, agent);
      if (akv) akvorado.push(akv);
    }
    const previous = this.snapshot;
    const next: PublishedSnapshot = {
      exporters: served(Buffer.from(stringifyPythonJson(new Map([['exporters', exporters]]), 4)), previous?.exporters, at),
      akvorado: served(Buffer.from(`${JSON.stringify({ exporters: akvorado }, null, 2)}\n`), previous?.akvorado, at),
      builtAt: at,
    };
    this.snapshot = next;
    return next;
  }

  private keep(key: string, device: D): Kept<D> {
    let kept = this.devices.get(key);
    if (!kept) this.devices.set(key, (kept = { device, parts: new Map() }));
    kept.device = device; // NetBox may have renamed or moved it
    return kept;
  }

  private noteFailure(kept: Kept<D>, failure: { reason: string; message: string } | undefined, at: number): void {
    if (!failure) kept.failure = undefined;
    else kept.failure = { ...failure, since: kept.failure?.since ?? at };
  }
}

/** Same bytes as before: same ETag and Last-Modified. */
function served(body: Buffer, previous: ServedDocument | undefined, at: number): ServedDocument {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  if (previous && previous.etag === etag) return previous;
  return { body, etag, modified: at };
}
