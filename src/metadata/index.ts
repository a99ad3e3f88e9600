/** The metadata store's public API: plain types and the SQLite-backed opener. */
export type {
  ClusterNodeRecord,
  CommittedOffset,
  LeaderEpochEntry,
  PartitionAssignment,
  MetadataStore,
  ProducerStateRecord,
  TopicRecord,
  TransactionRecord,
} from "./types.ts";
export { type MetadataStoreOptions, openMetadataStore } from "./sqlite-store.ts";
