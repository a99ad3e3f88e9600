/**
 * One mirror link: finds the edge topics it selects (at start and every
 * discovery interval, so new topics and partitions join), runs one
 * PartitionForwarder per partition, shares one central-cluster client and
 * one send gate (in-flight limit, bandwidth cap, priorities) among them.
 *
 * Cluster mode (the edge is an Eddy cluster): each node's link forwards only
 * the partitions this node leads. Every LEADERSHIP_POLL_MS it stops the
 * forwarders of partitions it no longer leads and starts forwarders for
 * partitions it now leads, after re-reading `__mirror_progress` (what the
 * previous leader's mirror saved). Each partition has its own
 * transactional.id at central, the same on every node, so the new leader's
 * forwarder fences the old one wherever it still runs. Retention floors: the
 * leader's forwarder sets the floor of its replica; every other replica of a
 * mirrored partition on this node gets the position from the replicated
 * progress, refreshed at each poll (a follower may become leader and must
 * still hold what the link owes).
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { type MirrorLinkConfig, remoteTopicName, topicMatcher } from "./config.ts";
import { Downlink } from "./downlink.ts";
import { PartitionForwarder } from "./forwarder.ts";
import { SendGate } from "./gate.ts";
import { type ProgressStore, progressKey } from "./progress.ts";
import { RemoteCluster } from "./remote.ts";
import { linkState, type MirrorLinkStatus, MirrorState } from "./status.ts";

/** Cluster mode: how often a link checks which partitions this node leads. */
export const LEADERSHIP_POLL_MS = 500;

export interface MirrorLinkDeps {
  broker: BrokerApi;
  config: MirrorLinkConfig;
  logger: Logger;
  clock: Clock;
  progress: ProgressStore;
  sourceId: string;
}

