/**
 * KafkaConnection keeps views of received socket chunks (request frames, record
 * batches) after the data callback returns, without copying them. That is only
 * safe because Bun gives every `data` callback a fresh buffer and never writes
 * into it again: this test pins that behaviour, so a Bun upgrade that starts
 * reusing receive buffers fails here instead of corrupting produced batches.
 */
import { expect, it } from "bun:test";

it("Bun hands each socket data callback its own buffer and never reuses it", async () => {
  const chunks: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  const server = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_s, chunk) {
        chunks.push(chunk);
        copies.push(new Uint8Array(chunk));
      },
    },
  });
  const client = await Bun.connect<undefined>({
    hostname: "127.0.0.1",
    port: server.port,
    socket: { data() {} },
  });
  try {
    const total = 40 * 65536;
    for (let i = 0; i < 40; i++) {
      const block = new Uint8Array(65536).fill(i + 1);
      let at = 0;
      while (at < block.length) {
        const n = client.write(block, at, block.length - at);
        if (n < 0) throw new Error("socket closed");
        at += n;
        if (at < block.length) await Bun.sleep(1);
      }
      await Bun.sleep(0);
    }
    const deadline = Date.now() + 5000;
    while (chunks.reduce((n, c) => n + c.length, 0) < total && Date.now() < deadline) await Bun.sleep(5);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(total);
    expect(chunks.length).toBeGreaterThan(1);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
    for (let i = 0; i < chunks.length; i++) expect(chunks[i]!).toEqual(copies[i]!);
  } finally {
    client.end();
    server.stop(true);
  }
});
