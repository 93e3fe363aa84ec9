/**
 * The RPCs the junos kind sends over NETCONF, as the bodies of <rpc>.
 *
 * Unqualified, on purpose: Junos resolves an RPC element without a namespace
 * against its own RPC set on every release (Junos PyEZ sends them so), while
 * the yang.juniper.net/junos/rpc/* namespaces the old ncclient agent used are
 * also accepted but tie the request to releases that publish those YANG
 * modules. The replies are the same either way.
 */
export const JUNOS_NETCONF_RPCS = {
  interfaces: '<get-interface-information/>',
  'inet.3': '<get-route-information><table>inet.3</table></get-route-information>',
  'mpls.0': '<get-route-information><table>mpls.0</table></get-route-information>',
} as const;

export type JunosNetconfRpc = keyof typeof JUNOS_NETCONF_RPCS;
