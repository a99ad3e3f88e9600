/** A real broker on a memory log store and in-memory metadata, silent, with housekeeping off (for listener harnesses). */
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export async function createMemoryBroker(opts: { autoCreateTopics?: boolean } = {}): Promise<Broker> {
  const metadata = await openMetadataStore({ path: ":memory:" });
  return createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: opts.autoCreateTopics ?? true },
  });
}
