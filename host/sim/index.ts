// childwatch/sim: the deterministic simulated kernel that drives the watcher core without real
// processes (for childwatch's own tests and for users' tests of code built on the watchers).
export {
  SimKernel, exitedStatus, signaledStatus,
  type SimKernelOptions, type SimProcess, type SimReport, type HostCall, type ProcState,
  type InjectableImport,
} from './kernel.js';
