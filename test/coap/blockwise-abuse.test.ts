import { afterEach, describe, expect, it } from "bun:test";
import {
  Code,
  codeString,
  type CoapMessage,
  MessageType,
  OptionNumber,
} from "../../bridges/coap/codec/constants.ts";
import {
  decodeBlock,
  encodeBlock,
  getOption,
  getUintOption,
  stringOption,
} from "../../bridges/coap/codec/options.ts";
import type { CoapListenerOptions } from "../../bridges/coap/index.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));
const block = (n: number, num: number, more: boolean, szx: number) => ({
  number: n,
  value: encodeBlock({ num, more, szx }),
});

let h: CoapHarness | undefined;
let c: TestClient | undefined;

async function start(opts: Partial<CoapListenerOptions> = {}): Promise<{ h: CoapHarness; c: TestClient }> {
  h = await createCoapHarness(opts);
  c = await createTestClient(h.listener.port);
  await h.broker.createTopic({ name: "big", partitions: 1 });
  return { h, c };
}

afterEach(async () => {
  c?.close();
  await h?.close();
  c = undefined;
  h = undefined;
});

function bigValue(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7) & 0xff;
  return out;
}

describe("block-wise transfers (RFC 7959)", () => {
  it("Block1: a 2500-byte publish in 1024-byte blocks gets 2.31, 2.31, then 2.01 (first data) after the append", async () => {
    const { h, c } = await start();
    const value = bigValue(2500);
    const codes: string[] = [];
    let last: CoapMessage | undefined;
    for (let num = 0; num * 1024 < value.length; num++) {
      const more = (num + 1) * 1024 < value.length;
      last = await c.request({
        code: Code.PUT,
        options: [...path("ps", "data", "big"), block(OptionNumber.BLOCK1, num, more, 6)],
        payload: value.slice(num * 1024, (num + 1) * 1024),
      });
      codes.push(codeString(last.code));
      expect(decodeBlock(getOption(last, OptionNumber.BLOCK1)!.value)).toEqual({ num, more, szx: 6 });
    }
    expect(codes).toEqual(["2.31", "2.31", "2.01"]);
    const read = await h.broker.readRecords({ topic: "big", partition: 0, offset: 0 });
    expect(read.records).toHaveLength(1);
    expect(read.records[0]!.value).toEqual(value);
  });

  it("Block1: a gap gets 4.08, a body over the limit 4.13 with Size1", async () => {
    const { c } = await start({ maxBodyBytes: 2048 });
    const gap = await c.request({
      code: Code.PUT,
      options: [...path("ps", "data", "big"), block(OptionNumber.BLOCK1, 1, true, 6)],
      payload: bigValue(1024),
    });
    expect(codeString(gap.code)).toBe("4.08");
    let res: CoapMessage | undefined;
    for (let num = 0; num < 3; num++) {
      res = await c.request({
        code: Code.PUT,
        options: [...path("ps", "data", "big"), block(OptionNumber.BLOCK1, num, true, 6)],
        payload: bigValue(1024),
      });
    }
    expect(codeString(res!.code)).toBe("4.13");
    expect(getUintOption(res!, OptionNumber.SIZE1)).toBe(2048);
  });

  it("Block2: a large latest value is served in blocks with Size2 and a stable ETag", async () => {
    const { h, c } = await start({ maxBlockSzx: 5 }); // 512-byte blocks
    const value = bigValue(1300);
    await h.broker.produce({ topic: "big", records: [{ value }], acks: -1 });
    const parts: Uint8Array[] = [];
    let etag: string | undefined;
    for (let num = 0; ; num++) {
      const opts = [...path("ps", "data", "big")];
      if (num > 0) opts.push(block(OptionNumber.BLOCK2, num, false, 5));
      const res = await c.request({ code: Code.GET, options: opts });
      expect(codeString(res.code)).toBe("2.05");
      const b = decodeBlock(getOption(res, OptionNumber.BLOCK2)!.value)!;
      expect(b.num).toBe(num);
      if (num === 0) expect(getUintOption(res, OptionNumber.SIZE2)).toBe(1300);
      const tag = Buffer.from(getOption(res, OptionNumber.ETAG)!.value).toString("hex");
      etag ??= tag;
      expect(tag).toBe(etag);
      parts.push(res.payload);
      if (!b.more) break;
    }
    expect(parts.map((p) => p.length)).toEqual([512, 512, 276]);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(value));
    // A client may ask for smaller blocks.
    const small = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "big"), block(OptionNumber.BLOCK2, 2, false, 2)],
    });
    expect(small.payload).toEqual(value.slice(128, 192));
    const beyond = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "big"), block(OptionNumber.BLOCK2, 9, false, 6)],
    });
    expect(codeString(beyond.code)).toBe("4.02");
  });
});

describe("abuse controls", () => {
  it("Echo (RFC 9175): no large response to an unverified source; repeating the Echo value verifies it", async () => {
    const { h, c } = await start({ echo: {} });
    await h.broker.produce({ topic: "big", records: [{ value: bigValue(600) }], acks: -1 });
    const first = await c.request({ code: Code.GET, options: path("ps", "data", "big") });
    expect(codeString(first.code)).toBe("4.01");
    const echo = getOption(first, OptionNumber.ECHO)!;
    expect(echo.value.length).toBe(8);
    const forged = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "big"), { number: OptionNumber.ECHO, value: new Uint8Array(8) }],
    });
    expect(codeString(forged.code)).toBe("4.01");
    const second = await c.request({ code: Code.GET, options: [...path("ps", "data", "big"), echo] });
    expect(codeString(second.code)).toBe("2.05");
    expect(second.payload.length).toBe(600);
    // Verified for a while: no Echo needed any more.
    const third = await c.request({ code: Code.GET, options: path("ps", "data", "big") });
    expect(codeString(third.code)).toBe("2.05");
    // Small responses never need it.
    const other = await createTestClient(h.listener.port);
    const small = await other.request({ code: Code.GET, options: path("ps", "nope", "x") });
    expect(codeString(small.code)).toBe("4.04");
    other.close();
  });

  it("per-source rate limit answers 4.29 with Max-Age", async () => {
    const { c } = await start({ rateLimit: { ratePerSecond: 0.5, burst: 3 } });
    const codes: string[] = [];
    let limited: CoapMessage | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await c.request({ code: Code.GET, options: path(".well-known", "core") });
      codes.push(codeString(res.code));
      if (res.code === Code.TOO_MANY_REQUESTS) limited = res;
    }
    expect(codes).toEqual(["2.05", "2.05", "2.05", "4.29", "4.29"]);
    expect(getUintOption(limited!, OptionNumber.MAX_AGE)).toBeGreaterThanOrEqual(1);
  });

  it("oversized datagrams are dropped; large non-block bodies get 4.13", async () => {
    const { c } = await start({ maxDatagramBytes: 600, maxBodyBytes: 256 });
    const tooBig = await c.request({
      code: Code.PUT,
      options: path("ps", "data", "big"),
      payload: bigValue(400),
    });
    expect(codeString(tooBig.code)).toBe("4.13");
    expect(getUintOption(tooBig, OptionNumber.SIZE1)).toBe(256);
    const lost = c.request(
      { code: Code.PUT, type: MessageType.NON, options: path("ps", "data", "big"), payload: bigValue(700) },
      300,
    );
    await expect(lost).rejects.toThrow("timed out");
  });
});
