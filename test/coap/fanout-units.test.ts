import { describe, expect, it } from "bun:test";
import { Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { decodeMessage } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { encodeBlock, getUintOption, uintOption } from "../../bridges/coap/codec/options.ts";
import { encodeFromTemplate, makeTemplate } from "../../bridges/coap/codec/template.ts";
import { Outbox } from "../../bridges/coap/outbox.ts";

describe("notification templates", () => {
  const cases = [
    { name: "no options", options: [], payload: new Uint8Array(0) },
    {
      name: "ETag before Observe, Content-Format and Block2 after",
      options: [
        { number: OptionNumber.ETAG, value: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
        uintOption(OptionNumber.CONTENT_FORMAT, 50),
        { number: OptionNumber.BLOCK2, value: encodeBlock({ num: 0, more: true, szx: 2 }) },
        uintOption(OptionNumber.SIZE2, 5000),
      ],
      payload: new Uint8Array(64).fill(9),
    },
    {
      name: "only an option after",
      options: [uintOption(OptionNumber.CONTENT_FORMAT, 0)],
      payload: Uint8Array.of(1),
    },
  ];
  for (const c of cases) {
    it(`patches token, id and Observe into the same bytes encodeMessage makes (${c.name})`, () => {
      const t = makeTemplate(Code.CONTENT, c.options, c.payload);
      for (const seq of [0, 1, 255, 256, 65_535, 65_536, 0xffffff]) {
        for (const token of [new Uint8Array(0), Uint8Array.of(7), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)]) {
          for (const type of [MessageType.NON, MessageType.CON]) {
            const expected = encodeMessage({
              type,
              code: Code.CONTENT,
              messageId: 0xbeef,
              token,
              options: [...c.options, uintOption(OptionNumber.OBSERVE, seq)],
              payload: c.payload,
            });
            const got = encodeFromTemplate(t, type, 0xbeef, token, seq);
            expect(got).toEqual(expected);
            expect(getUintOption(decodeMessage(got), OptionNumber.OBSERVE)).toBe(seq);
          }
        }
      }
    });
  }
});

describe("Outbox", () => {
  it("sends a turn's datagrams in order, one chunk per turn, and waits for drain when the kernel refuses", () => {
    const turns: Array<() => void> = [];
    const calls: number[][] = [];
    let accept = Number.POSITIVE_INFINITY;
    const dropped: number[] = [];
    const out = new Outbox({
      chunk: 2,
      maxQueued: 6,
      defer: (fn) => turns.push(fn),
      retry: () => {},
      onDrop: (n) => dropped.push(n),
      sendMany(packets) {
        const n = Math.min(accept, packets.length / 3);
        calls.push(
          packets
            .filter((_, i) => i % 3 === 0)
            .map((b) => (b as Uint8Array)[0]!)
            .slice(0, n),
        );
        return n;
      },
    });
    for (let i = 0; i < 7; i++) out.send("127.0.0.1", 5683, Uint8Array.of(i));
    expect(dropped).toEqual([1]); // the 7th: the queue holds 6
    expect(turns.length).toBe(1);
    turns.shift()!();
    expect(calls).toEqual([[0, 1]]);
    accept = 1;
    turns.shift()!();
    expect(calls.at(-1)).toEqual([2]);
    expect(out.queued).toBe(3);
    expect(turns.length).toBe(0); // blocked: nothing scheduled until drain
    accept = Number.POSITIVE_INFINITY;
    out.drain();
    expect(calls.at(-1)).toEqual([3, 4]);
    turns.shift()!();
    expect(calls.at(-1)).toEqual([5]);
    expect(out.queued).toBe(0);
  });
});
