/**
 * The compiled binary's client commands over --bootstrap-server against its
 * own Kafka listener (dist/eddy, so the Kafka client library must work inside
 * `bun build --compile`), and `eddy consume --group` sharing a group with kcat -G.
 */
import { describe, expect, it } from "bun:test";
import { BIN, useBinary } from "../helpers/binary.ts";

const { tmpDir, start, run } = useBinary();

function runWithStdin(args: string[], stdin: string) {
  const r = Bun.spawnSync([BIN, ...args], { stdin: Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("dist/eddy --bootstrap-server", () => {
  it("manages topics, produces and consumes, and shares a consumer group with kcat -G", async () => {
    const eddy = await start(tmpDir());
    const kafka = eddy.listeners.kafka;
    expect(kafka).toMatch(/^127\.0\.0\.1:\d+$/);
    const bs = ["--bootstrap-server", kafka!];

    const created = run(["topics", "--create", "--topic", "e2e", "--partitions", "2", ...bs]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("Created topic e2e.\n");
    expect(run(["topics", "--list", ...bs]).stdout).toContain("e2e\n");
    const described = run(["topics", "--describe", "--topic", "e2e", ...bs]);
    expect(described.stdout).toContain("PartitionCount: 2");

    const produced = runWithStdin(["produce", "--topic", "e2e", ...bs], "a\nb\nc\nd\n");
    expect(produced.code).toBe(0);
    expect(produced.stderr).toContain("Produced 4 records");

    const all = run(["consume", "--topic", "e2e", "--from-beginning", "--max-messages", "4", ...bs]);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split("\n").sort()).toEqual(["a", "b", "c", "d"]);

    // kcat and eddy join group "shared" within the broker's initial rebalance delay: one partition each.
    const kcat = Bun.spawn(
      [
        "kcat",
        "-u",
        "-b",
        kafka!,
        "-G",
        "shared",
        "-X",
        "auto.offset.reset=earliest",
        "-f",
        "%p %s\\n",
        "e2e",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    try {
      const member = run([
        "consume",
        "--topic",
        "e2e",
        "--group",
        "shared",
        "--from-beginning",
        "--max-messages",
        "2",
        "--timeout-ms",
        "15000",
        "--property",
        "print.partition=true",
        ...bs,
      ]);
      expect(member.stderr).toBe("Processed a total of 2 messages\n");
      const mine = member.stdout
        .trim()
        .split("\n")
        .map((l) => l.replace("Partition:", "").split("\t"));
      expect(new Set(mine.map((r) => r[0])).size).toBe(1);
      const theirs = mine[0]![0] === "0" ? "1" : "0";
      // kcat reads the other partition.
      let kcatOut = "";
      const reader = kcat.stdout.getReader();
      const deadline = Date.now() + 10_000;
      while (kcatOut.trim().split("\n").length < 2 && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        kcatOut += new TextDecoder().decode(value);
      }
      const lines = kcatOut.trim().split("\n");
      expect(lines.every((l) => l.startsWith(`${theirs} `))).toBe(true);
      const values = [...mine.map((r) => r[1]), ...lines.map((l) => l.split(" ")[1])];
      expect(values.sort()).toEqual(["a", "b", "c", "d"]);
    } finally {
      kcat.kill();
      await kcat.exited;
    }

    const groups = run(["groups", "--describe", "--group", "shared", ...bs]);
    expect(groups.code).toBe(0);
    expect(groups.stdout).toMatch(/shared\s+e2e\s+\d\s+2\s+2\s+0/);

    const dead = run(["topics", "--list", "--bootstrap-server", "127.0.0.1:1"]);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain("no Kafka broker answers at 127.0.0.1:1");
  }, 60_000);
});
