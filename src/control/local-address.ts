/** Which host names and addresses are this machine's: for the control server's bind, its Host check and the lock's URL. */
import { networkInterfaces } from 'node:os';

/** Loopback names and addresses (`localhost`, 127.0.0.0/8, ::1), with or without IPv6 brackets. */
export function isLoopbackHost(host: string): boolean {
  const h = bare(host);
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** Addresses of this machine's interfaces (loopback included), as IP literals. */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.toLowerCase());
  return out;
}

/** An IP literal that is loopback or one of this machine's addresses: a packet to it never leaves the machine. */
export function isLocalIp(host: string): boolean {
  const h = bare(host);
  if (h === 'localhost') return false; // a name, not an address: it could be made to resolve elsewhere
  return isLoopbackHost(h) || localAddresses().has(h);
}

export function isWildcard(host: string): boolean {
  const h = bare(host);
  return h === '0.0.0.0' || h === '::' || h === '::0';
}

/** Lower case, without IPv6 brackets. */
export function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * DNS rebinding: a page whose own name has been made to resolve to 127.0.0.1
 * reaches a loopback server with that name in `Host`. A request that arrived on
 * a loopback address must name a loopback host; undefined when it does (or when
 * it came in over the network, where clients use whatever name they know the
 * machine by), else why not.
 */
export function rebindingProblem(localAddress: string | undefined, hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined || localAddress === undefined || !isLoopbackHost(localAddress)) return undefined;
  const name = /^(\[[^\]]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(hostHeader.trim())?.[1];
  if (name !== undefined && isLoopbackHost(name)) return undefined;
  return `Host ${JSON.stringify(hostHeader.slice(0, 100))} is not a loopback name, on a connection to loopback (a web page using DNS rebinding sends its own); use http://127.0.0.1:<port>`;
}
