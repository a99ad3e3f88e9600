/**
 * kcat's balanced consumer (-G, librdkafka's consumer-group protocol) against
 * the compiled binary: a group consumes part of a topic, commits on exit, and
 * a second run of the same group resumes where the first stopped.
 */
import { describe, expect, it } from "bun:test";
import { api, useBinary } from "../helpers/binary.ts";

const bin = useBinary();

function kcat(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(["kcat", ...args], {
    stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("kcat -G against dist/eddy", () => {
  it("consumes in a group and resumes from the committed offset", async () => {
    const node = await bin.start(bin.tmpDir());
    const broker = node.listeners.kafka as string;
    const produced = kcat(
      ["-P", "-b", broker, "-t", "kt"],
      `${Array.from({ length: 10 }, (_, i) => `m${i}`).join("\n")}\n`,
    );
    expect(produced.code).toBe(0);

    const consume = (count: number) =>
      kcat([
        "-C",
        "-G",
        "g1",
        "-b",
        broker,
        "-c",
        String(count),
        "-f",
        "%s\\n",
        "-X",
        "auto.offset.reset=earliest",
        "kt",
      ]);
    const first = consume(6);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split("\n")).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    const second = consume(4);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split("\n")).toEqual(["m6", "m7", "m8", "m9"]);

    const group = await api<{ partitions: Array<{ committedOffset: number }> }>(`${node.url}/v1/groups/g1`);
    expect(group.status).toBe(200);
    expect(group.body.partitions.map((p) => p.committedOffset)).toEqual([10]);
  }, 120_000);
});
