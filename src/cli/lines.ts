/** Split a byte/text stream into lines (\n or \r\n), stopping early when a signal aborts. */

export async function* readLines(
  input: AsyncIterable<Uint8Array | string>,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  const it = input[Symbol.asyncIterator]();
  const aborted = new Promise<null>((resolve) => {
    if (signal?.aborted) resolve(null);
    signal?.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    while (true) {
      const next = await Promise.race([it.next(), aborted]);
      if (next === null || next.done) break;
      const chunk = next.value;
      pending += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      let start = 0;
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        const line = pending.slice(start, nl);
        yield line.endsWith("\r") ? line.slice(0, -1) : line;
        start = nl + 1;
        nl = pending.indexOf("\n", start);
      }
      pending = pending.slice(start);
    }
    pending += decoder.decode();
    if (pending.length > 0 && !signal?.aborted) yield pending.endsWith("\r") ? pending.slice(0, -1) : pending;
  } finally {
    // Do not wait: a pending stdin read may never settle.
    void it.return?.();
  }
}
