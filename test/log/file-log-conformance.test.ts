/** The shared PartitionLog conformance suite against the file store (with restarts). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { runLogConformance } from "./conformance.ts";

runLogConformance("file", async (clock) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-conf-"));
  const make = () => createFileLogStore({ dataDir, clock, logger: silentLogger });
  return {
    store: make(),
    reopen: async () => make(),
    cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
});
