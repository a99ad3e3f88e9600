/**
 * A mirror link over TLS + SASL/SCRAM to a second Eddy whose Kafka listener
 * requires both (self-signed certificate made with openssl at test time):
 * the link verifies the certificate against the given CA and authenticates;
 * a wrong password or an untrusted certificate leaves the link down with the
 * reason, and nothing arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Mirror, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

let dir: string;
let central: CentralEddy;
let caPem: string;
const mirrors: Mirror[] = [];
let edge: Broker;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mirror-tls-"));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  const gen = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=central.test",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:central.test",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (gen.exitCode !== 0) throw new Error(`openssl failed: ${gen.stderr.toString()}`);
  caPem = fs.readFileSync(cert, "utf8");
  central = await startCentralEddy({
    tls: { certFile: cert, keyFile: key },
    sasl: {
      mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
      users: new Map([["edge", "s3cret,=pw"]]),
    },
  });
  edge = await createEdge();
  await edge.createTopic({ name: "alarms", partitions: 1 });
  await edge.createTopic({ name: "telemetry", partitions: 1 });
});
afterAll(async () => {
  await Promise.allSettled(mirrors.map((m) => m.close()));
  await edge?.close();
  await central?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function link(name: string, topics: string[], extra: Record<string, unknown>) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    topics,
    remote_naming: "prefix" as const,
    source_id: name,
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 3000,
    discovery_interval_ms: 100,
    ...extra,
  };
}

async function start(l: ReturnType<typeof link>): Promise<Mirror> {
  const m = await startMirror({ broker: edge, links: [l], logger: silentLogger, clock: systemClock });
  mirrors.push(m);
  return m;
}

describe("mirror over TLS and SASL/SCRAM", () => {
  it("delivers every record in order with SCRAM-SHA-256 and SCRAM-SHA-512 over verified TLS", async () => {
    await edge.produce({ topic: "alarms", partition: 0, records: values(20, 0, "a") });
    for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"]) {
      const name = mechanism.toLowerCase();
      await start(
        link(name, ["alarms"], {
          // SHA-512 also names the server (SNI and the name checked against the certificate).
          tls: mechanism === "SCRAM-SHA-512" ? { ca: caPem, server_name: "central.test" } : { ca: caPem },
          sasl: { mechanism, username: "edge", password: "s3cret,=pw" },
        }),
      );
      const got = await waitFor(`${mechanism}: 20 records at central`, async () => {
        const v = valuesOf(await central.records(`${name}.alarms`, 0));
        return v.length >= 20 ? v : undefined;
      });
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    }
  });

  it("stays down with the reason for a wrong password or an untrusted certificate", async () => {
    await edge.produce({ topic: "telemetry", partition: 0, records: values(3) });
    const wrongPassword = await start(
      link("badpw", ["telemetry"], {
        tls: { ca: caPem },
        sasl: { mechanism: "SCRAM-SHA-256", username: "edge", password: "nope" },
      }),
    );
    const untrusted = await start(
      link("badca", ["telemetry"], {
        tls: {},
        sasl: { mechanism: "SCRAM-SHA-256", username: "edge", password: "s3cret,=pw" },
      }),
    );
    const cases: Array<[Mirror, string]> = [
      [wrongPassword, "SASL authentication failed"],
      [untrusted, "self signed certificate"],
    ];
    for (const [m, reason] of cases) {
      const status = await waitFor(`the link to be down (${reason})`, () => {
        const s = m.status()[0];
        return s?.state === "down" && s.lastError !== null ? s : undefined;
      });
      expect(status.lastError?.message).toContain(reason);
      expect(status.partitions[0]?.mirroredOffset).toBe(0);
    }
    expect(await central.records("badpw.telemetry", 0)).toEqual([]);
    expect(await central.records("badca.telemetry", 0)).toEqual([]);
  });
});
