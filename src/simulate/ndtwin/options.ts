// How an NdtwinSimulator is set up (new NdtwinSimulator(options)).

import type { FaultPlan } from '../faults.js';

export type SwitchDpids = 'mininet' | 'testbed';

export interface NdtwinSimulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 8000; 0 = ephemeral
  fixturesDir?: string; // default: <repo>/fixtures/ndtwin
  topology?: 'mininet' | 'testbed'; // default 'mininet'
  /**
   * Switch DPIDs: 'mininet' serves the Mininet fixtures' 1…N, as the kernel does on
   * Mininet (the NDTwin clients read a DPID as a Java long); 'testbed' serves uint64
   * DPIDs above 2^63, as on the hardware testbed, to test a client's exactness (the
   * Mininet DPIDs shifted by MININET_DPID_BASE, or the testbed fixtures' own).
   * Default: 'mininet' for the mininet topology, 'testbed' for the testbed one.
   */
  dpids?: SwitchDpids;
  latencyMs?: number; // default 0: delay before answering each /ndt request
  /** Fault injection for the two main endpoints (default: none); see setFaults(). */
  faults?: FaultPlan;
  /** Internal/testing: clock in epoch milliseconds (default Date.now). */
  now?: () => number;
}
