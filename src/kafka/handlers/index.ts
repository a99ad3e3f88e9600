/**
 * The Kafka handler registry: one import and one array entry per handler file
 * (src/kafka/handlers/<api-name>.ts). ApiVersions is answered from it, and the
 * connection dispatches on it.
 */
import { handler as apiVersions } from "./api-versions.ts";
import { handler as createTopics } from "./create-topics.ts";
import { handler as deleteTopics } from "./delete-topics.ts";
import { handler as createPartitions } from "./create-partitions.ts";
import { handler as describeConfigs } from "./describe-configs.ts";
import { handler as alterConfigs } from "./alter-configs.ts";
import { handler as incrementalAlterConfigs } from "./incremental-alter-configs.ts";
import { handler as deleteRecords } from "./delete-records.ts";
import { handler as describeCluster } from "./describe-cluster.ts";
import { handler as saslHandshake } from "./sasl-handshake.ts";
import { handler as saslAuthenticate } from "./sasl-authenticate.ts";
import { handler as fetch } from "./fetch.ts";
import { handler as listOffsets } from "./list-offsets.ts";
import { handler as metadata } from "./metadata.ts";
import { handler as produce } from "./produce.ts";
import { handler as findCoordinator } from "./find-coordinator.ts";
import { handler as joinGroup } from "./join-group.ts";
import { handler as syncGroup } from "./sync-group.ts";
import { handler as heartbeat } from "./heartbeat.ts";
import { handler as leaveGroup } from "./leave-group.ts";
import { handler as offsetCommit } from "./offset-commit.ts";
import { handler as offsetFetch } from "./offset-fetch.ts";
import { handler as describeGroups } from "./describe-groups.ts";
import { handler as listGroups } from "./list-groups.ts";
import { handler as deleteGroups } from "./delete-groups.ts";
import { handler as initProducerId } from "./init-producer-id.ts";
import { handler as addPartitionsToTxn } from "./add-partitions-to-txn.ts";
import { handler as addOffsetsToTxn } from "./add-offsets-to-txn.ts";
import { handler as endTxn } from "./end-txn.ts";
import { handler as txnOffsetCommit } from "./txn-offset-commit.ts";
import { handler as offsetForLeaderEpoch } from "./offset-for-leader-epoch.ts";
import { handler as describeProducers } from "./describe-producers.ts";
import { handler as describeTransactions } from "./describe-transactions.ts";
import { handler as listTransactions } from "./list-transactions.ts";
import { handler as alterPartitionReassignments } from "./alter-partition-reassignments.ts";
import { handler as listPartitionReassignments } from "./list-partition-reassignments.ts";
import type { AdvertisedApi, AnyHandler } from "./context.ts";

// biome-ignore format: one handler per line, so that each helper adds its own line
export const HANDLERS: readonly AnyHandler[] = [
  apiVersions,
  metadata,
  produce,
  fetch,
  listOffsets,
  createTopics,
  deleteTopics,
  createPartitions,
  describeConfigs,
  alterConfigs,
  incrementalAlterConfigs,
  deleteRecords,
  describeCluster,
  saslHandshake,
  saslAuthenticate,
  findCoordinator,
  joinGroup,
  syncGroup,
  heartbeat,
  leaveGroup,
  offsetCommit,
  offsetFetch,
  describeGroups,
  listGroups,
  deleteGroups,
  initProducerId,
  addPartitionsToTxn,
  addOffsetsToTxn,
  endTxn,
  txnOffsetCommit,
  offsetForLeaderEpoch,
  describeProducers,
  describeTransactions,
  listTransactions,
  alterPartitionReassignments,
  listPartitionReassignments,
];

/** API key -> handler. */
export const HANDLER_BY_KEY: ReadonlyMap<number, AnyHandler> = new Map(
  HANDLERS.map((h) => [h.api.apiKey, h]),
);

/** The advertised ranges, sorted by API key. */
export const ADVERTISED_APIS: readonly AdvertisedApi[] = [...HANDLERS]
  .sort((a, b) => a.api.apiKey - b.api.apiKey)
  .map((h) => ({ apiKey: h.api.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
