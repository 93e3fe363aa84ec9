// Simulated NDTwin kernel HTTP API (node:http only) for demos, tests and benchmarks.
// The pieces live in ./ndtwin/ (simulator.ts puts them together); this file is what
// the CLI, the tests and the benchmarks import.

export { NdtwinSimulator } from './ndtwin/simulator.js';
export type { NdtwinSimulatorOptions, SwitchDpids } from './ndtwin/options.js';
export type { ServedLedger } from './ndtwin/served-ledger.js';
export { MININET_DPID_BASE } from './ndtwin/mininet-dpids.js';
export { formatNlohmannDouble } from './ndtwin/nlohmann-double.js';

export {
  DEFAULT_CLI_FAULT_KINDS,
  DEFAULT_LARGE_BYTES,
  DEFAULT_TRICKLE_MS,
  FAULT_KINDS,
  FAULTABLE_PATHS,
  mulberry32,
  parseFaultPlan,
  type FaultKind,
  type FaultPlan,
  type NormalizedFaultPlan,
} from './faults.js';
