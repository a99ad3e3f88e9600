/**
 * A shared subscription `$share/{ShareName}/{filter}` (MQTT 5.0 section
 * 4.8.2): one log follower for the group; each matching record goes to one
 * member, chosen round-robin among members that can take it now. A delivery
 * not acknowledged when its member's session ends goes back to the group and
 * is offered to another member (section 4.8.2, a SHOULD). While no member can
 * take a message, the group's cursor waits in the log.
 */
import { type Cursor, type FollowerConsumer, LogFollower, type OfferResult } from "./log-follower.ts";
import type { MqttMessage } from "./message.ts";
import type { Session, Subscription } from "./session.ts";
import { topicMatches } from "./topic-filter.ts";

export const groupKey = (group: string, filter: string): string => `${group}/${filter}`;

export class SharedGroup implements FollowerConsumer {
  readonly members = new Map<Session, Subscription>();
  readonly follower: LogFollower;
  private turn = 0;
  dirty = false;

  constructor(
    readonly group: string,
    readonly filter: string,
    deps: ConstructorParameters<typeof LogFollower>[0],
  ) {
    this.follower = new LogFollower(deps, this);
  }

  get key(): string {
    return groupKey(this.group, this.filter);
  }

  canReceive(): boolean {
    for (const member of this.members.keys()) if (member.canAccept(0)) return true;
    return false;
  }

  offer(msg: MqttMessage, offset: number, cursor: Cursor): OfferResult {
    if (!topicMatches(this.filter, msg.topic)) return "skip";
    // Still in flight with another member after a rewind: do not deliver it twice.
    if (cursor.outstanding.has(offset)) return "skip";
    const members = [...this.members];
    let readers = 0; // members the ACL lets read this topic: none = skip it, not wait for room
    for (let i = 0; i < members.length; i++) {
      const [session, sub] = members[(this.turn + i) % members.length]!;
      if (session.readCheck !== null && !session.readCheck(msg.topic)) continue;
      readers++;
      const qos = Math.min(msg.qos, sub.qos) as 0 | 1 | 2;
      if (!session.canAccept(qos)) continue;
      this.turn = (this.turn + i + 1) % members.length;
      const result = session.deliver(msg, [sub], {
        retain: msg.retain && sub.retainAsPublished,
        source: { cursor, offset, group: this },
      });
      if (result !== "full") return result;
    }
    return readers === 0 ? "skip" : "full";
  }

  /** A member finished (requeue=false) or abandoned (requeue=true) a delivery. */
  release(cursor: Cursor, offset: number, requeue: boolean): void {
    cursor.outstanding.delete(offset);
    if (requeue && offset < cursor.next) cursor.next = offset;
    this.dirty = true;
    this.follower.wake();
  }
}
