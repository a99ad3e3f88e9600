/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka uses for
 * RecordBatch v2. Slicing-by-16/8 table implementation: pure TypeScript, no
 * native code, so it works inside `bun build --compile` on every target.
 *
 * Known vector: crc32c("123456789") === 0xE3069283.
 */

const POLY = 0x82f63b78;

/**
 * 16 tables of 256 entries, laid out back to back: T[k * 256 + b]. Tables 0-7
 * serve the byte-load loop (slicing-by-8), all 16 the word-load loop
 * (slicing-by-16).
 */
const T = new Int32Array(16 * 256);

for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!;
  for (let k = 1; k < 16; k++) {
    c = T[c & 0xff]! ^ (c >>> 8);
    T[k * 256 + n] = c;
  }
}

/**
 * Continue a CRC-32C over `buf[start, end)`. `crc` is a previous result (0 to
 * start). Returns the unsigned CRC.
 */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  let c = ~crc;
  let i = start;
  if (end - i >= 256) {
    // Four little-endian 32-bit loads per 16 bytes (DataView handles any
    // alignment): about 2.2 GB/s on Bun 1.4 here, vs ~0.8 GB/s for the
    // byte-load slicing-by-8 loop below.
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const stop16 = end - ((end - i) & 15);
    while (i < stop16) {
      const a = c ^ dv.getInt32(i, true);
      const b = dv.getInt32(i + 4, true);
      const d = dv.getInt32(i + 8, true);
      const e = dv.getInt32(i + 12, true);
      c =
        T[3840 + (a & 0xff)]! ^
        T[3584 + ((a >>> 8) & 0xff)]! ^
        T[3328 + ((a >>> 16) & 0xff)]! ^
        T[3072 + (a >>> 24)]! ^
        T[2816 + (b & 0xff)]! ^
        T[2560 + ((b >>> 8) & 0xff)]! ^
        T[2304 + ((b >>> 16) & 0xff)]! ^
        T[2048 + (b >>> 24)]! ^
        T[1792 + (d & 0xff)]! ^
        T[1536 + ((d >>> 8) & 0xff)]! ^
        T[1280 + ((d >>> 16) & 0xff)]! ^
        T[1024 + (d >>> 24)]! ^
        T[768 + (e & 0xff)]! ^
        T[512 + ((e >>> 8) & 0xff)]! ^
        T[256 + ((e >>> 16) & 0xff)]! ^
        T[e >>> 24]!;
      i += 16;
    }
  }
  const stop8 = end - ((end - i) & 7);
  // Short inputs: byte loads, 8 bytes per step (no DataView to allocate).
  while (i < stop8) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + buf[i + 4]!]! ^
      T[512 + buf[i + 5]!]! ^
      T[256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** CRC-32C of `buf[start, end)`, unsigned. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cUpdate(0, buf, start, end);
}
