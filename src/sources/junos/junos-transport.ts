/**
 * How a junos stream reaches its devices: the three RPCs over the Junos REST
 * API (JSON replies) or over NETCONF/SSH (XML replies). The cycle, the records
 * and the view are the same for both; only the reply's form differs, and the
 * view reads both through the same Junos JSON rendering (junos-xml.ts).
 */
export type RpcKey = 'interfaces' | 'inet.3' | 'mpls.0';

/** The RPCs asked of every device, in the order their replies take in the record. */
export const RPC_KEYS: readonly RpcKey[] = ['interfaces', 'inet.3', 'mpls.0'];

export interface DeviceAddress {
  /** The host as written in a URL (an IPv6 address in brackets). */
  host: string;
  port: number;
}

export interface DeviceTransport {
  readonly name: 'rest' | 'netconf';
  /** The form of the reply bytes. */
  readonly format: 'json' | 'xml';
  /** The reply of one RPC, verbatim; rejects with a FetchError. */
  rpc(device: DeviceAddress, key: RpcKey, signal: AbortSignal, deadline: number): Promise<Buffer>;
  /** What the transport has done so far (sessions opened and reused), for the cycle event and benchmarks. */
  counters?(): Record<string, number>;
  /** The cycle is over: sessions of devices it did not poll (or every session, when none are kept) are closed. */
  endCycle?(): void;
  close(): void;
}
