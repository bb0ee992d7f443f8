// childwatch/sim: the deterministic simulated kernel that drives the watcher core without real
// processes (for childwatch's own tests and for users' tests of code built on the watchers).
/**
 * The deterministic simulated kernel: `import { SimKernel } from 'childwatch/sim'`. It implements
 * the watcher core's WIT `host` imports without real processes, for tests and for embedding the
 * core in hosts that have no processes.
 *
 * @module childwatch/sim
 */
export {
  SimKernel, exitedStatus, signaledStatus,
  type SimKernelOptions, type SimProcess, type SimReport, type HostCall, type ProcState,
  type InjectableImport,
} from './kernel.js';
