/**
 * Record bytes in the browser: the console reads keys, values and headers as
 * base64 (so any bytes survive), then shows them as JSON, text or hex.
 */

export const VIEWS = ["auto", "json", "text", "hex"];

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

export function fromBase64(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function utf8(bytes) {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** A classic hex dump: offset, 16 bytes, printable ASCII. */
export function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join("\n");
}

/**
 * Render bytes in a view. Returns { text, view } where view is what was
 * actually used ("null" for a null key/value, "hex" when text was asked for
 * but the bytes are not UTF-8, "text" when JSON was asked for but they are not JSON).
 */
export function render(bytes, view) {
  if (bytes === null) return { text: "null", view: "null" };
  if (view === "hex") return { text: hexDump(bytes), view: "hex" };
  const text = utf8(bytes);
  if (view === "text")
    return text === null ? { text: lenient.decode(bytes), view: "text" } : { text, view: "text" };
  if (text !== null) {
    try {
      return { text: JSON.stringify(JSON.parse(text), null, 2), view: "json" };
    } catch {
      return { text, view: "text" };
    }
  }
  return { text: hexDump(bytes), view: "hex" };
}

/** A short one-line form of a key or header value. */
export function short(bytes, max = 80) {
  if (bytes === null) return "null";
  const text = utf8(bytes);
  const s =
    text === null
      ? `0x${Array.from(bytes.subarray(0, 32), (b) => b.toString(16).padStart(2, "0")).join("")}`
      : text;
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
