/**
 * Default values shared by the generated codecs: the all-zero UUID and the
 * empty byte field (struct defaults are generated as default<Struct>() and
 * isDefault<Struct>() next to each struct that needs them).
 */

/** Kafka's Uuid.ZERO_UUID in text form. */
export const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA";

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
