/** kill -9 of an edge process while it drains a backlog: after restarts, central has every record exactly once, in order. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { waitFor } from "./helpers.ts";

const CHILD = path.join(import.meta.dir, "edge-child.ts");
const RECORDS = 600;

let central: CentralEddy;
let dir: string;
beforeAll(async () => {
  central = await startCentralEddy();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-kill9-"));
});
afterAll(async () => {
  await central?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Sample {
  mirrored: number[];
  hw: number[];
}

/** Start the child edge; `until` sees each status sample and says when to stop waiting. */
async function runChild(until: (s: Sample) => boolean): Promise<{ proc: Bun.Subprocess; last: Sample }> {
  const proc = Bun.spawn([process.execPath, CHILD, dir, central.bootstrap, String(RECORDS)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buffered = "";
  const deadline = performance.now() + 20_000;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`edge child exited early (code ${await proc.exited})`);
    buffered += dec.decode(value, { stream: true });
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const sample = JSON.parse(buffered.slice(0, nl)) as Sample;
      buffered = buffered.slice(nl + 1);
      if (until(sample)) {
        reader.releaseLock();
        return { proc, last: sample };
      }
      nl = buffered.indexOf("\n");
    }
    if (performance.now() > deadline) throw new Error("edge child made no progress");
  }
}

const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("kill -9 while draining", () => {
  it("ends with every record at central exactly once, in partition order", async () => {
    // Kill twice mid-drain, at different depths.
    for (const fraction of [0.25, 0.6]) {
      const { proc } = await runChild((s) => total(s.mirrored) >= fraction * 2 * RECORDS);
      proc.kill("SIGKILL");
      await proc.exited;
      const partial = total(
        await Promise.all([0, 1].map(async (p) => (await central.records("gw.drain", p)).length)),
      );
      expect(partial).toBeLessThan(2 * RECORDS);
    }
    const { proc } = await runChild((s) => total(s.mirrored) === 2 * RECORDS);
    proc.kill("SIGKILL");
    await proc.exited;
    for (const p of [0, 1]) {
      const got = await waitFor(`partition ${p} complete`, async () => {
        const r = await central.records("gw.drain", p);
        return r.length >= RECORDS ? r : undefined;
      });
      expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(
        Array.from({ length: RECORDS }, (_, i) => String(i)),
      );
      expect(valuesOf(got)).toEqual(Array.from({ length: RECORDS }, (_, i) => `p${p}-${i}`));
    }
  }, 30_000);
});
