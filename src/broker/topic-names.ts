/**
 * Topic name rules, as Kafka's (org.apache.kafka.common.internals.Topic):
 * 1..249 characters from [a-zA-Z0-9._-], not "." or "..". Names that differ
 * only by '.' versus '_' collide (their metric names would be the same), so
 * the second one is refused, as Kafka does.
 */
import { EddyError, ErrorCode } from "../errors.ts";

export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Throws INVALID_TOPIC with a message that says how to fix the name. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new EddyError(ErrorCode.INVALID_TOPIC, "topic name is empty: give a name of 1 to 249 characters");
  }
  if (name === "." || name === "..") {
    throw new EddyError(ErrorCode.INVALID_TOPIC, `topic name '${name}' is not allowed: choose another name`);
  }
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new EddyError(
      ErrorCode.INVALID_TOPIC,
      `topic name is ${name.length} characters long: the limit is ${MAX_TOPIC_NAME_LENGTH}`,
      { topic: name.slice(0, 64) },
    );
  }
  if (!LEGAL.test(name)) {
    throw new EddyError(
      ErrorCode.INVALID_TOPIC,
      `topic name '${name}' has illegal characters: use only ASCII letters, digits, '.', '_' and '-'`,
      { topic: name },
    );
  }
}

/** The key under which '.' and '_' are the same character. */
export function collisionKey(name: string): string {
  return name.replaceAll(".", "_");
}

/** Internal topics (Kafka's __consumer_offsets etc.) start with two underscores. */
export function isInternalTopic(name: string): boolean {
  return name.startsWith("__");
}
