/** The TCP fault proxy moved to test/helpers/fault-proxy.ts (the cluster link tests use it too). */
export { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
