/**
 * The broker's cluster wiring (cluster mode only): builds the ClusterNode
 * (Raft metadata, replicas), the group/transaction coordinator service, the
 * produce forwarder (appends on a node that does not lead) and the read
 * forwarder (reads on a node without a replica) and the remote-partition
 * watch (partitionState and onAppend for partitions without a replica here,
 * from their leaders); gathers their peer RPC
 * routes plus the coordinator route; hands TopicManager its cluster hooks;
 * scopes producer ids to the node. broker.ts owns the BrokerApi surface and
 * the lifecycle and asks this for the pieces.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { GroupCoordinator } from "../groups/index.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { ClusterNode } from "../cluster/cluster-node.ts";
import {
  COORDINATOR_PEER_PATH,
  type CoordinatorPeerHandlers,
  coordinatorRoute,
} from "../cluster/coordinator-rpc.ts";
import { ClusterCoordinators } from "../cluster/coordinator-service.ts";
import { PeerPath, type PeerRouteHandler, type PeerRpc } from "../cluster/peer-protocol.ts";
import { ProduceForwarder } from "../cluster/produce-forwarder.ts";
import { ReadForwarder } from "../cluster/read-forwarder.ts";
import { RemoteWatch } from "../cluster/remote-watch.ts";
import { watchRoute } from "../cluster/remote-watch-route.ts";
import type { BrokerContext } from "./context.ts";
import type { ClusterOptions } from "./options.ts";
import { readRecords, waitForData } from "./read-records.ts";
import type { TopicCluster, TopicManager } from "./topics.ts";
import { isAbsentLog } from "./absent-log.ts";
import type { Partition } from "./partition.ts";
import type { AppendEvent, PartitionState, TopicDescription } from "./types.ts";

export interface BrokerClusterOptions {
  nodeId: number;
  cluster: ClusterOptions;
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  topics: TopicManager;
  /** The broker context, once built (forwarders and local reads use it lazily). */
  ctx: () => BrokerContext;
  /** The group coordinator, once built (coordinator failover unloads its groups). */
  groups: () => GroupCoordinator;
  /** Deliver an AppendEvent of a partition without a replica here to onAppend listeners. */
  emitAppend: (event: AppendEvent) => void;
  /** This node has onAppend listeners. */
  hasListeners: () => boolean;
}

export class BrokerCluster {
  readonly node: ClusterNode;
  /** Group and transaction coordinator placement and state. */
  readonly coordinators: ClusterCoordinators;
  /** Produce on a node that does not lead the partition. */
  readonly forwarder: ProduceForwarder;
  /** Reads on a node without a replica of the partition. */
  readonly reads: ReadForwarder;
  /** partitionState and onAppend for partitions without a replica here. */
  readonly remote: RemoteWatch;
  readonly rpc: PeerRpc;

  constructor(private readonly o: BrokerClusterOptions) {
    const { nodeId, clock, logger, topics } = o;
    this.rpc = o.cluster.rpc;
    this.node = new ClusterNode({
      nodeId,
      options: o.cluster,
      store: o.metadata,
      clock,
      logger,
      lookup: (topic, partition) => topics.get(topic)?.partitions[partition],
      reconcileTopics: () => topics.reconcile(),
      // Optional chaining: roles may change before the coordinators below exist.
      onRolesChanged: () => (this.coordinators as ClusterCoordinators | undefined)?.refresh(),
    });
    this.coordinators = new ClusterCoordinators({
      nodeId,
      topics,
      metadata: o.metadata,
      clock,
      logger,
      dataNodes: () => this.node.dataNodes(),
      view: () => this.node.view(),
      unloadGroups: (inPartition) => o.groups().unloadGroups(inPartition),
    });
    const forwarding = { nodeId, ctx: o.ctx, rpc: o.cluster.rpc };
    this.forwarder = new ProduceForwarder(forwarding);
    this.remote = new RemoteWatch({ ...forwarding, emit: o.emitAppend, hasListeners: o.hasListeners });
    this.reads = new ReadForwarder({
      ...forwarding,
      onRemoteRead: (topic, partition) => this.remote.touch(topic, partition),
      local: {
        readRecords: (req) => readRecords(o.ctx(), req),
        waitForData: (req) => waitForData(o.ctx(), req),
      },
    });
  }

  /**
   * partitionState of a partition without a replica here: its leader's
   * offsets as last heard (the remote watch keeps them); null when this node
   * holds a replica (answer from it) or nothing is known yet (zeros).
   */
  remoteState(p: Partition): PartitionState | null {
    if (!isAbsentLog(p.log)) return null;
    return this.remote.state(p);
  }

  /** A topic description with the leader's offsets for partitions without a replica here (when known). */
  describe(d: TopicDescription): TopicDescription {
    const t = this.o.topics.get(d.name);
    if (!t) return d;
    for (const info of d.partitions) {
      const p = t.partitions[info.partition];
      const s = p && isAbsentLog(p.log) ? this.remote.known(p) : null;
      if (!s) continue;
      info.logStartOffset = s.logStartOffset;
      info.logEndOffset = s.logEndOffset;
      info.highWatermark = s.highWatermark;
      info.lastStableOffset = s.lastStableOffset;
    }
    return d;
  }

  /** The peer RPC routes to serve: cluster node, forwarders, and the coordinator route over `coordinator`. */
  routes(coordinator: CoordinatorPeerHandlers): Map<string, PeerRouteHandler> {
    const routes = this.node.routes();
    for (const [path, handler] of this.forwarder.routes()) routes.set(path, handler);
    for (const [path, handler] of this.reads.routes()) routes.set(path, handler);
    routes.set(PeerPath.WATCH, watchRoute(this.o.ctx));
    routes.set(COORDINATOR_PEER_PATH, coordinatorRoute(coordinator));
    return routes;
  }
}

/**
 * TopicManager's cluster hooks. TopicManager is built before the cluster
 * (which needs it), so the hooks look the cluster up when called.
 */
export function topicClusterHooks(cluster: () => BrokerCluster | null): TopicCluster {
  const need = (): BrokerCluster => {
    const c = cluster();
    if (!c) throw new EddyError(ErrorCode.INVALID_REQUEST, "this broker is not in a cluster");
    return c;
  };
  return {
    admin: (req) => need().node.admin(req),
    dataNodes: () => need().node.dataNodes(),
    forget: (topic) => {
      cluster()?.node.replicas.forget(topic);
      cluster()?.remote.forget(topic);
    },
    forgetPartition: (topic, partition) => {
      cluster()?.node.replicas.forgetPartition(topic, partition);
      cluster()?.remote.forgetPartition(topic, partition);
    },
  };
}

/**
 * Cluster mode: every node allocates producer ids from its own counter, so
 * the node id goes into the low bits (ids stay unique across the cluster and
 * below 2^53 for 2^43 allocations per node).
 */
export function nodeScopedProducerIds(store: MetadataStore, nodeId: number): MetadataStore {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= 1024) {
    throw new EddyError(ErrorCode.INVALID_CONFIG, `node.id ${nodeId} must be 0-1023 in a cluster`);
  }
  return { ...store, allocateProducerId: () => store.allocateProducerId() * 1024 + nodeId };
}
