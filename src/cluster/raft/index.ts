/** Raft for Eddy's cluster metadata: the sans-IO node, storage and a driver. */
export { RaftDriver, type RaftDriverOptions, type RaftStateMachine } from "./driver.ts";
export { FileRaftStorage } from "./file-storage.ts";
export { decodeMessage, encodeMessage } from "./message-codec.ts";
export { type ProposeResult, RaftNode, type RaftNodeOptions, type RaftStatus } from "./node.ts";
export { validateConfig } from "./quorum.ts";
export { MemoryRaftStorage, type PersistBatch, type RaftStorage } from "./storage.ts";
export * from "./types.ts";
