import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { createHarness, expectError, type Harness } from "./harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
  await h.json("POST", "/v1/topics", { name: "t", partitions: 2 });
});
afterEach(async () => {
  await h.close();
});

interface ReadJson {
  records: Array<{
    offset: number;
    timestamp: number;
    key: unknown;
    value: unknown;
    headers: Array<{ key: string; value: string | null }>;
  }>;
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}
const read = async (path: string): Promise<ReadJson> => {
  const res = await h.app.request(path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ReadJson;
};

describe("produce and consume JSON", () => {
  it("round-trips JSON values, string keys, both header forms and timestamps", async () => {
    const res = await h.json("POST", "/v1/topics/t/records", {
      partition: 1,
      records: [
        {
          key: "device-1",
          value: { temp: 21.5, ok: true },
          headers: { source: "gw", empty: null },
          timestamp: 1234,
        },
        {
          value: [1, "two"],
          headers: [
            { key: "h", value: "1" },
            { key: "h", value: "2" },
          ],
        },
        { key: "k", value: null },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      topic: "t",
      records: [
        { partition: 1, offset: 0 },
        { partition: 1, offset: 1 },
        { partition: 1, offset: 2 },
      ],
    });
    const got = await read("/v1/topics/t/partitions/1/records?offset=0");
    expect(got.nextOffset).toBe(3);
    expect(got.highWatermark).toBe(3);
    expect(got.records[0]).toEqual({
      offset: 0,
      timestamp: 1234,
      key: "device-1",
      value: { temp: 21.5, ok: true },
      headers: [
        { key: "source", value: "gw" },
        { key: "empty", value: null },
      ],
    });
    expect(got.records[1]?.key).toBeNull();
    expect(got.records[1]?.value).toEqual([1, "two"]);
    expect(got.records[1]?.headers).toEqual([
      { key: "h", value: "1" },
      { key: "h", value: "2" },
    ]);
    expect(got.records[2]?.value).toBeNull();

    // JSON values are stored as their JSON text: read them back as strings.
    const asText = await read("/v1/topics/t/partitions/1/records?offset=0&maxRecords=1&valueEncoding=string");
    expect(asText.records.map((r) => r.value)).toEqual(['{"temp":21.5,"ok":true}']);
    expect(asText.nextOffset).toBe(1);
  });

  it("places records by key like a Kafka client and per-record partitions in order", async () => {
    const keyed = await h.json("POST", "/v1/topics/t/records", {
      records: [
        { key: "a", value: 1 },
        { key: "a", value: 2 },
        { value: 3, partition: 0 },
        { value: 4, partition: 1 },
      ],
    });
    const body = (await keyed.json()) as { records: Array<{ partition: number; offset: number }> };
    const p = await h.broker.partitionForKey("t", new TextEncoder().encode("a"));
    expect(body.records[0]?.partition).toBe(p);
    expect(body.records[1]).toEqual({ partition: p, offset: (body.records[0]?.offset ?? -9) + 1 });
    expect(body.records[2]?.partition).toBe(0);
    expect(body.records[3]?.partition).toBe(1);
  });

  it("round-trips string and base64 encodings", async () => {
    const bytes = new Uint8Array([0, 255, 1, 128, 10]);
    const b64 = Buffer.from(bytes).toString("base64");
    await h.json("POST", "/v1/topics/t/records", {
      keyEncoding: "base64",
      valueEncoding: "base64",
      headerEncoding: "base64",
      partition: 0,
      records: [{ key: b64, value: b64, headers: { bin: b64 } }],
    });
    await h.json("POST", "/v1/topics/t/records", {
      valueEncoding: "string",
      partition: 0,
      records: [{ value: "plain text ✓" }],
    });
    const got = await read(
      "/v1/topics/t/partitions/0/records?valueEncoding=base64&keyEncoding=base64&headerEncoding=base64",
    );
    expect(got.records[0]).toMatchObject({ key: b64, value: b64, headers: [{ key: "bin", value: b64 }] });
    expect(Buffer.from(got.records[1]?.value as string, "base64").toString("utf8")).toBe("plain text ✓");
    const text = await read("/v1/topics/t/partitions/0/records?offset=1&valueEncoding=string");
    expect(text.records[0]?.value).toBe("plain text ✓");
    // A binary value is not JSON: the default json decoding says how to read it.
    const res = await h.app.request("/v1/topics/t/partitions/0/records?offset=0&keyEncoding=base64");
    const err = await expectError(res, 400, "UNSUPPORTED_FORMAT");
    expect(err.error.message).toContain("offset 0");
    expect(err.error.message).toContain("not UTF-8 text: read it with valueEncoding=base64");
    const notJson = await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records?offset=1"),
      400,
      "UNSUPPORTED_FORMAT",
    );
    expect(notJson.error.message).toContain(
      "offset 1 is not JSON: read it with valueEncoding=string or valueEncoding=base64",
    );
    const keyErr = await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records"),
      400,
      "UNSUPPORTED_FORMAT",
    );
    expect(keyErr.error.message).toContain("keyEncoding=base64");
  });

  it("reads from earliest, latest, an offset, with maxRecords and long-poll", async () => {
    await h.json("POST", "/v1/topics/t/records", {
      partition: 0,
      records: [1, 2, 3, 4, 5].map((v) => ({ value: v })),
    });
    expect((await read("/v1/topics/t/partitions/0/records")).records.map((r) => r.value)).toEqual([
      1, 2, 3, 4, 5,
    ]);
    const page = await read("/v1/topics/t/partitions/0/records?offset=1&maxRecords=2");
    expect(page.records.map((r) => r.offset)).toEqual([1, 2]);
    expect(page.nextOffset).toBe(3);
    const latest = await read("/v1/topics/t/partitions/0/records?offset=latest");
    expect(latest.records).toEqual([]);
    expect(latest.nextOffset).toBe(5);

    const waiting = read("/v1/topics/t/partitions/0/records?offset=5&maxWaitMs=5000");
    await Bun.sleep(20);
    await h.json("POST", "/v1/topics/t/records", { partition: 0, records: [{ value: "late" }] });
    const late = await waiting;
    expect(late.records.map((r) => r.value)).toEqual(["late"]);
  });

  it("produces with acks 0, 1 and all", async () => {
    for (const acks of [0, 1, -1, "all"]) {
      const res = await h.json("POST", "/v1/topics/t/records", {
        acks,
        partition: 0,
        records: [{ value: acks }],
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { records: Array<{ offset: number }> };
      if (acks === 0) expect(body.records[0]?.offset).toBe(-1);
      else expect(body.records[0]?.offset).toBeGreaterThanOrEqual(0);
    }
    expect((await read("/v1/topics/t/partitions/0/records")).records).toHaveLength(4);
    const bad = await expectError(
      await h.json("POST", "/v1/topics/t/records", { acks: 2, records: [{ value: 1 }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(bad.error.message).toContain("body.acks");
  });
});

describe("produce and consume binary", () => {
  it("round-trips an octet-stream value with key, partition and headers", async () => {
    const value = new Uint8Array(256).map((_, i) => i);
    const res = await h.app.request("/v1/topics/t/records?partition=1&key=dev-7", {
      method: "POST",
      headers: {
        "content-type": "application/octet-stream",
        "x-eddy-headers": JSON.stringify({ "content-type": "image/raw" }),
        "x-eddy-timestamp": "5000",
      },
      body: value,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ topic: "t", records: [{ partition: 1, offset: 0 }] });
    const got = await read("/v1/topics/t/partitions/1/records?valueEncoding=base64");
    expect(got.records[0]).toMatchObject({
      key: "dev-7",
      timestamp: 5000,
      headers: [{ key: "content-type", value: "image/raw" }],
    });
    expect(new Uint8Array(Buffer.from(got.records[0]?.value as string, "base64"))).toEqual(value);

    const viaHeader = await h.app.request("/v1/topics/t/records", {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-eddy-partition": "0", "x-eddy-key": "k" },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(((await viaHeader.json()) as { records: unknown[] }).records).toEqual([
      { partition: 0, offset: 0 },
    ]);
    const bad = await h.app.request("/v1/topics/t/records?partition=minus", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([1]),
    });
    await expectError(bad, 400, "INVALID_REQUEST");
    const badHeaders = await h.app.request("/v1/topics/t/records", {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-eddy-headers": "{nope" },
      body: new Uint8Array([1]),
    });
    await expectError(badHeaders, 400, "INVALID_REQUEST");
  });
});

describe("produce errors", () => {
  it("unknown topic is 404", async () => {
    await expectError(
      await h.json("POST", "/v1/topics/none/records", { records: [{ value: 1 }] }),
      404,
      "TOPIC_NOT_FOUND",
    );
    await expectError(await h.app.request("/v1/topics/none/partitions/0/records"), 404, "TOPIC_NOT_FOUND");
  });

  it("a record over max.message.bytes is 413 and a body over the limit is 413", async () => {
    const tooBig = await h.json("POST", "/v1/topics/t/records", {
      valueEncoding: "string",
      records: [{ value: "x".repeat(20_000) }],
    });
    expect(tooBig.status).toBe(413);
    const code = ((await tooBig.json()) as { error: { code: string } }).error.code;
    expect(["RECORD_TOO_LARGE", "BATCH_TOO_LARGE"]).toContain(code);
    const hugeBody = await h.json("POST", "/v1/topics/t/records", {
      valueEncoding: "string",
      records: [{ value: "x".repeat(100_000) }],
    });
    const err = await expectError(hugeBody, 413, "BATCH_TOO_LARGE");
    expect(err.error.details).toEqual({ limit: 64 * 1024 });
    // Nothing was written.
    expect((await read("/v1/topics/t/partitions/0/records")).records).toEqual([]);
  });

  it("bad JSON, wrong enums, missing values and bad base64 are 400 naming the field", async () => {
    const badJson = await h.app.request("/v1/topics/t/records", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{records:",
    });
    await expectError(badJson, 400, "INVALID_REQUEST");
    const wrongEnum = await expectError(
      await h.json("POST", "/v1/topics/t/records", { valueEncoding: "xml", records: [{ value: 1 }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(wrongEnum.error.message).toContain("body.valueEncoding");
    const missing = await expectError(
      await h.json("POST", "/v1/topics/t/records", { records: [{ key: "k" }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(missing.error.message).toContain("body.records[0].value");
    const empty = await expectError(
      await h.json("POST", "/v1/topics/t/records", { records: [] }),
      400,
      "INVALID_REQUEST",
    );
    expect(empty.error.message).toContain("body.records");
    const b64 = await expectError(
      await h.json("POST", "/v1/topics/t/records", { valueEncoding: "base64", records: [{ value: "%%%" }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(b64.error.message).toContain("body.records[0].value");
    const str = await expectError(
      await h.json("POST", "/v1/topics/t/records", { valueEncoding: "string", records: [{ value: 5 }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(str.error.message).toContain("body.records[0].value");
    await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records?valueEncoding=xml"),
      400,
      "INVALID_REQUEST",
    );
    await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records?maxRecords=0"),
      400,
      "INVALID_REQUEST",
    );
    await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records?offset=first"),
      400,
      "INVALID_REQUEST",
    );
    await expectError(await h.app.request("/v1/topics/t/partitions/9/records"), 404, "PARTITION_NOT_FOUND");
    const range = await expectError(
      await h.app.request("/v1/topics/t/partitions/0/records?offset=100"),
      416,
      "OFFSET_OUT_OF_RANGE",
    );
    expect(range.error.details).toMatchObject({ highWatermark: 0 });
    await expectError(
      await h.json("POST", "/v1/topics/t/records", { partition: 9, records: [{ value: 1 }] }),
      404,
      "PARTITION_NOT_FOUND",
    );
  });
});
