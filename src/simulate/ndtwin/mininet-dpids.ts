// The Mininet fixtures have small switch DPIDs (1, 2, ...), as the kernel serves them on
// Mininet; on the hardware testbed the kernel reports uint64 DPIDs, many above 2^53. With
// `dpids: 'testbed'` the simulator shifts the Mininet DPIDs by text substitution so that
// its bodies test a client's handling of such numbers (JSON.parse would round them).

/** Base added to every non-zero Mininet switch DPID so that the bodies carry uint64 > 2^53. */
export const MININET_DPID_BASE = 14721744659231801344n;

function remapDpid(d: string): string {
  if (d === '0') return d;
  return (MININET_DPID_BASE + BigInt(d)).toString();
}

/** Remap graph `dpid` / `src_dpid` / `dst_dpid` values (non-zero) by text substitution. */
export function remapGraphDpids(text: string): string {
  return text.replace(/"(dpid|src_dpid|dst_dpid)":(\d+)/g, (_m, key: string, d: string) => `"${key}":${remapDpid(d)}`);
}

/** Remap the switch hops (middle elements whose node is <= 65535) of every flow `path`. */
export function remapFlowPathDpids(text: string): string {
  return text.replace(/"path":\[([^\]]*)\]/g, (whole, inner: string) => {
    if (inner === '') return whole;
    const hops = inner.split('},{');
    for (let i = 1; i < hops.length - 1; i++) {
      hops[i] = hops[i]!.replace(/"node":(\d+)/, (m2, d: string) => {
        if (d.length > 5 || Number(d) > 65535 || d === '0') return m2;
        return `"node":${remapDpid(d)}`;
      });
    }
    return `"path":[${hops.join('},{')}]`;
  });
}
