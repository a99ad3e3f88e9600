/**
 * An error's text for link status and logs. The Kafka client wraps the real
 * reason in layers ("metadata failed 2 times" → "Cannot connect to any
 * broker" → "SASL authentication failed." / "self signed certificate"); the
 * status names the outer message and the distinct innermost reasons.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const leaves = new Set<string>();
  collectLeaves(err, leaves, 0);
  leaves.delete(err.message);
  return leaves.size === 0 ? err.message : `${err.message}: ${[...leaves].join("; ")}`;
}

function collectLeaves(err: unknown, out: Set<string>, depth: number): void {
  const e = err as { message?: unknown; errors?: unknown; cause?: unknown };
  const children = [
    ...(Array.isArray(e.errors) ? e.errors : []),
    ...(e.cause === undefined ? [] : [e.cause]),
  ];
  if (children.length === 0 || depth >= 8) {
    out.add(typeof e.message === "string" ? e.message : String(err));
    return;
  }
  for (const c of children) collectLeaves(c, out, depth + 1);
}

/** Central's error ids (Kafka error names) that mean another producer took over our transactional.id. */
const FENCED_IDS = new Set(["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"]);

/**
 * Whether a client error (or any error it wraps) says this producer was
 * fenced: a newer holder of its transactional.id initialised it.
 */
export function isFencedError(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== "object" || depth >= 8) return false;
  const e = err as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.apiId === "string" && FENCED_IDS.has(e.apiId)) return true;
  const children = [
    ...(Array.isArray(e.errors) ? e.errors : []),
    ...(e.cause === undefined ? [] : [e.cause]),
  ];
  return children.some((c) => isFencedError(c, depth + 1));
}