export class MirrorLink {
  private readonly remote: RemoteCluster;
  private readonly gate: SendGate;
  private readonly forwarders = new Map<string, PartitionForwarder>();
  private readonly matches: (topic: string) => boolean;
  private readonly downlink: Downlink | undefined;
  private readonly loopWarned = new Set<string>();
  /** Mirrored edge topics as of the last discovery (cluster mode: follower floors). */
  private selected: Array<{ name: string; partitions: number }> = [];
  /** Cluster mode: `topic/partition` of the follower replicas this link holds a floor on. */
  private readonly followerFloors = new Set<string>();
  private readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | undefined;
  private leadershipTimer: ReturnType<typeof setInterval> | undefined;
  private discovering: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly d: MirrorLinkDeps) {
    this.log = d.logger.child({ link: d.config.name });
    this.remote = new RemoteCluster({ config: d.config, logger: this.log, clock: d.clock });
    this.gate = new SendGate({
      maxInFlight: d.config.max_in_flight,
      bytesPerSec: d.config.bandwidth_bytes_per_sec,
      clock: d.clock,
    });
    this.matches = topicMatcher(d.config.topics);
    if (d.config.downlink) {
      this.downlink = new Downlink({
        broker: d.broker,
        remote: this.remote,
        progress: d.progress,
        config: d.config,
        logger: d.logger,
        clock: d.clock,
      });
    }
  }

  /** Resolves once every selected edge partition has its retention floor (central need not answer). */
  async start(): Promise<void> {
    await this.discoverUplink();
    if (this.clustered()) await this.syncFollowerFloors();
    this.downlink?.start();
    this.timer = setInterval(() => void this.discover(), this.d.config.discovery_interval_ms);
    (this.timer as { unref?: () => void }).unref?.();
    if (this.clustered()) {
      this.leadershipTimer = setInterval(() => void this.followLeadership(), LEADERSHIP_POLL_MS);
      (this.leadershipTimer as { unref?: () => void }).unref?.();
    }
    this.log.info("mirror link started", {
      bootstrapServers: this.d.config.bootstrap_servers,
      partitions: this.forwarders.size,
    });
  }

  /** Look for newly matching topics and partitions now (edge topics to mirror up, central topics to mirror down). */
  async discover(): Promise<void> {
    await Promise.all([this.discoverUplink(), this.downlink?.discover()]);
  }

  private discoverUplink(): Promise<void> {
    this.discovering ??= this.discoverOnce().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  status(): MirrorLinkStatus {
    const downlink = this.downlink?.status();
    const partitions = [...this.forwarders.values()]
      .map((f) => f.status())
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    const lastError = partitions
      .map((p) => p.lastError)
      .filter((e) => e !== null)
      .sort((a, b) => b.at - a.at)[0];
    return {
      name: this.d.config.name,
      bootstrapServers: this.d.config.bootstrap_servers,
      state: linkState([...partitions, ...(downlink ?? [])], MirrorState.IDLE),
      partitions,
      lagRecords: partitions.reduce((sum, p) => sum + p.lagRecords, 0),
      skippedRecords: partitions.reduce((sum, p) => sum + p.skippedRecords, 0),
      lastError: lastError ?? null,
      ...(downlink ? { downlink } : {}),
    };
  }

  /** Stop forwarding and release this link's retention floors. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.leadershipTimer !== undefined) clearInterval(this.leadershipTimer);
    await this.discovering;
    // stop() aborts at once; then release senders waiting at the gate.
    const stopping = [
      ...[...this.forwarders.values()].map((f) => f.stop({ releaseFloor: true })),
      this.downlink?.stop(),
    ];
    this.gate.close(new Error(`mirror link '${this.d.config.name}' is closing`));
    await Promise.all(stopping);
    for (const key of this.followerFloors) {
      const at = key.lastIndexOf("/");
      this.setFloor(key.slice(0, at), Number(key.slice(at + 1)), null);
    }
    this.followerFloors.clear();
    await this.remote.close();
  }

  private async discoverOnce(): Promise<void> {
    if (this.closed) return;
    try {
      const topics = (await this.d.broker.listTopics()).filter((t) => this.matches(t.name));
      const started: Promise<void>[] = [];
      const clustered = this.clustered();
      let refreshed = false;
      const selected: Array<{ name: string; partitions: number }> = [];
      for (const topic of topics) {
        const remoteTopic = remoteTopicName(this.d.config, this.d.sourceId, topic.name);
        if (this.downlink?.mirrorsCentralTopic(remoteTopic)) {
          // Mirroring it up would feed the downlink's own source topic: a loop.
          if (!this.loopWarned.has(topic.name)) {
            this.loopWarned.add(topic.name);
            this.log.warn(
              "edge topic not mirrored up: its central name is a downlink source of the same link",
              {
                topic: topic.name,
                remoteTopic,
              },
            );
          }
          continue;
        }
        selected.push({ name: topic.name, partitions: topic.partitions });
        for (let partition = 0; partition < topic.partitions; partition++) {
          const key = `${topic.name}/${partition}`;
          if (this.closed || this.forwarders.has(key)) continue;
          if (clustered) {
            if (!this.leads(topic.name, partition)) continue;
            if (!refreshed) {
              await this.d.progress.refresh(); // the previous leader's mirror may have moved on
              refreshed = true;
            }
            if (this.closed || this.forwarders.has(key)) continue;
          }
          const forwarder = new PartitionForwarder(
            {
              broker: this.d.broker,
              remote: this.remote,
              progress: this.d.progress,
              gate: this.gate,
              config: this.d.config,
              logger: this.d.logger,
              clock: this.d.clock,
              sourceId: this.d.sourceId,
              onGone: () => this.forget(key, topic.name, partition),
              leads: clustered ? () => this.leads(topic.name, partition) : undefined,
              transactionalId: transactionalIdOf(this.d, topic.name, partition),
            },
            {
              topic: topic.name,
              topicId: topic.id,
              partition,
              remoteTopic,
              priority: this.d.config.priorities[topic.name] ?? 0,
            },
          );
          this.forwarders.set(key, forwarder);
          this.followerFloors.delete(key); // the forwarder owns this replica's floor now
          started.push(forwarder.start());
        }
      }
      this.selected = selected;
      await Promise.all(started);
    } catch (err) {
      if (!this.closed) this.log.warn("mirror topic discovery failed; will retry", { err });
    }
  }

  private clustered(): boolean {
    return (this.d.broker.clusterView?.() ?? null) !== null;
  }

  /** Cluster mode: does this node lead the edge partition (false without a local replica)? */
  private leads(topic: string, partition: number): boolean {
    try {
      return this.d.broker.partitionState(topic, partition).leads !== false;
    } catch {
      return false;
    }
  }

  /** Cluster mode: stop forwarding partitions led elsewhere now, pick up the ones this node leads now. */
  private async followLeadership(): Promise<void> {
    if (this.closed) return;
    const lost = [...this.forwarders].filter(([, f]) => !this.leads(f.target.topic, f.target.partition));
    for (const [key, f] of lost) {
      this.forwarders.delete(key);
      this.log.info("this node no longer leads the partition; its mirror forwarder stops here", {
        topic: f.target.topic,
        partition: f.target.partition,
      });
      await f.stop();
    }
    await this.discoverUplink();
    await this.syncFollowerFloors();
  }

  /**
   * Cluster mode: every replica of a mirrored partition that this node does
   * not forward holds the link's position from the replicated progress (the
   * leader's mirror saves it; a deposed leader's floor moves on with it).
   */
  private async syncFollowerFloors(): Promise<void> {
    if (this.closed) return;
    try {
      await this.d.progress.refresh();
    } catch (err) {
      this.log.debug("could not re-read the mirror progress; follower floors stay", { err });
      return;
    }
    for (const topic of this.selected) {
      for (let partition = 0; partition < topic.partitions; partition++) {
        const key = `${topic.name}/${partition}`;
        if (this.closed || this.forwarders.has(key)) continue;
        const position = this.d.progress.get(this.d.config.name, topic.name, partition);
        if (position === undefined) continue;
        if (this.setFloor(topic.name, partition, position)) this.followerFloors.add(key);
      }
    }
  }

  private setFloor(topic: string, partition: number, offset: number | null): boolean {
    try {
      this.d.broker.setRetentionFloor(topic, partition, `mirror:${this.d.config.name}`, offset);
      return true;
    } catch {
      return false; // the topic is gone (or the broker closing): nothing to hold
    }
  }

  /** The edge topic was deleted: drop the forwarder and its progress (a re-created topic starts afresh). */
  private forget(key: string, topic: string, partition: number): void {
    this.forwarders.delete(key);
    this.d.progress.remove(progressKey(this.d.config.name, topic, partition)).catch((err: unknown) => {
      this.log.warn("could not remove the progress of a deleted edge topic", { topic, partition, err });
    });
  }
}

/**
 * A source partition's transactional.id at central: the same for every run
 * and every node of an edge cluster, so whoever forwards the partition next
 * fences whoever forwarded it before (README.md, "Decision").
 */
export function transactionalIdOf(
  d: Pick<MirrorLinkDeps, "config" | "sourceId">,
  topic: string,
  partition: number,
): string {
  return `eddy-mirror/${d.sourceId}/${d.config.name}/${topic}/${partition}`;
}
