// How an NdtwinSimulator is set up (new NdtwinSimulator(options)).

import type { FaultPlan } from '../faults.js';

export interface NdtwinSimulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 8000; 0 = ephemeral
  fixturesDir?: string; // default: <repo>/fixtures/ndtwin
  topology?: 'mininet' | 'testbed'; // default 'mininet'
  latencyMs?: number; // default 0: delay before answering each /ndt request
  /** Fault injection for the two main endpoints (default: none); see setFaults(). */
  faults?: FaultPlan;
  /** Internal/testing: clock in epoch milliseconds (default Date.now). */
  now?: () => number;
}
