import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { createHarness, expectError, type Harness } from "./harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

describe("topics API", () => {
  it("creates, lists, describes and deletes a topic", async () => {
    const created = await h.json("POST", "/v1/topics", {
      name: "orders",
      partitions: 3,
      configs: { "retention.ms": 60000 },
    });
    expect(created.status).toBe(201);
    const desc = (await created.json()) as {
      name: string;
      partitions: unknown[];
      overrides: Record<string, string>;
    };
    expect(desc.name).toBe("orders");
    expect(desc.partitions).toHaveLength(3);
    expect(desc.overrides["retention.ms"]).toBe("60000");

    const list = (await (await h.app.request("/v1/topics")).json()) as {
      topics: Array<{ name: string; partitions: number }>;
    };
    expect(list.topics.map((t) => [t.name, t.partitions])).toEqual([["orders", 3]]);

    const got = await h.app.request("/v1/topics/orders");
    expect(got.status).toBe(200);
    const d = (await got.json()) as {
      partitions: Array<{
        partition: number;
        logEndOffset: number;
        sizeBytes: number;
        highWatermark: number;
      }>;
    };
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(d.partitions[0]).toMatchObject({ logEndOffset: 0, highWatermark: 0, sizeBytes: 0 });

    const del = await h.app.request("/v1/topics/orders", { method: "DELETE" });
    expect(del.status).toBe(204);
    await expectError(await h.app.request("/v1/topics/orders"), 404, "TOPIC_NOT_FOUND");
    await expectError(await h.app.request("/v1/topics/orders", { method: "DELETE" }), 404, "TOPIC_NOT_FOUND");
  });

  it("validateOnly creates nothing", async () => {
    const res = await h.json("POST", "/v1/topics", { name: "dry", validateOnly: true });
    expect(res.status).toBe(200);
    await expectError(await h.app.request("/v1/topics/dry"), 404, "TOPIC_NOT_FOUND");
  });

  it("rejects invalid names, duplicates, unknown fields and bad configs", async () => {
    const bad = await expectError(
      await h.json("POST", "/v1/topics", { name: "bad name!" }),
      400,
      "INVALID_TOPIC",
    );
    expect(bad.error.message).toContain("illegal characters");
    expect(bad.error.retriable).toBe(false);
    await h.json("POST", "/v1/topics", { name: "t" });
    await expectError(await h.json("POST", "/v1/topics", { name: "t" }), 409, "TOPIC_EXISTS");
    const unknown = await expectError(
      await h.json("POST", "/v1/topics", { name: "x", partitons: 2 }),
      400,
      "INVALID_REQUEST",
    );
    expect(unknown.error.message).toContain("partitons");
    const zero = await expectError(
      await h.json("POST", "/v1/topics", { name: "x", partitions: 0 }),
      400,
      "INVALID_REQUEST",
    );
    expect(zero.error.message).toContain("body.partitions");
    expect(zero.error.details?.issues).toEqual([{ field: "body.partitions", message: expect.any(String) }]);
    await expectError(
      await h.json("POST", "/v1/topics", { name: "x", configs: { "no.such.key": 1 } }),
      400,
      "INVALID_CONFIG",
    );
    await expectError(await h.json("POST", "/v1/topics", { name: 42 }), 400, "INVALID_REQUEST");
  });

  it("rejects a body that is not JSON", async () => {
    const res = await h.app.request("/v1/topics", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name": "t",',
    });
    const body = await expectError(res, 400, "INVALID_REQUEST");
    expect(body.error.message).toContain("not valid JSON");
    await expectError(await h.app.request("/v1/topics", { method: "POST" }), 400, "INVALID_REQUEST");
  });

  it("reads, sets and resets configs", async () => {
    await h.json("POST", "/v1/topics", { name: "c" });
    const before = (await (await h.app.request("/v1/topics/c/configs")).json()) as {
      topic: string;
      configs: Record<string, unknown>;
      overrides: Record<string, string>;
    };
    expect(before.topic).toBe("c");
    expect(before.configs["cleanup.policy"]).toBe("delete");
    expect(before.overrides).toEqual({});

    const set = await h.json("PATCH", "/v1/topics/c/configs", {
      set: { "cleanup.policy": "compact", "retention.ms": 1000 },
    });
    expect(set.status).toBe(200);
    const after = (await set.json()) as {
      configs: Record<string, unknown>;
      overrides: Record<string, string>;
    };
    expect(after.configs["cleanup.policy"]).toBe("compact");
    expect(after.overrides).toEqual({ "cleanup.policy": "compact", "retention.ms": "1000" });

    const reset = (await (
      await h.json("PATCH", "/v1/topics/c/configs", { reset: ["cleanup.policy"] })
    ).json()) as {
      overrides: Record<string, string>;
    };
    expect(reset.overrides).toEqual({ "retention.ms": "1000" });

    await expectError(await h.json("PATCH", "/v1/topics/c/configs", {}), 400, "INVALID_REQUEST");
    await expectError(
      await h.json("PATCH", "/v1/topics/c/configs", { set: { "retention.ms": 1 }, reset: ["retention.ms"] }),
      400,
      "INVALID_REQUEST",
    );
    await expectError(
      await h.json("PATCH", "/v1/topics/c/configs", { set: { durability: "maybe" } }),
      400,
      "INVALID_CONFIG",
    );
    await expectError(
      await h.json("PATCH", "/v1/topics/nope/configs", { set: { "retention.ms": 1 } }),
      404,
      "TOPIC_NOT_FOUND",
    );
  });

  it("grows partitions and refuses to shrink", async () => {
    await h.json("POST", "/v1/topics", { name: "g", partitions: 1 });
    const res = await h.json("POST", "/v1/topics/g/partitions", { count: 4 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { partitions: unknown[] }).partitions).toHaveLength(4);
    await expectError(
      await h.json("POST", "/v1/topics/g/partitions", { count: 2 }),
      400,
      "INVALID_PARTITIONS",
    );
    await expectError(
      await h.json("POST", "/v1/topics/g/partitions", { count: "many" }),
      400,
      "INVALID_REQUEST",
    );
  });

  it("lists offsets and deletes records", async () => {
    await h.json("POST", "/v1/topics", { name: "o" });
    const produced = await h.json("POST", "/v1/topics/o/records", {
      records: [
        { value: 1, timestamp: 1000 },
        { value: 2, timestamp: 2000 },
        { value: 3, timestamp: 3000 },
      ],
    });
    expect(produced.status).toBe(200);
    const at = async (q: string) =>
      (await (await h.app.request(`/v1/topics/o/partitions/0/offsets?at=${q}`)).json()) as {
        offset: number;
        timestamp: number;
      };
    expect((await at("earliest")).offset).toBe(0);
    expect((await at("latest")).offset).toBe(3);
    expect((await at("1500")).offset).toBe(1);
    expect(await at("max-timestamp")).toMatchObject({ offset: 2, timestamp: 3000 });
    expect((await (await h.app.request("/v1/topics/o/partitions/0/offsets")).json()) as object).toMatchObject(
      {
        offset: 3,
      },
    );
    await expectError(
      await h.app.request("/v1/topics/o/partitions/0/offsets?at=soon"),
      400,
      "INVALID_REQUEST",
    );
    await expectError(await h.app.request("/v1/topics/o/partitions/x/offsets"), 400, "INVALID_REQUEST");
    await expectError(await h.app.request("/v1/topics/o/partitions/7/offsets"), 404, "PARTITION_NOT_FOUND");

    const del = await h.json("POST", "/v1/topics/o/partitions/0/delete-records", { beforeOffset: 2 });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ topic: "o", partition: 0, lowWatermark: 2 });
    expect((await at("earliest")).offset).toBe(2);
    await expectError(
      await h.json("POST", "/v1/topics/o/partitions/0/delete-records", { beforeOffset: -1 }),
      400,
      "INVALID_REQUEST",
    );
  });
});
