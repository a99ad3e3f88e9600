/** Plain-text tables and number formatting for CLI output. */

export type Cell = string | number | null | undefined;

/** Left-aligned columns separated by two spaces; numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[], header: boolean) =>
    cells
      .map((c, i) => (numeric[i] && !header ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line([...headers], true), ...text.map((r) => line(r, false))].join("\n") + "\n";
}

function cellText(c: Cell): string {
  if (c === null || c === undefined) return "-";
  return String(c);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function fixed(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "0";
}
